# syntax=docker/dockerfile:1
# The stagehand binary (hub controller manager and member agent) on a distroless base, non-root.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tests ./tests
RUN cargo build --release --locked --bin stagehand

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/stagehand /usr/local/bin/stagehand
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/stagehand"]
CMD ["hub"]

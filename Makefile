# Stagehand developer commands. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help build crds test lint unit integration walkthroughs chart testcp up down status bench bench-10k bench-startup chaos clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

build: ## build the stagehand binary
	$(CARGO) build --release

crds: ## regenerate crds/ from the Rust types
	$(CARGO) run --quiet -- crdgen --out crds

testcp: ## build (or find in the cache) the test control plane and print its path
	@hack/testcp-build.sh

lint: ## formatting, clippy, go vet of the test control plane, hadolint of the Dockerfile
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	cd tools/testcp && go vet ./...
	$$(dirname $$(hack/python-tools.sh))/hadolint Dockerfile

unit: ## unit tests (no API server)
	$(CARGO) test --lib --bins

integration: ## integration tests against real kube-apiservers from tools/testcp
	STAGEHAND_TESTCP=$$(hack/testcp-build.sh) $(CARGO) test --test integration

walkthroughs: ## replay both seed documents with kubectl on local fleets started like `make up` (about 5 min)
	$(CARGO) test --test walkthroughs -- --nocapture

chart: ## lint, render and check the hub Helm chart (deploy/charts/stagehand) with helm-python-sdk
	$$(hack/python-tools.sh) hack/helm.py check

test: lint unit chart integration walkthroughs ## everything CI runs

up: ## start the local fleet (hub + member1..3) and leave it running
	@hack/fleet.sh up

down: ## stop the local fleet (data kept; `hack/fleet.sh down --purge` removes it)
	@hack/fleet.sh down

status: ## show the local fleet
	@hack/fleet.sh status

bench: ## fleet-scale benchmark: 100 and 1,000 simulated clusters, 100 parallel runs, a hub restart; prints a table (docs/performance.md)
	@python3 hack/bench.py

bench-10k: ## the 3-stage run over 10,000 simulated clusters (the first run only)
	@python3 hack/bench.py --scenarios single --sizes 10000 --runs 1 --timeout 3600

chaos: ## crash and fault matrix at full size (200 simulated members, real members, faults); prints the figures (docs/reliability.md)
	@hack/chaos.sh

bench-startup: ## print start-up time and memory of the local fleet's control planes
	@hack/bench.sh

clean: ## remove build output and the local fleet's data
	-hack/fleet.sh down --purge
	$(CARGO) clean

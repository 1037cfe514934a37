//! Small pieces of domain arithmetic: Go-format durations (SD-10), effective max concurrency
//! (§3.9.1), stuck-cluster lists (§3.9.2) and approval request names (SD-2).

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Parses a strategy `waitTime` (`1h30m`, `1.5m`, `90s`; units h, m, s) into milliseconds.
pub fn parse_wait_time(text: &str) -> Result<u64, String> {
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let mut total_ms: f64 = 0.0;
    let mut number = String::new();
    for ch in text.chars() {
        match ch {
            '0'..='9' | '.' => number.push(ch),
            'h' | 'm' | 's' => {
                let value: f64 = number.parse().map_err(|_| format!("invalid duration {text:?}"))?;
                let unit_ms = match ch {
                    'h' => 3_600_000.0,
                    'm' => 60_000.0,
                    _ => 1_000.0,
                };
                total_ms += value * unit_ms;
                number.clear();
            }
            _ => return Err(format!("invalid duration {text:?}: units are h, m and s")),
        }
    }
    if !number.is_empty() {
        return Err(format!("invalid duration {text:?}: missing unit"));
    }
    Ok(total_ms.round() as u64)
}

/// Formats milliseconds the way Go's `time.Duration.String` does: `1m0s`, `1h30m0s`, `1.5s`,
/// `500ms`, `0s`.
pub fn format_go_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let hours = ms / 3_600_000;
    let minutes = (ms % 3_600_000) / 60_000;
    let seconds_ms = ms % 60_000;
    let whole = seconds_ms / 1000;
    let frac = seconds_ms % 1000;
    let seconds = if frac == 0 {
        format!("{whole}s")
    } else {
        let digits = format!("{frac:03}");
        format!("{whole}.{}s", digits.trim_end_matches('0'))
    };
    match (hours, minutes) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m{seconds}"),
        (h, m) => format!("{h}h{m}m{seconds}"),
    }
}

/// Re-emits a `waitTime` in Go's canonical form; unparseable text is kept as is.
pub fn canonical_wait_time(text: &str) -> String {
    parse_wait_time(text)
        .map(format_go_duration)
        .unwrap_or_else(|_| text.to_string())
}

/// How many clusters of a stage of `clusters` may update at once: an integer as is, a percentage
/// rounded down; never less than 1.
pub fn effective_max_concurrency(value: Option<&IntOrString>, clusters: usize) -> Result<usize, String> {
    let computed = match value {
        None => 1,
        Some(IntOrString::Int(n)) => usize::try_from(*n).unwrap_or(0),
        Some(IntOrString::String(text)) => {
            let percent = text
                .strip_suffix('%')
                .and_then(|p| p.parse::<usize>().ok())
                .ok_or_else(|| {
                    format!("invalid maxConcurrency {text:?}: a string must be a percentage such as \"50%\"")
                })?;
            // Admission allows 1–100 %; a hand-made object may carry any number (issue 19 fuzzing).
            percent.saturating_mul(clusters) / 100
        }
    };
    Ok(computed.max(1))
}

/// The cluster list of the stuck message: up to three names, then `...`.
pub fn stuck_cluster_list(names: &[String]) -> String {
    if names.len() > 3 {
        format!("{}...", names[..3].join(", "))
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_times_are_rewritten_in_go_form() {
        for (given, want) in [
            ("1m", "1m0s"),
            ("90s", "1m30s"),
            ("1h30m", "1h30m0s"),
            ("5s", "5s"),
            ("1.5m", "1m30s"),
            ("1.5s", "1.5s"),
            ("2h", "2h0m0s"),
            ("0s", "0s"),
            ("0.5s", "500ms"),
        ] {
            assert_eq!(canonical_wait_time(given), want, "{given}");
        }
    }

    #[test]
    fn wait_time_without_unit_is_an_error() {
        assert!(parse_wait_time("1").is_err());
        assert!(parse_wait_time("1d").is_err());
    }

    #[test]
    fn max_concurrency_follows_the_upstream_table() {
        let int = |n| Some(IntOrString::Int(n));
        let pct = |s: &str| Some(IntOrString::String(s.into()));
        let cases: Vec<(Option<IntOrString>, usize, usize)> = vec![
            (int(3), 10, 3),
            (int(10), 10, 10),
            (int(15), 10, 15),
            (pct("50%"), 10, 5),
            (pct("10%"), 1, 1),
            (pct("33%"), 10, 3),
            (pct("100%"), 10, 10),
            (pct("25%"), 7, 1),
            (pct("70%"), 3, 2),
            (int(3), 0, 3),
            (pct("50%"), 0, 1),
            (None, 4, 1),
        ];
        for (value, clusters, want) in cases {
            assert_eq!(
                effective_max_concurrency(value.as_ref(), clusters),
                Ok(want),
                "{value:?} of {clusters}"
            );
        }
        assert!(effective_max_concurrency(pct("50").as_ref(), 10).is_err());
    }

    #[test]
    fn stuck_list_shows_three_names_then_ellipsis() {
        let names = |n: usize| (1..=n).map(|i| format!("c{i}")).collect::<Vec<_>>();
        assert_eq!(stuck_cluster_list(&names(0)), "");
        assert_eq!(stuck_cluster_list(&names(1)), "c1");
        assert_eq!(stuck_cluster_list(&names(3)), "c1, c2, c3");
        assert_eq!(stuck_cluster_list(&names(5)), "c1, c2, c3...");
    }
}

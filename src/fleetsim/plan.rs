//! Pure rules of the simulator: cluster names and labels, which clusters a failure applies to,
//! and how long a simulated apply takes.

use std::collections::BTreeMap;
use std::time::Duration;

/// The name of simulated cluster `index` (0-based): `<prefix>00001`, five digits or more, so
/// names sort in index order up to 99,999 clusters.
pub fn cluster_name(prefix: &str, index: usize) -> String {
    format!("{prefix}{:05}", index + 1)
}

/// A set of simulated clusters: named ones, or a share of the fleet.
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    /// No cluster.
    None,
    /// These clusters, by name.
    Names(Vec<String>),
    /// This percentage of the clusters (0 to 100), spread evenly over the index order.
    Percent(u32),
}

impl Selection {
    /// Parses `10%`, or a comma-separated list of names; an empty text selects nothing.
    pub fn parse(text: &str) -> Result<Selection, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Selection::None);
        }
        if let Some(percent) = text.strip_suffix('%') {
            let value: u32 = percent
                .trim()
                .parse()
                .map_err(|_| format!("{text:?} is not a percentage like 10%"))?;
            if value > 100 {
                return Err(format!("{text:?} is more than 100%"));
            }
            return Ok(Selection::Percent(value));
        }
        Ok(Selection::Names(
            text.split(',')
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect(),
        ))
    }

    /// Whether cluster `name`, number `index` of `total`, is selected. A percentage selects
    /// exactly `floor(total * percent / 100)` clusters, spread evenly: cluster `i` is chosen
    /// when `(i + 1) * p / 100` passes the next whole number.
    pub fn contains(&self, name: &str, index: usize) -> bool {
        match self {
            Selection::None => false,
            Selection::Names(names) => names.iter().any(|n| n == name),
            Selection::Percent(p) => {
                let p = *p as usize;
                (index + 1) * p / 100 > index * p / 100
            }
        }
    }
}

/// How long a simulated member takes from seeing a Work generation to reporting it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    /// Always this long.
    Fixed(Duration),
    /// Uniformly between the two.
    Uniform(Duration, Duration),
}

impl Latency {
    /// Parses a Go duration (`200ms`) or a range of two (`100ms-2s`).
    pub fn parse(text: &str) -> Result<Latency, String> {
        let one = |t: &str| -> Result<Duration, String> {
            let parsed: kube::core::Duration = t
                .trim()
                .parse()
                .map_err(|e| format!("{t:?} is not a duration like 200ms: {e}"))?;
            Ok(parsed.into())
        };
        match text.split_once('-') {
            Some((low, high)) => {
                let (low, high) = (one(low)?, one(high)?);
                if high < low {
                    return Err(format!("{text:?}: the upper bound is below the lower one"));
                }
                Ok(Latency::Uniform(low, high))
            }
            None => Ok(Latency::Fixed(one(text)?)),
        }
    }

    /// A latency for one report; `unit` is a uniform sample in `[0, 1)`.
    pub fn sample(&self, unit: f64) -> Duration {
        match *self {
            Latency::Fixed(d) => d,
            Latency::Uniform(low, high) => low + (high - low).mul_f64(unit.clamp(0.0, 1.0)),
        }
    }
}

/// One label split: `KEY=VALUE:PERCENT,VALUE:PERCENT,...` gives the first PERCENT of the clusters
/// (in index order) the first value, the next PERCENT the second, and so on; clusters past the
/// last share get the last value.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelSplit {
    /// The label key.
    pub key: String,
    /// Values and their shares in percent.
    pub shares: Vec<(String, u32)>,
}

impl LabelSplit {
    /// Parses `env=canary:20,staging:30,prod:50`.
    pub fn parse(text: &str) -> Result<LabelSplit, String> {
        let (key, rest) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not KEY=VALUE:PERCENT,..."))?;
        let mut shares = Vec::new();
        for part in rest.split(',') {
            let (value, percent) = part
                .split_once(':')
                .ok_or_else(|| format!("{part:?} in {text:?} is not VALUE:PERCENT"))?;
            let percent: u32 = percent
                .trim_end_matches('%')
                .parse()
                .map_err(|_| format!("{percent:?} in {text:?} is not a percentage"))?;
            shares.push((value.to_string(), percent));
        }
        if shares.is_empty() || key.is_empty() {
            return Err(format!("{text:?} is not KEY=VALUE:PERCENT,..."));
        }
        Ok(LabelSplit {
            key: key.to_string(),
            shares,
        })
    }

    /// The value for cluster `index` of `total`.
    pub fn value_for(&self, index: usize, total: usize) -> &str {
        let mut upper = 0usize;
        for (value, percent) in &self.shares {
            upper += total * (*percent as usize);
            if index * 100 < upper {
                return value;
            }
        }
        &self.shares.last().expect("at least one share").0
    }
}

/// One label spread: `KEY=V1,V2,...` gives cluster `i` value `i mod n`, so every value gets an
/// even slice of every split (groups of clusters for many placements).
#[derive(Clone, Debug, PartialEq)]
pub struct LabelSpread {
    /// The label key.
    pub key: String,
    /// The values, in turn.
    pub values: Vec<String>,
}

impl LabelSpread {
    /// Parses `group=g0,g1,g2`.
    pub fn parse(text: &str) -> Result<LabelSpread, String> {
        let (key, rest) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not KEY=V1,V2,..."))?;
        let values: Vec<String> = rest.split(',').filter(|v| !v.is_empty()).map(str::to_string).collect();
        if key.is_empty() || values.is_empty() {
            return Err(format!("{text:?} is not KEY=V1,V2,..."));
        }
        Ok(LabelSpread {
            key: key.to_string(),
            values,
        })
    }

    /// The value for cluster `index`.
    pub fn value_for(&self, index: usize) -> &str {
        &self.values[index % self.values.len()]
    }
}

/// The labels of cluster `index` of `total`: the common ones, then every split's and spread's
/// value, and `fleetsim.stagehand.io/index` (its number, for strategies that sort by it).
pub fn cluster_labels(
    common: &[(String, String)],
    splits: &[LabelSplit],
    spreads: &[LabelSpread],
    index: usize,
    total: usize,
) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = common.iter().cloned().collect();
    for split in splits {
        labels.insert(split.key.clone(), split.value_for(index, total).to_string());
    }
    for spread in spreads {
        labels.insert(spread.key.clone(), spread.value_for(index).to_string());
    }
    labels.insert(INDEX_LABEL.to_string(), (index + 1).to_string());
    labels.insert(SIMULATED_LABEL.to_string(), "true".to_string());
    labels
}

/// Label carrying a simulated cluster's number (1-based).
pub const INDEX_LABEL: &str = "fleetsim.stagehand.io/index";
/// Label marking a MemberCluster that fleetsim created.
pub const SIMULATED_LABEL: &str = "fleetsim.stagehand.io/simulated";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_in_index_order() {
        assert_eq!(cluster_name("sim-", 0), "sim-00001");
        assert!(cluster_name("sim-", 9) < cluster_name("sim-", 10));
    }

    #[test]
    fn a_percentage_selects_exactly_that_share_spread_over_the_fleet() {
        let ten = Selection::parse("10%").unwrap();
        let chosen: Vec<usize> = (0..50).filter(|i| ten.contains("x", *i)).collect();
        assert_eq!(chosen, [9, 19, 29, 39, 49]);
        let all = Selection::parse("100%").unwrap();
        assert!((0..7).all(|i| all.contains("x", i)));
        assert!(!Selection::parse("0%").unwrap().contains("x", 3));
        assert!(Selection::parse("101%").is_err());
    }

    #[test]
    fn names_select_those_clusters_only() {
        let s = Selection::parse("sim-00002, sim-00004").unwrap();
        assert!(s.contains("sim-00002", 1) && s.contains("sim-00004", 3));
        assert!(!s.contains("sim-00003", 2));
        assert_eq!(Selection::parse("").unwrap(), Selection::None);
    }

    #[test]
    fn latencies_are_fixed_or_uniform_in_range() {
        assert_eq!(Latency::parse("200ms").unwrap().sample(0.7), Duration::from_millis(200));
        let range = Latency::parse("100ms-2s").unwrap();
        assert_eq!(range.sample(0.0), Duration::from_millis(100));
        assert_eq!(range.sample(0.5), Duration::from_millis(1050));
        assert!(Latency::parse("2s-1s").is_err());
        assert!(Latency::parse("soon").is_err());
    }

    #[test]
    fn label_splits_give_each_value_its_share_in_index_order() {
        let split = LabelSplit::parse("env=canary:20,staging:30,prod:50").unwrap();
        let values: Vec<&str> = (0..10).map(|i| split.value_for(i, 10)).collect();
        assert_eq!(
            values,
            [
                "canary", "canary", "staging", "staging", "staging", "prod", "prod", "prod", "prod", "prod"
            ]
        );
        let count = |v: &str| (0..1000).filter(|i| split.value_for(*i, 1000) == v).count();
        assert_eq!((count("canary"), count("staging"), count("prod")), (200, 300, 500));
        let spread = LabelSpread::parse("group=g0,g1,g2").unwrap();
        assert_eq!(spread.value_for(4), "g1");
        let labels = cluster_labels(&[("team".into(), "a".into())], &[split], &[spread], 0, 10);
        assert_eq!(labels["env"], "canary");
        assert_eq!(labels["group"], "g0");
        assert_eq!(labels["team"], "a");
        assert_eq!(labels[INDEX_LABEL], "1");
    }
}

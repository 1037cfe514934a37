//! The scheduler's filter and score plugins over one member cluster (`placement-pipeline.md`
//! §7.4): eligibility, taints and tolerations, required and preferred cluster affinity, and the
//! ResourcePlacement namespace affinity.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};

use super::eligibility::eligibility;
use crate::api::cluster::MemberCluster;
use crate::api::placement::{
    ClusterSelectorTerm, PlacementPolicy, PropertySelectorOperator, PropertySelectorRequirement, Taint, Toleration,
    TolerationOperator,
};
use crate::conditions::find;

/// Status code upstream prints in front of a filter's reasons.
const UNSCHEDULABLE: &str = "ClusterUnschedulable";

/// Why a cluster was filtered out, as upstream renders it: `"<code>, <reason>"`.
pub fn filtered(reason: &str) -> String {
    format!("{UNSCHEDULABLE}, {reason}")
}

/// Runs every filter; `Err` carries the rendered reason of the first that rejects the cluster.
pub fn filter(
    cluster: &MemberCluster,
    policy: Option<&PlacementPolicy>,
    rp_namespace: Option<&str>,
    now: Timestamp,
) -> Result<(), String> {
    eligibility(cluster, now).map_err(|r| filtered(&r))?;
    if let Some(ns) = rp_namespace {
        namespace_affinity(cluster, ns).map_err(|r| filtered(&r))?;
    }
    let taints = cluster.spec.taints.as_deref().unwrap_or_default();
    let tolerations = policy.and_then(|p| p.tolerations.as_deref()).unwrap_or_default();
    if let Some(taint) = taints.iter().find(|t| !tolerations.iter().any(|tol| tolerates(tol, t))) {
        return Err(filtered(&format!(
            "cluster has an untolerated taint {}={}:NoSchedule",
            taint.key,
            taint.value.as_deref().unwrap_or_default()
        )));
    }
    let required = policy
        .and_then(|p| p.affinity.as_ref())
        .and_then(|a| a.cluster_affinity.as_ref())
        .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref());
    if let Some(required) = required
        && !required.cluster_selector_terms.iter().any(|t| term_matches(t, cluster))
    {
        return Err(filtered(
            "cluster does not match with any of the required cluster affinity terms",
        ));
    }
    Ok(())
}

/// Sum of the weights of the preferred affinity terms the cluster matches.
pub fn affinity_score(cluster: &MemberCluster, policy: Option<&PlacementPolicy>) -> i32 {
    policy
        .and_then(|p| p.affinity.as_ref())
        .and_then(|a| a.cluster_affinity.as_ref())
        .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_ref())
        .map(|terms| {
            terms
                .iter()
                .filter(|t| term_matches(&t.preference, cluster))
                .map(|t| t.weight)
                .sum()
        })
        .unwrap_or_default()
}

fn namespace_affinity(cluster: &MemberCluster, ns: &str) -> Result<(), String> {
    let status = cluster.status.as_ref();
    let reports_namespaces = status.is_some_and(|s| find(&s.conditions, "NamespaceCollectionSucceeded").is_some());
    let has = status
        .and_then(|s| s.namespaces.as_ref())
        .is_some_and(|n| n.contains_key(ns));
    if reports_namespaces && !has {
        return Err(format!("cluster does not have namespace {ns:?}"));
    }
    Ok(())
}

/// Whether a toleration covers a taint: effects must match (empty matches all); `Exists` with no
/// key tolerates every taint.
fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if toleration.effect.is_some_and(|e| e != taint.effect) {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    match toleration.operator.unwrap_or_default() {
        TolerationOperator::Exists => key.is_empty() || key == taint.key,
        TolerationOperator::Equal => {
            key == taint.key
                && toleration.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default()
        }
    }
}

/// A term matches when its label selector and its property selector both do (absent ones match).
fn term_matches(term: &ClusterSelectorTerm, cluster: &MemberCluster) -> bool {
    let labels_match = term
        .label_selector
        .as_ref()
        .is_none_or(|s| label_selector_matches(s, cluster.labels()));
    let properties_match = term
        .property_selector
        .as_ref()
        .is_none_or(|s| s.match_expressions.iter().all(|r| property_matches(r, cluster)));
    labels_match && properties_match
}

/// SD-41: the first cluster affinity label selector that does not parse, named by its field
/// path. Upstream's webhook rejects such a placement; Stagehand admits it (a CRD rule over
/// unbounded selector lists exceeds the API server's cost budget) and the scheduler must not
/// read it as "matches nothing", which would unschedule every cluster.
pub fn selector_problem(policy: &PlacementPolicy) -> Option<String> {
    let affinity = policy.affinity.as_ref()?.cluster_affinity.as_ref()?;
    let base = "spec.policy.affinity.clusterAffinity";
    let required = affinity
        .required_during_scheduling_ignored_during_execution
        .iter()
        .flat_map(|r| r.cluster_selector_terms.iter().enumerate())
        .map(|(i, term)| {
            (
                format!(
                    "{base}.requiredDuringSchedulingIgnoredDuringExecution.clusterSelectorTerms[{i}].labelSelector"
                ),
                term,
            )
        });
    let preferred = affinity
        .preferred_during_scheduling_ignored_during_execution
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| {
            (
                format!("{base}.preferredDuringSchedulingIgnoredDuringExecution[{i}].preference.labelSelector"),
                &p.preference,
            )
        });
    required.chain(preferred).find_map(|(path, term)| {
        let selector = term.label_selector.clone()?;
        Selector::try_from(selector)
            .err()
            .map(|err| format!("{path} is invalid: {err}"))
    })
}

fn label_selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    Selector::try_from(selector.clone()).is_ok_and(|s| s.matches(labels))
}

fn property_matches(requirement: &PropertySelectorRequirement, cluster: &MemberCluster) -> bool {
    let (Some(have), [want]) = (property(cluster, &requirement.name), requirement.values.as_slice()) else {
        return false;
    };
    let Some(want) = quantity(want) else {
        return false;
    };
    match requirement.operator {
        PropertySelectorOperator::Gt => have > want,
        PropertySelectorOperator::Ge => have >= want,
        PropertySelectorOperator::Eq => have == want,
        PropertySelectorOperator::Ne => have != want,
        PropertySelectorOperator::Lt => have < want,
        PropertySelectorOperator::Le => have <= want,
    }
}

/// A numeric cluster property: a reported one (`status.properties`) or one of upstream's
/// resource properties (`resources.kubernetes-fleet.io/{total,allocatable,available}-{cpu,memory}`).
fn property(cluster: &MemberCluster, name: &str) -> Option<f64> {
    let status = cluster.status.as_ref()?;
    if let Some(value) = status.properties.as_ref().and_then(|p| p.get(name)) {
        return quantity(&value.value);
    }
    let rest = name.strip_prefix("resources.kubernetes-fleet.io/")?;
    let (which, resource) = rest.split_once('-')?;
    let usage = status.resource_usage.as_ref()?;
    let map = match which {
        "total" => usage.capacity.as_ref(),
        "allocatable" => usage.allocatable.as_ref(),
        "available" => usage.available.as_ref(),
        _ => None,
    }?;
    quantity(&map.get(resource)?.0)
}

/// Parses a Kubernetes quantity (`250m`, `2`, `4Gi`, `1.5k`, `1e3`) into a number.
pub fn quantity(text: &str) -> Option<f64> {
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    let text = text.trim();
    for (suffix, factor) in SUFFIXES {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::placement::TaintEffect;

    fn taint(key: &str, value: &str) -> Taint {
        Taint {
            key: key.into(),
            value: Some(value.into()),
            effect: TaintEffect::NoSchedule,
        }
    }

    #[test]
    fn tolerations_follow_kubernetes_rules() {
        let t = taint("gpu", "yes");
        let equal = Toleration {
            key: Some("gpu".into()),
            value: Some("yes".into()),
            ..Default::default()
        };
        assert!(tolerates(&equal, &t));
        let wrong_value = Toleration {
            value: Some("no".into()),
            ..equal.clone()
        };
        assert!(!tolerates(&wrong_value, &t));
        let exists_any = Toleration {
            operator: Some(TolerationOperator::Exists),
            ..Default::default()
        };
        assert!(tolerates(&exists_any, &t));
        let exists_other = Toleration {
            key: Some("other".into()),
            operator: Some(TolerationOperator::Exists),
            ..Default::default()
        };
        assert!(!tolerates(&exists_other, &t));
    }

    #[test]
    fn quantities_parse_like_kubernetes() {
        assert_eq!(quantity("250m"), Some(0.25));
        assert_eq!(quantity("4Gi"), Some(4.0 * 1073741824.0));
        assert_eq!(quantity("3"), Some(3.0));
        assert_eq!(quantity("1.5k"), Some(1500.0));
        assert_eq!(quantity("lots"), None);
    }
}

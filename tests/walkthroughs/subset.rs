//! "The object looks like the document's YAML": every field the document shows is there with the
//! same value. Fields the document leaves out (its `...`) may hold anything; lists have the same
//! length and match element by element; timestamps and server-assigned ids only have to exist.

use serde_json::Value;

/// Fields whose values depend on when and where the walkthrough ran.
const PRESENCE_ONLY: &[&str] = &[
    "lastTransitionTime",
    "startTime",
    "endTime",
    "creationTimestamp",
    "resourceVersion",
    "uid",
    // A hash of the selected resources' JSON; its exact digest is an implementation detail.
    "kubernetes-fleet.io/resource-hash",
];

/// Parses YAML copied from a document (comments and all). The documents' own elisions, lines
/// holding only `...`, are dropped: they stand for "more fields here".
pub fn yaml(text: &str) -> Value {
    let text: String = text
        .lines()
        .filter(|l| l.trim() != "...")
        .map(|l| format!("{l}\n"))
        .collect();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("the document's YAML does not parse: {e}\n{text}"))
}

/// YAML copied from a document, with the changes the test had to make and why.
pub struct DocYaml {
    pub text: String,
    pub adjustments: Vec<String>,
}

impl DocYaml {
    pub fn doc(text: &str) -> DocYaml {
        DocYaml {
            text: text.to_string(),
            adjustments: Vec::new(),
        }
    }

    /// Replaces every occurrence of `from` (there must be one), saying why.
    pub fn replace(mut self, from: &str, to: &str, why: &str) -> DocYaml {
        let n = self.text.matches(from).count();
        assert!(n > 0, "{from:?} is not in the document's YAML");
        self.text = self.text.replace(from, to);
        self.adjustments
            .push(format!("{n} x {:?} -> {:?}: {why}", from.trim(), to.trim()));
        self
    }
}

impl DocYaml {
    /// Leaves out every line that is exactly `line` (indentation aside), saying why.
    pub fn without_lines(mut self, line: &str, why: &str) -> DocYaml {
        let before = self.text.lines().count();
        self.text = self
            .text
            .lines()
            .filter(|l| l.trim() != line)
            .map(|l| format!("{l}\n"))
            .collect();
        let n = before - self.text.lines().count();
        assert!(n > 0, "{line:?} is not a line of the document's YAML");
        self.adjustments.push(format!("{n} x {line:?} not compared: {why}"));
        self
    }
}

/// Where `actual` differs from what `expected` shows, or `None`.
pub fn difference(expected: &Value, actual: &Value) -> Option<String> {
    walk(expected, actual, "")
}

fn walk(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => want.iter().find_map(|(key, value)| {
            let here = format!("{path}.{key}");
            match got.get(key) {
                None => Some(format!("{here}: missing, expected {}", short(value))),
                Some(_) if PRESENCE_ONLY.contains(&key.as_str()) => None,
                Some(found) => walk(value, found, &here),
            }
        }),
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                return Some(format!(
                    "{path}: expected {} items, got {}: {}",
                    want.len(),
                    got.len(),
                    short(actual)
                ));
            }
            want.iter()
                .zip(got)
                .enumerate()
                .find_map(|(i, (w, g))| walk(w, g, &format!("{path}[{i}]")))
        }
        _ if expected == actual => None,
        _ => Some(format!("{path}: expected {}, got {}", short(expected), short(actual))),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 300 { format!("{}...", &s[..300]) } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shown_fields_must_match_and_others_may_be_anything() {
        let want = yaml("data:\n  key: value2 # comment\nmetadata:\n  ...\n  uid: ...\n");
        let got = json!({"data": {"key": "value2"}, "metadata": {"uid": "abc", "name": "x"}, "kind": "ConfigMap"});
        assert_eq!(difference(&want, &got), None);
        let wrong = json!({"data": {"key": "value1"}, "metadata": {"uid": "abc"}});
        assert_eq!(
            difference(&want, &wrong).as_deref(),
            Some(".data.key: expected \"value2\", got \"value1\"")
        );
    }

    #[test]
    fn lists_match_element_by_element() {
        let want = yaml("clusters:\n- clusterName: member3\n- clusterName: member1\n");
        let got = json!({"clusters": [{"clusterName": "member1"}, {"clusterName": "member3"}]});
        assert!(difference(&want, &got).unwrap().starts_with(".clusters[0].clusterName"));
        let short = json!({"clusters": [{"clusterName": "member3"}]});
        assert!(difference(&want, &short).unwrap().contains("expected 2 items, got 1"));
    }
}

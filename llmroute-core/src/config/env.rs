//! `os.environ/NAME` references: resolved once, with the path of every missing one.

use serde_yaml::Value;

const PREFIX: &str = "os.environ/";

/// Replaces every `os.environ/NAME` string in `value` by the variable's value, looked up
/// with `lookup`. Returns the `(path, NAME)` of each variable that is not set.
pub(crate) fn resolve(
    value: &mut Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    missing: &mut Vec<(String, String)>,
) {
    match value {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix(PREFIX) {
                match lookup(name) {
                    Some(v) => *s = v,
                    None => missing.push((path.to_string(), name.to_string())),
                }
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                resolve(item, &format!("{path}[{i}]"), lookup, missing);
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = k
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{k:?}"));
                let child = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                resolve(v, &child, lookup, missing);
            }
        }
        Value::Tagged(tagged) => resolve(&mut tagged.value, path, lookup, missing),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

//! Layering of settings trees: file overlays and environment overrides.

use serde_json::{Map, Value};

/// Deep-merges `overlay` into `base`: objects merge key by key
/// (case-insensitively), anything else replaces.
pub fn merge_json(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base_map), Value::Object(overlay_map)) => {
            for (key, value) in overlay_map {
                let existing = find_key(base_map, &key).unwrap_or(key);
                match base_map.get_mut(&existing) {
                    Some(slot) => merge_json(slot, value),
                    None => {
                        base_map.insert(existing, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// Applies `Section__Key=value` variables onto the tree. Only names that
/// contain `__` are considered, so ordinary variables (`PATH`) are ignored.
/// A numeric segment indexes an array (`Graph__Scopes__0`).
pub fn apply_env_overrides(tree: &mut Value, vars: impl Iterator<Item = (String, String)>) {
    for (name, value) in vars {
        if !name.contains("__") {
            continue;
        }
        let segments: Vec<&str> = name.split("__").collect();
        if segments.iter().any(|segment| segment.is_empty()) {
            continue;
        }
        set_path(tree, &segments, value);
    }
}

fn set_path(node: &mut Value, segments: &[&str], value: String) {
    let Some((first, rest)) = segments.split_first() else {
        *node = Value::String(value);
        return;
    };
    if let (Value::Array(items), Ok(index)) = (&mut *node, first.parse::<usize>()) {
        while items.len() <= index {
            items.push(Value::Null);
        }
        set_path(&mut items[index], rest, value);
        return;
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    let Value::Object(map) = node else { return };
    let key = find_key(map, first).unwrap_or_else(|| (*first).to_owned());
    let child = map.entry(key).or_insert_with(|| {
        if rest.first().is_some_and(|next| next.parse::<usize>().is_ok()) {
            Value::Array(Vec::new())
        } else {
            Value::Null
        }
    });
    set_path(child, rest, value);
}

fn find_key(map: &Map<String, Value>, wanted: &str) -> Option<String> {
    map.keys().find(|key| key.eq_ignore_ascii_case(wanted)).cloned()
}

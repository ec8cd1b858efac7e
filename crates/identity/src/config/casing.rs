//! .NET configuration keys are case-insensitive (`azuread:clientid` is
//! `AzureAd:ClientId`); serde's are not. Before the settings tree is
//! deserialized, every key the schema knows is given the schema's spelling,
//! walking the tree and the schema together. Keys the schema does not know
//! (other sections, a map's own names such as a downstream API's) stay as
//! written. A number or `true`/`false` where the schema wants a string
//! becomes that string, as .NET configuration holds every value as text.

use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The settings schema, generated once.
fn settings_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(super::raw::schema)
}

/// `tree` with its known keys spelled as the schema spells them.
pub fn canonical(tree: &Value) -> Value {
    let schema = settings_schema();
    let mut copy = tree.clone();
    respell(&mut copy, schema, schema);
    copy
}

fn respell(value: &mut Value, schema: &Value, root: &Value) {
    let candidates = alternatives(schema, root);
    match value {
        Value::Object(map) => {
            let entries = std::mem::take(map);
            let mut respelled = Map::new();
            for (key, mut child) in entries {
                let known = candidates.iter().find_map(|candidate| {
                    candidate.get("properties")?.as_object()?.iter().find(|(name, _)| name.eq_ignore_ascii_case(&key))
                });
                match known {
                    Some((name, child_schema)) => {
                        respell(&mut child, child_schema, root);
                        respelled.entry(name.clone()).or_insert(child);
                    }
                    None => {
                        // A map's entry (a downstream API by name): its value follows the map's schema.
                        if let Some(entry_schema) = candidates.iter().find_map(|candidate| candidate.get("additionalProperties").filter(|schema| schema.is_object())) {
                            respell(&mut child, entry_schema, root);
                        }
                        respelled.entry(key).or_insert(child);
                    }
                }
            }
            *map = respelled;
        }
        Value::Array(items) => {
            if let Some(item_schema) = candidates.iter().find_map(|candidate| candidate.get("items").filter(|schema| schema.is_object())) {
                for item in items {
                    respell(item, item_schema, root);
                }
            }
        }
        Value::Number(_) | Value::Bool(_)
            if candidates.iter().any(|candidate| wants_string(candidate)) && !candidates.iter().any(|candidate| accepts_scalar(candidate, value)) =>
        {
            *value = Value::String(value.to_string());
        }
        _ => {}
    }
}

/// Whether `schema` is a string (or an optional one), the way schemars writes `String` and `Option<String>`.
fn wants_string(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(kind)) => kind == "string",
        Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind == "string") && !kinds.iter().any(|kind| kind == "number" || kind == "integer" || kind == "boolean"),
        _ => false,
    }
}

/// Whether `schema` takes `value` (a number or flag) as it is.
fn accepts_scalar(schema: &Value, value: &Value) -> bool {
    let own: &[&str] = match value {
        Value::Bool(_) => &["boolean"],
        _ => &["number", "integer"],
    };
    match schema.get("type") {
        Some(Value::String(kind)) => own.contains(&kind.as_str()),
        Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind.as_str().is_some_and(|kind| own.contains(&kind))),
        _ => false,
    }
}

/// `schema` with its reference followed, and the schemas it combines
/// (`anyOf`, `oneOf`, `allOf`, as `Option` and flattening produce them).
fn alternatives<'a>(schema: &'a Value, root: &'a Value) -> Vec<&'a Value> {
    let mut found = Vec::new();
    let mut pending = vec![schema];
    while let Some(next) = pending.pop() {
        let resolved = resolve(next, root);
        found.push(resolved);
        for combinator in ["anyOf", "oneOf", "allOf"] {
            if let Some(parts) = resolved.get(combinator).and_then(Value::as_array) {
                pending.extend(parts.iter());
            }
        }
    }
    found
}

/// Follows a local `$ref` (`#/$defs/Name`), as schemars writes them.
fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    let mut current = schema;
    // A reference to a reference is followed a few times at most: no cycles in settings.
    for _ in 0..8 {
        let Some(target) = current.get("$ref").and_then(Value::as_str).and_then(|reference| reference.strip_prefix('#')) else {
            return current;
        };
        match root.pointer(target) {
            Some(found) => current = found,
            None => return current,
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn known_keys_take_the_schema_s_spelling_and_map_names_stay() {
        let tree = json!({
            "azuread": { "clientid": "c", "CLIENTCREDENTIALS": [{ "sourcetype": "KeyVault" }] },
            "downstreamapis": { "todoList": { "baseurl": "https://api.example/" } },
            "session": { "store": "Redis", "connectionstring": "redis://127.0.0.1" },
            "Logging": { "LogLevel": { "Default": "Information" } },
        });
        let canonical = super::canonical(&tree);
        assert_eq!(canonical["AzureAd"]["ClientId"], "c");
        assert_eq!(canonical["AzureAd"]["ClientCredentials"][0]["SourceType"], "KeyVault");
        assert_eq!(canonical["DownstreamApis"]["todoList"]["BaseUrl"], "https://api.example/");
        assert_eq!(canonical["Session"]["ConnectionString"], "redis://127.0.0.1", "flattened store keys too");
        assert_eq!(canonical["Logging"]["LogLevel"]["Default"], "Information", "unknown sections as written");
        let numbers = super::canonical(&json!({ "AzureAd": { "ClientSecret": 123456, "SendX5C": true }, "Session": { "IdleTimeoutMinutes": 30 } }));
        assert_eq!(numbers["AzureAd"]["ClientSecret"], "123456", "a number where text is expected is text");
        assert_eq!(numbers["AzureAd"]["SendX5C"], true, "a flag stays a flag");
        assert_eq!(numbers["Session"]["IdleTimeoutMinutes"], 30);
    }
}

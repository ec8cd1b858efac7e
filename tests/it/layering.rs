//! The layering rules of docs/ARCHITECTURE.md, checked on the sources and
//! on `cargo tree`: a rule only the reviewer remembers is broken by the
//! first hurried change.
//!
//! - `idweb-stores` depends on no idweb crate and knows no web framework;
//! - the engine without features links neither fred nor sqlx;
//! - inside the engine, only `web/` (and the crate root's re-exports) name
//!   axum, the web layer or the engine that the web layer wraps;
//! - `config/`, `credentials/` and `protocol/` never reach up to token
//!   acquisition, the API callers, Graph, the engine or the web layer;
//! - the crate root only declares modules and re-exports.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `folder`, as (path relative to `folder`, code
/// without comment lines).
fn sources(folder: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
    while let Some(current) = folders.pop() {
        for entry in std::fs::read_dir(&current).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                // Comment lines are blanked, not dropped, so reported line numbers are the file's.
                let code: String = text.lines().map(|line| if line.trim_start().starts_with("//") { "\n".to_owned() } else { format!("{line}\n") }).collect();
                let relative = path.strip_prefix(folder).unwrap().to_string_lossy().replace('\\', "/");
                found.push((relative, code));
            }
        }
    }
    found.sort();
    found
}

/// Lines of `code` that name any of `names`, as `file:line: text`.
fn naming(file: &str, code: &str, names: &[&str]) -> Vec<String> {
    code.lines()
        .enumerate()
        .filter(|(_, line)| names.iter().any(|name| line.contains(name)))
        .map(|(index, line)| format!("{file}:{}: {}", index + 1, line.trim()))
        .collect()
}

/// The first segment of every `crate::` path in `code` (each member of a
/// grouped `crate::{a::X, b}` too), with its line number.
fn crate_references(code: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut rest = code;
    let mut offset = 0;
    while let Some(at) = rest.find("crate::") {
        let start = offset + at + "crate::".len();
        let line = code[..start].matches('\n').count() + 1;
        let after = &code[start..];
        let members: Vec<&str> = match after.strip_prefix('{') {
            // One level of grouping: `crate::{a::{B, C}, d}` names a and d.
            Some(group) => {
                let mut depth = 0;
                let end = group.char_indices().find(|&(_, c)| {
                    depth += i32::from(c == '{') - i32::from(c == '}');
                    depth < 0
                });
                let inside = &group[..end.map_or(group.len(), |(index, _)| index)];
                let mut members = Vec::new();
                let mut level = 0;
                let mut from = 0;
                for (index, c) in inside.char_indices() {
                    level += i32::from(c == '{') - i32::from(c == '}');
                    if c == ',' && level == 0 {
                        members.push(&inside[from..index]);
                        from = index + 1;
                    }
                }
                members.push(&inside[from..]);
                members
            }
            None => vec![after],
        };
        for member in members {
            let name: String = member.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.push((line, name));
            }
        }
        offset = start;
        rest = &code[start..];
    }
    found
}

/// What the crate root re-exports from `module` (`pub use module::{A, b::C}` gives A and C).
fn re_exported_from(module: &str) -> Vec<String> {
    let root = std::fs::read_to_string(repository().join("crates/identity/src/lib.rs")).unwrap();
    let prefix = format!("pub use {module}::");
    root.lines()
        .filter_map(|line| line.trim().strip_prefix(prefix.as_str()))
        .flat_map(|rest| rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|word| word.chars().next().is_some_and(char::is_uppercase)).map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

/// References in `code` to any of `modules` or to what the root re-exports from them.
fn reaching(file: &str, code: &str, modules: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = modules.iter().map(|module| (*module).to_owned()).collect();
    for module in modules {
        names.extend(re_exported_from(module));
    }
    let lines: Vec<&str> = code.lines().collect();
    crate_references(code)
        .into_iter()
        .filter(|(_, name)| names.contains(name))
        .map(|(line, name)| format!("{file}:{line}: crate::{name}: {}", lines.get(line - 1).map_or("", |text| text.trim())))
        .collect()
}

#[test]
fn only_the_web_layer_of_the_engine_names_axum_the_web_layer_or_the_engine_it_wraps() {
    let engine = repository().join("crates/identity/src");
    let mut broken = Vec::new();
    for (file, code) in sources(&engine) {
        if file.starts_with("web/") || file == "lib.rs" {
            continue;
        }
        broken.extend(naming(&file, &code, &["axum"]));
        let upper: &[&str] = if file == "engine.rs" { &["web"] } else { &["web", "engine"] };
        broken.extend(reaching(&file, &code, upper));
    }
    assert!(broken.is_empty(), "outside crates/identity/src/web/:\n{}", broken.join("\n"));
}

#[test]
fn configuration_credentials_and_protocol_never_reach_up() {
    let engine = repository().join("crates/identity/src");
    let upper = ["acquisition", "downstream", "graph", "engine", "web"];
    let mut broken = Vec::new();
    for (file, code) in sources(&engine) {
        if ["config/", "credentials/", "protocol/"].iter().any(|lower| file.starts_with(lower)) {
            broken.extend(reaching(&file, &code, &upper));
        }
    }
    assert!(broken.is_empty(), "a lower layer imports an upper one:\n{}", broken.join("\n"));
}

#[test]
fn the_checks_see_grouped_imports_and_root_re_exports() {
    let code = "use crate::{config::X, web::{signin, csrf}};\nlet caller: crate::ApiCaller = todo!();\nuse crate::Identity;\n";
    let references: Vec<String> = crate_references(code).into_iter().map(|(_, name)| name).collect();
    assert_eq!(references, ["config", "web", "ApiCaller", "Identity"]);
    assert_eq!(reaching("x.rs", code, &["web"]).len(), 2, "web::{{..}} and the web layer's Identity");
    assert_eq!(reaching("x.rs", code, &["downstream"]).len(), 1, "ApiCaller, re-exported from downstream");
}

#[test]
fn the_engine_root_only_declares_and_re_exports() {
    let root = std::fs::read_to_string(repository().join("crates/identity/src/lib.rs")).unwrap();
    let defining: Vec<&str> = root
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//") && !line.starts_with("#!"))
        .filter(|line| {
            // An attribute on the item's own line (`#[cfg(..)] pub mod x;`) is looked past.
            let line = match line.strip_prefix("#[") {
                Some(attribute) => attribute.split_once(']').map_or("", |(_, item)| item.trim()),
                None => line,
            };
            let item = line.strip_prefix("pub(crate) ").or_else(|| line.strip_prefix("pub ")).unwrap_or(line);
            !(item.starts_with("mod ") || item.starts_with("use "))
        })
        .collect();
    assert!(defining.is_empty(), "crates/identity/src/lib.rs defines something: {defining:?}");
}

#[test]
fn the_stores_depend_on_no_idweb_crate_and_know_no_web_framework() {
    // What cargo resolves, not what the manifest's lines look like: a renamed or table-form dependency counts.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(repository())
        .args(["metadata", "--offline", "--no-deps", "--format-version", "1"])
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let stores = metadata["packages"].as_array().unwrap().iter().find(|package| package["name"] == "idweb-stores").expect("idweb-stores is a member");
    let idweb: Vec<&str> = stores["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|dependency| dependency["kind"].is_null())
        .filter_map(|dependency| dependency["name"].as_str())
        .filter(|name| name.starts_with("idweb"))
        .collect();
    assert!(idweb.is_empty(), "idweb-stores depends on {idweb:?}");
    let mut broken = Vec::new();
    for (file, code) in sources(&repository().join("crates/stores/src")) {
        broken.extend(naming(&file, &code, &["idweb_identity", "idweb_routes", "idweb_emulator", "axum"]));
    }
    assert!(broken.is_empty(), "crates/stores/src names another idweb crate or axum:\n{}", broken.join("\n"));
}

/// The crates `cargo tree` lists for `package` with `arguments`, normal
/// dependencies only (what an app that depends on it links).
fn linked_crates(package: &str, arguments: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(repository())
        .args(["tree", "--offline", "--edges", "normal", "--prefix", "none", "--package", package])
        .args(arguments)
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn links(tree: &str, krate: &str) -> bool {
    tree.lines().any(|line| line.split_whitespace().next() == Some(krate))
}

#[test]
fn the_engine_without_features_links_no_redis_or_postgresql_client() {
    let bare = linked_crates("idweb-identity", &["--no-default-features"]);
    assert!(links(&bare, "idweb-stores"), "the tree is read: {bare}");
    for client in ["fred", "sqlx", "tower-sessions-redis-store", "tower-sessions-sqlx-store"] {
        assert!(!links(&bare, client), "idweb-identity without features links {client}");
    }
    // The features bring them in: the rule above is not true by accident.
    let full = linked_crates("idweb-identity", &["--features", "redis,postgres"]);
    assert!(links(&full, "fred") && links(&full, "sqlx"), "the redis and postgres features link fred and sqlx");
}

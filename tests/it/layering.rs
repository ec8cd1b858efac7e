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

#[test]
fn only_the_web_layer_of_the_engine_names_axum_the_web_layer_or_the_engine_it_wraps() {
    let engine = repository().join("crates/identity/src");
    let mut broken = Vec::new();
    for (file, code) in sources(&engine) {
        if file.starts_with("web/") || file == "lib.rs" {
            continue;
        }
        let mut names = vec!["axum", "crate::web", "crate::Identity", "crate::IdentityBuilder"];
        if file != "engine.rs" {
            names.push("crate::engine");
        }
        broken.extend(naming(&file, &code, &names));
    }
    assert!(broken.is_empty(), "outside crates/identity/src/web/:\n{}", broken.join("\n"));
}

#[test]
fn configuration_credentials_and_protocol_never_reach_up() {
    let engine = repository().join("crates/identity/src");
    let upper = ["crate::acquisition", "crate::downstream", "crate::graph", "crate::engine", "crate::web", "crate::Identity", "crate::Engine"];
    let mut broken = Vec::new();
    for (file, code) in sources(&engine) {
        if ["config/", "credentials/", "protocol/"].iter().any(|lower| file.starts_with(lower)) {
            broken.extend(naming(&file, &code, &upper));
        }
    }
    assert!(broken.is_empty(), "a lower layer imports an upper one:\n{}", broken.join("\n"));
}

#[test]
fn the_engine_root_only_declares_and_re_exports() {
    let root = std::fs::read_to_string(repository().join("crates/identity/src/lib.rs")).unwrap();
    let defining: Vec<&str> = root
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//") && !line.starts_with("#"))
        .filter(|line| {
            let item = line.strip_prefix("pub(crate) ").or_else(|| line.strip_prefix("pub ")).unwrap_or(line);
            !(item.starts_with("mod ") || item.starts_with("use "))
        })
        .collect();
    assert!(defining.is_empty(), "crates/identity/src/lib.rs defines something: {defining:?}");
}

#[test]
fn the_stores_depend_on_no_idweb_crate_and_know_no_web_framework() {
    let manifest = std::fs::read_to_string(repository().join("crates/stores/Cargo.toml")).unwrap();
    let idweb_dependencies: Vec<&str> = manifest.lines().filter(|line| line.trim_start().starts_with("idweb")).collect();
    assert!(idweb_dependencies.is_empty(), "crates/stores/Cargo.toml: {idweb_dependencies:?}");
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

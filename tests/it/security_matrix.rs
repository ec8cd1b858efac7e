//! docs/SECURITY.md is the matrix as idweb implements it: every row must
//! have a test carrying its ID, every code path it names must exist, and
//! (when the project's matrix file is at hand) no row of the matrix may be
//! missing from it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The rows of a Markdown table whose first cell is an ID (`CB-03`), each
/// as its cells; a range (`IDT-01..10`) stands for each of its IDs.
fn rows(markdown: &str) -> Vec<(String, Vec<String>)> {
    markdown
        .lines()
        .filter_map(|line| {
            let cells: Vec<String> = line.strip_prefix('|')?.split('|').map(|cell| cell.trim().to_owned()).collect();
            let id = cells.first()?.clone();
            let (prefix, number) = id.split_once('-')?;
            let valid = !prefix.is_empty() && prefix.chars().all(|c| c.is_ascii_uppercase()) && number.chars().next()?.is_ascii_digit();
            valid.then_some((id, cells))
        })
        .collect()
}

fn expand(id: &str) -> Vec<String> {
    match id.split_once("..") {
        Some((first, last)) => {
            let (prefix, start) = first.split_once('-').expect("a range starts with PREFIX-NN");
            let start: u32 = start.parse().expect("a numbered range");
            let end: u32 = last.parse().expect("a numbered range");
            (start..=end).map(|number| format!("{prefix}-{number:02}")).collect()
        }
        None => vec![id.to_owned()],
    }
}

/// The text of every test: files in `tests` folders and end-to-end specs
/// whole, and the `#[cfg(test)]` part of source files.
fn test_texts() -> Vec<(PathBuf, String)> {
    let root = repository();
    let mut texts = Vec::new();
    let mut folders = vec![root.join("src"), root.join("tests"), root.join("end2end/tests"), root.join("end2end/tests-multi")];
    for entry in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        folders.push(entry.path().join("src"));
        folders.push(entry.path().join("tests"));
    }
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|name| name != "node_modules") {
                    folders.push(path);
                }
                continue;
            }
            if path.file_name().is_some_and(|name| name == "security_matrix.rs") || !matches!(path.extension().and_then(|ext| ext.to_str()), Some("rs" | "ts")) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // A test folder, or a module file of tests (`mod tests;` under `#[cfg(test)]`).
            let in_test_folder = path.components().any(|part| matches!(part.as_os_str().to_str(), Some("tests" | "tests-multi")))
                || path.file_name().is_some_and(|name| name == "tests.rs");
            let test_part = if in_test_folder { Some(text.as_str()) } else { text.split_once("#[cfg(test)]").map(|(_, tests)| tests) };
            if let Some(part) = test_part {
                texts.push((path.clone(), part.to_owned()));
            }
        }
    }
    texts
}

#[test]
fn every_row_of_the_security_document_has_a_test_carrying_its_id() {
    let document = std::fs::read_to_string(repository().join("docs/SECURITY.md")).unwrap();
    let texts = test_texts();
    let mut missing = Vec::new();
    for (id, _) in rows(&document) {
        let snake = format!("{}_", id.to_ascii_lowercase().replace('-', "_"));
        let tested = texts.iter().any(|(_, text)| text.contains(&id) || text.contains(&snake));
        if !tested {
            missing.push(id);
        }
    }
    assert!(missing.is_empty(), "rows of docs/SECURITY.md with no test naming them: {missing:?}");
}

#[test]
fn the_code_the_security_document_names_exists() {
    let document = std::fs::read_to_string(repository().join("docs/SECURITY.md")).unwrap();
    let mut absent = Vec::new();
    for (id, cells) in rows(&document) {
        let code = cells.get(3).cloned().unwrap_or_default();
        for path in code.split('`').skip(1).step_by(2).filter(|piece| piece.contains('/')) {
            if !repository().join(path).exists() {
                absent.push(format!("{id}: {path}"));
            }
        }
    }
    assert!(absent.is_empty(), "docs/SECURITY.md names code that is not there: {absent:?}");
}

#[test]
fn every_id_of_the_project_matrix_is_in_the_security_document() {
    let matrix: PathBuf = std::env::var_os("IDWEB_SECURITY_MATRIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository().join("../shared/SECURITY-MATRIX.md"));
    let Ok(matrix_text) = std::fs::read_to_string(&matrix) else {
        // The matrix lives beside the repository on the project's machines; a
        // clone elsewhere checks the document's own rows only (the tests above).
        eprintln!("{} not found: only docs/SECURITY.md's own rows are checked", Path::new(&matrix).display());
        return;
    };
    let document = std::fs::read_to_string(repository().join("docs/SECURITY.md")).unwrap();
    let documented: BTreeSet<String> = rows(&document).into_iter().flat_map(|(id, _)| expand(&id)).collect();
    let missing: Vec<String> = rows(&matrix_text).into_iter().flat_map(|(id, _)| expand(&id)).filter(|id| !documented.contains(id)).collect();
    assert!(missing.is_empty(), "matrix rows missing from docs/SECURITY.md: {missing:?}");
}

#[test]
fn ranges_and_rows_are_read_as_written() {
    assert_eq!(expand("IDT-01..03"), ["IDT-01", "IDT-02", "IDT-03"]);
    let table = "| ID | x |\n| --- | --- |\n| CB-03 | a |\n| IDT-01..10 | b |\n| not | c |";
    let ids: Vec<String> = rows(table).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["CB-03", "IDT-01..10"]);
}

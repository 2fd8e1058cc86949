//! The package's TypeScript types (`src/wasm/types.rs`) name every code the connector can put in an
//! outcome or an error, so a TypeScript user's `switch (outcome.code)` or `error.code` check is
//! complete: a code added in the Rust source without its line in the `ConnectorCode` or
//! `ErrorCode` union fails here, naming the file. Codes are recognised by their form: capitals with
//! an underscore (`MISSING_ATTRIBUTE`), so time-zone names and HTTP methods are not taken for
//! codes; the one-word codes (`BUSY`, `INTERNAL`, `NETWORK`, `DESTROYED`) are checked by name.
#![cfg(not(target_arch = "wasm32"))]

use std::fs;
use std::path::{Path, PathBuf};

/// Code-shaped literals that never reach JavaScript: `UsageError::UnknownRequest` (the wasm layer
/// ignores a late answer).
const NOT_CODES: [&str; 1] = ["UNKNOWN_REQUEST"];

/// The one-word codes.
const WORD_CODES: [&str; 4] = ["BUSY", "INTERNAL", "NETWORK", "DESTROYED"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Literals like `"MISSING_ATTRIBUTE"` (and the one-word codes) in the code before the file's
/// unit tests.
fn code_literals(text: &str) -> Vec<String> {
    let code = text.split("\n#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut out = Vec::new();
    for (i, piece) in code.split('"').enumerate() {
        // Odd pieces sit between quotes (good enough for this source: no escaped quotes around codes).
        let caps = piece.len() >= 3
            && piece.starts_with(|c: char| c.is_ascii_uppercase())
            && piece.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if i % 2 == 1 && caps && (piece.contains('_') || WORD_CODES.contains(&piece)) {
            out.push(piece.to_string());
        }
    }
    out
}

#[test]
fn every_code_the_connector_emits_is_in_the_typescript_unions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ts = fs::read_to_string(root.join("src/wasm/types.rs")).unwrap();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut missing = Vec::new();
    let mut seen = 0;
    for file in files.iter().filter(|f| !f.ends_with("wasm/types.rs")) {
        for code in code_literals(&fs::read_to_string(file).unwrap()) {
            if NOT_CODES.contains(&code.as_str()) {
                continue;
            }
            seen += 1;
            if !ts.contains(&format!("\"{code}\"")) {
                missing.push(format!("{code} ({})", file.strip_prefix(root).unwrap().display()));
            }
        }
    }
    // The scan itself must find the codes (MISSING_ATTRIBUTE, ROW_FAILED, DESTROYED, …).
    assert!(seen >= 20, "found only {seen} codes: the scan is broken");
    assert!(
        missing.is_empty(),
        "codes missing from src/wasm/types.rs (ConnectorCode or ErrorCode): {missing:?}"
    );
}

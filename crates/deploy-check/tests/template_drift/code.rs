//! What is read from the code's Rust sources where it has no constant to compare with: the environment
//! variable names passed to its config helpers, and its DynamoDB SDK calls (as IAM actions).
//!
//! Why a module of its own: it is the one part of the drift test that reads code rather than the template.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::Problems;
use crate::functions::FunctionCode;

pub(crate) fn repo_path(relative: &str) -> PathBuf {
    sam_template::repo_root().join(relative)
}

pub(crate) fn src(crate_dir: &str) -> PathBuf {
    repo_path(crate_dir).join("src")
}

/// The production Rust sources under `path` (a file or a directory): `tests.rs` files are skipped, and an
/// inline `#[cfg(test)] mod x { ... }` ends what is read of a file (test modules come last by convention).
pub(crate) fn rust_sources(path: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            files.push((path, production_part(&text).to_owned()));
        }
    }
    files.sort();
    files
}

fn production_part(text: &str) -> &str {
    let mut offset = 0;
    while let Some(found) = text[offset..].find("#[cfg(test)]") {
        let at = offset + found;
        let after = text[at + "#[cfg(test)]".len()..].trim_start();
        let line = after.lines().next().unwrap_or_default();
        if line.starts_with("mod ") && line.trim_end().ends_with('{') {
            return &text[..at];
        }
        offset = at + 1;
    }
    text
}

/// Environment variable names the code reads: string literals passed to the config helpers.
#[derive(Debug, Default)]
pub(crate) struct EnvReads {
    pub(crate) all: BTreeSet<String>,
    /// Passed to `required(...)`: the code refuses to start without them.
    pub(crate) required: BTreeSet<String>,
}

pub(crate) fn env_reads(dir: &Path) -> EnvReads {
    const READERS: &[&str] = &["required", "optional", "parse_or", "secs", "var", "var_os"];
    let mut reads = EnvReads::default();
    for (_, text) in rust_sources(dir) {
        for reader in READERS {
            let call = format!("{reader}(");
            let mut rest = text.as_str();
            while let Some(found) = rest.find(&call) {
                let preceded_by_ident = rest[..found]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_');
                rest = &rest[found + call.len()..];
                if preceded_by_ident {
                    continue;
                }
                let argument = rest.trim_start();
                let Some(literal) = argument.strip_prefix('"') else {
                    continue;
                };
                let name: String = literal.chars().take_while(|c| *c != '"').collect();
                let is_env_name = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                if is_env_name {
                    if *reader == "required" {
                        reads.required.insert(name.clone());
                    }
                    reads.all.insert(name);
                }
            }
        }
    }
    reads
}

/// The IAM actions of the DynamoDB calls in the function's crate, plus the core's DynamoDB adapter when the
/// crate uses it.
pub(crate) fn dynamodb_calls(code: &FunctionCode, problems: &mut Problems) -> BTreeSet<String> {
    const OPERATIONS: &[(&str, Option<&str>)] = &[
        ("put_item", Some("dynamodb:PutItem")),
        ("update_item", Some("dynamodb:UpdateItem")),
        ("get_item", Some("dynamodb:GetItem")),
        ("delete_item", Some("dynamodb:DeleteItem")),
        ("query", Some("dynamodb:Query")),
        ("scan", Some("dynamodb:Scan")),
        ("batch_get_item", Some("dynamodb:BatchGetItem")),
        ("batch_write_item", Some("dynamodb:BatchWriteItem")),
        ("describe_table", Some("dynamodb:DescribeTable")),
        // Transactions are authorised per item action: teach this test which ones.
        ("transact_write_items", None),
        ("transact_get_items", None),
        ("execute_statement", None),
    ];
    let mut sources = rust_sources(&src(code.crate_dir));
    if sources
        .iter()
        .any(|(_, text)| text.contains("DynamoCommentStore"))
    {
        sources.extend(rust_sources(&repo_path("crates/core/src/store/dynamo.rs")));
    }
    let mut actions = BTreeSet::new();
    for (path, text) in &sources {
        for (operation, action) in OPERATIONS {
            if !text.contains(&format!(".{operation}()")) {
                continue;
            }
            match action {
                Some(action) => {
                    actions.insert((*action).to_owned());
                }
                None => problems.add(format!(
                    "{} calls .{operation}(); add its IAM actions to dynamodb_calls() in {}",
                    path.display(),
                    file!()
                )),
            }
        }
    }
    actions
}

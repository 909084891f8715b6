//! Where the repository and its template are.
//!
//! Why: tests and local tools run from any directory (cargo runs each test binary in its crate's
//! directory), so the template is found from this crate's own place in the tree, not from the current
//! directory.

use std::path::{Path, PathBuf};

/// The repository root, found from this crate's manifest directory (`<root>/crates/sam-template`).
pub fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .map_or_else(|| manifest_dir.join("../.."), Path::to_path_buf)
}

/// `<repo root>/template.yaml`.
pub fn template_path() -> PathBuf {
    repo_root().join("template.yaml")
}

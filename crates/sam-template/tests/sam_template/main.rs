//! sam-template's readers, on small templates written for each case, and on the real one.
//!
//! - `readers`: the generic readers: paths in errors, literals against intrinsics, both intrinsic forms.
//! - `views`: the typed views: table specs, functions, role grants, secrets, alarms and dashboards.

mod readers;
mod views;

use anyhow::Result;

/// The error of `result`, with its context chain, or a panic saying what came back instead.
fn error_of<T: std::fmt::Debug>(result: Result<T>) -> String {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(error) => format!("{error:#}"),
    }
}

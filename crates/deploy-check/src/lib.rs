//! Test-only crate: `tests/template_drift/` reads `template.yaml` and fails when what it deploys
//! disagrees with what the code uses (table keys and TTL, the stream view and the replier's filter,
//! environment variable names, secrets and their keys, IAM actions, metric names, build settings).
//!
//! It lives in its own crate because it needs every function's crate at once; it has no code of its own.

//! The one reader of `template.yaml`, the SAM template that defines what is deployed.
//!
//! - [`paths`]: where the repository and its template are ([`repo_root`], [`template_path`]).
//! - [`node`]: a YAML value with its path; strict readers whose errors say where, lenient ones for checks.
//! - [`intrinsic`]: CloudFormation's `Ref`, `GetAtt` and `Sub`, short (`!Ref X`) and long (`{"Ref": X}`).
//! - [`template`]: [`Template`], parsed once, and its [`Resource`]s by logical ID and type.
//! - [`table`]: [`TableSpec`], what a DynamoDB table resource says (keys, GSIs, stream, TTL).
//! - [`function`]: serverless [`Function`]s, their [`Event`]s (the stream mapping) and environment.
//! - [`iam`]: IAM [`Role`]s and the [`Grant`]s of their inline policies' Allow statements.
//! - [`secret`]: Secrets Manager [`Secret`]s and how their initial value is given.
//! - [`metrics`]: CloudWatch [`Alarm`]s and [`Dashboard`]s.
//!
//! Why one crate: the test kit builds local tables from the template, the local stream runner plays the
//! replier's event source mapping from it, and the drift test compares it with the code. Each used to carry
//! its own copy of the same YAML helpers; they now read the template the same way, with the same errors.
//!
//! Nothing here resolves the template (no parameter, condition or intrinsic is evaluated) or talks to AWS:
//! values are read as written, and a reader that needs a literal says so, naming the path, when it finds
//! an intrinsic instead.
//!
//! ```
//! let template = sam_template::Template::parse(
//!     "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      \
//!      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n      \
//!      KeySchema: [{AttributeName: id, KeyType: HASH}]\n",
//! )?;
//! assert_eq!(template.table("T")?.hash_key, "id");
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod function;
pub mod iam;
pub mod intrinsic;
pub mod metrics;
pub mod node;
pub mod paths;
pub mod secret;
pub mod table;
pub mod template;

pub use function::{EnvironmentVariable, Event, Function};
pub use iam::{Grant, Role};
pub use intrinsic::Intrinsic;
pub use metrics::{Alarm, Dashboard};
pub use node::Node;
pub use paths::{repo_root, template_path};
pub use secret::{Secret, SecretValue};
pub use table::{IndexSpec, TableSpec};
pub use template::{Resource, Template, resource_type};

//! `create-table --endpoint URL --table NAME [--template PATH]`
//!
//! Creates the comments table in a DynamoDB (Local) endpoint from the `CommentsTable` resource of
//! `template.yaml`, the same way the tests do, for local runs (`infra/dynamodb-local.sh create-table`).
//! Idempotent: if the table already exists it says so and exits 0.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use testkit::table::{self, CreateOutcome};

const USAGE: &str = "usage: create-table --endpoint URL --table NAME [--template PATH]";

#[derive(Debug)]
struct Args {
    endpoint: String,
    table: String,
    template: PathBuf,
}

fn parse_args() -> anyhow::Result<Option<Args>> {
    let mut endpoint = None;
    let mut table = None;
    let mut template = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--endpoint" => endpoint = Some(value("--endpoint")?),
            "--table" => table = Some(value("--table")?),
            "--template" => template = Some(PathBuf::from(value("--template")?)),
            "-h" | "--help" => return Ok(None),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    Ok(Some(Args {
        endpoint: endpoint.with_context(|| format!("--endpoint is required\n{USAGE}"))?,
        table: table.with_context(|| format!("--table is required\n{USAGE}"))?,
        template: template.unwrap_or_else(table::template_path),
    }))
}

#[expect(
    clippy::print_stderr,
    reason = "a command-line tool reports its errors on stderr"
)]
fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("create-table: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("create-table: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let Some(args) = parse_args()? else {
        println!("{USAGE}");
        return Ok(());
    };
    let spec = table::comments_table_spec(&args.template)?;
    let client = aws_sdk_dynamodb::Client::new(&testkit::sdk_config(&args.endpoint));
    match table::create_comments_table(&client, &args.table, &spec).await? {
        CreateOutcome::Created => println!(
            "created table {} at {} (key {}, stream {}, TTL {}, GSIs {})",
            args.table,
            args.endpoint,
            spec.hash_key,
            spec.stream_view_type.as_deref().unwrap_or("none"),
            spec.ttl_attribute.as_deref().unwrap_or("none"),
            spec.gsi_names().join(", ")
        ),
        CreateOutcome::AlreadyExisted => println!(
            "table {} already exists at {}; left as it is",
            args.table, args.endpoint
        ),
    }
    Ok(())
}

//! The test kit against the real DynamoDB Local: tables built from the template, isolation between
//! tests, and the guarantee that no java outlives the test process that started it.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeValue, IndexStatus, KeyType, ProjectionType, StreamViewType, TableStatus,
    TimeToLiveStatus,
};
use testkit::table;

#[tokio::test]
async fn a_fresh_table_is_the_template_table() {
    let local = testkit::dynamodb_local().await;
    let name = local.fresh_table().await.unwrap();
    let client = local.client();

    let table = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(table.table_status(), Some(&TableStatus::Active));
    let keys: Vec<_> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().clone()))
        .collect();
    assert_eq!(keys, [("comment_id", KeyType::Hash)]);

    let stream = table.stream_specification().unwrap();
    assert!(stream.stream_enabled());
    assert_eq!(
        stream.stream_view_type(),
        Some(&StreamViewType::NewAndOldImages)
    );
    let stream_arn = table.latest_stream_arn().unwrap();
    assert!(!stream_arn.is_empty());

    let mut gsis: Vec<_> = table.global_secondary_indexes().iter().collect();
    gsis.sort_by_key(|gsi| gsi.index_name().map(str::to_owned));
    let described: Vec<_> = gsis
        .iter()
        .map(|gsi| {
            let keys: Vec<_> = gsi
                .key_schema()
                .iter()
                .map(|k| (k.attribute_name(), k.key_type().clone()))
                .collect();
            let projection = gsi.projection().unwrap();
            (
                gsi.index_name().unwrap(),
                gsi.index_status().cloned(),
                keys,
                projection.projection_type().cloned(),
                projection.non_key_attributes().to_vec(),
            )
        })
        .collect();
    assert_eq!(
        described,
        [
            (
                "due",
                Some(IndexStatus::Active),
                vec![("due_shard", KeyType::Hash), ("due_at", KeyType::Range)],
                Some(ProjectionType::Include),
                vec!["account_id".to_owned()],
            ),
            (
                "retry_due",
                Some(IndexStatus::Active),
                vec![
                    ("status", KeyType::Hash),
                    ("next_attempt_at", KeyType::Range)
                ],
                Some(ProjectionType::KeysOnly),
                vec![],
            ),
        ]
    );

    let ttl = client
        .describe_time_to_live()
        .table_name(&name)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(ttl.attribute_name(), Some("expires_at"));

    // The streams client reaches the same instance and sees the table's stream.
    let described = local
        .streams_client()
        .describe_stream()
        .stream_arn(stream_arn)
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap();
    assert_eq!(described.table_name(), Some(name.as_str()));
    assert_eq!(
        described.stream_view_type().map(|v| v.as_str()),
        Some("NEW_AND_OLD_IMAGES")
    );
}

#[tokio::test]
async fn fresh_tables_are_distinct_and_share_no_items() {
    let local = testkit::dynamodb_local().await;
    let first = local.fresh_table().await.unwrap();
    let second = local.fresh_table().await.unwrap();
    assert_ne!(first, second);

    let client = local.client();
    let listed = client.list_tables().send().await.unwrap();
    assert!(listed.table_names().contains(&first));
    assert!(listed.table_names().contains(&second));

    client
        .put_item()
        .table_name(&first)
        .item("comment_id", AttributeValue::S("c1".into()))
        .send()
        .await
        .unwrap();
    let in_first = client.scan().table_name(&first).send().await.unwrap();
    let in_second = client.scan().table_name(&second).send().await.unwrap();
    assert_eq!(in_first.count(), 1);
    assert_eq!(in_second.count(), 0);
}

#[tokio::test]
async fn the_shared_instance_is_started_once_per_process() {
    let a = testkit::dynamodb_local().await;
    let b = testkit::dynamodb_local().await;
    assert!(std::ptr::eq(a, b));
    assert_eq!(a.endpoint, format!("http://127.0.0.1:{}", a.port()));
    assert!(java_running(a.java_pid()));
    assert_eq!(java_pids_on_port(a.port()), [a.java_pid()]);
}

#[tokio::test]
async fn create_comments_table_is_idempotent() {
    let local = testkit::dynamodb_local().await;
    let spec = table::comments_table_spec(table::template_path()).unwrap();
    let client = local.client();
    let name = format!("idempotent-{}", std::process::id());
    let first = table::create_comments_table(&client, &name, &spec)
        .await
        .unwrap();
    let second = table::create_comments_table(&client, &name, &spec)
        .await
        .unwrap();
    assert_eq!(first, table::CreateOutcome::Created);
    assert_eq!(second, table::CreateOutcome::AlreadyExisted);
}

#[tokio::test]
async fn an_owned_instance_stops_when_dropped() {
    let owned = testkit::start_dynamodb_local().await.unwrap();
    let port = owned.port();
    let java_pid = owned.java_pid();
    let client = owned.client();
    client.list_tables().send().await.unwrap();
    assert!(java_running(java_pid));
    assert_eq!(java_pids_on_port(port), [java_pid]);
    // It is not the shared instance.
    assert_ne!(port, testkit::dynamodb_local().await.port());

    drop(owned);

    assert!(!java_running(java_pid), "java {java_pid} survived the drop");
    assert_eq!(java_pids_on_port(port), Vec::<u32>::new());
    let error = client.list_tables().send().await.unwrap_err();
    assert!(
        aws_sdk_dynamodb::error::DisplayErrorContext(&error)
            .to_string()
            .contains("onnect"),
        "{error:?}"
    );
}

#[tokio::test]
async fn stop_keeps_the_endpoint_and_makes_calls_fail() {
    let owned = testkit::start_dynamodb_local().await.unwrap();
    let name = owned.fresh_table().await.unwrap();
    let client = owned.client();
    client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();

    owned.stop();
    owned.stop(); // idempotent

    assert!(!java_running(owned.java_pid()));
    assert!(
        client
            .describe_table()
            .table_name(&name)
            .send()
            .await
            .is_err()
    );
}

/// Set in the child test process that [`java_dies_with_its_test_process`] starts.
const CHILD_MODE: &str = "TESTKIT_WATCHDOG_CHILD";

/// The hard requirement: the shared instance lives in a static that is never dropped, yet its java must
/// go when the test process goes, whether the process exits normally or is killed with SIGKILL.
///
/// This test runs itself again as a child process (this same test binary, this test only) that starts
/// the shared instance and reports its java's pid; the parent then lets the child exit, or kills it.
#[tokio::test]
async fn java_dies_with_its_test_process() {
    if let Ok(mode) = std::env::var(CHILD_MODE) {
        let local = testkit::dynamodb_local().await;
        local.client().list_tables().send().await.unwrap();
        println!(
            "TESTKIT_CHILD java_pid={} port={}",
            local.java_pid(),
            local.port()
        );
        if mode == "hang" {
            // Wait to be killed.
            tokio::time::sleep(Duration::from_secs(600)).await;
            panic!("the parent test never killed this child");
        }
        // mode == "exit": return; the process exits without dropping the static instance.
        return;
    }

    for mode in ["exit", "hang"] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["java_dies_with_its_test_process", "--exact", "--nocapture"])
            .env(CHILD_MODE, mode)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let report = lines
            .by_ref()
            .map(Result::unwrap)
            .find(|line| line.starts_with("TESTKIT_CHILD "))
            .unwrap_or_else(|| panic!("the {mode} child reported no java pid"));
        let field = |name: &str| -> u32 {
            report
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(name))
                .unwrap()
                .parse()
                .unwrap()
        };
        let (java_pid, port) = (field("java_pid="), field("port="));

        if mode == "hang" {
            assert!(
                java_running(java_pid),
                "java should run while its test does"
            );
            child.kill().unwrap(); // SIGKILL: no destructor, no exit handler runs
        }
        // Read to the end, so the child never writes into a closed pipe.
        lines.for_each(drop);
        let status = child.wait().unwrap();
        if mode == "exit" {
            assert!(status.success(), "the exit child failed: {status}");
        }

        let deadline = Instant::now() + Duration::from_secs(20);
        while java_running(java_pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            !java_running(java_pid),
            "java {java_pid} outlived its test process ({mode})"
        );
        assert_eq!(
            java_pids_on_port(u16::try_from(port).unwrap()),
            Vec::<u32>::new()
        );
    }
}

/// Whether `pid` is a live DynamoDB Local (a zombie or a reused pid does not count).
fn java_running(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| contains(&cmdline, b"DynamoDBLocal.jar"))
}

/// The pids of every DynamoDB Local on the machine started with `-port <port>`.
fn java_pids_on_port(port: u16) -> Vec<u32> {
    let needle = format!("\0-port\0{port}\0");
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|pid: &u32| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                contains(&cmdline, b"DynamoDBLocal.jar") && contains(&cmdline, needle.as_bytes())
            })
        })
        .collect();
    pids.sort_unstable();
    pids
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

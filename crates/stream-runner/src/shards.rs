//! Shard discovery, the part of the event source mapping that decides which shards are read and when:
//! finding the stream's ARN, listing its shards (DescribeStream), taking iterators (GetShardIterator),
//! and the coordinator that starts a [`ShardWorker`] per shard once its parent is drained, as Lambda does.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::error::DisplayErrorContext;
use aws_sdk_dynamodbstreams::types::{Shard, ShardIteratorType};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tracing::{debug, error, warn};

use crate::context::{Context, StopSignal};
use crate::handle::bump;
use crate::template::StartingPosition;
use crate::worker::ShardWorker;

/// The stream's ARN: `source` itself if it is an ARN, else the table `source`'s latest stream, from
/// DescribeTable when a DynamoDB client is given, from ListStreams otherwise.
pub(crate) async fn resolve_stream_arn(
    streams: &Client,
    dynamodb: Option<&aws_sdk_dynamodb::Client>,
    source: &str,
) -> Result<String> {
    if source.starts_with("arn:") {
        return Ok(source.to_owned());
    }
    if let Some(dynamodb) = dynamodb {
        let table = dynamodb
            .describe_table()
            .table_name(source)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "DescribeTable {source}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
        return table
            .table()
            .and_then(|table| table.latest_stream_arn())
            .map(str::to_owned)
            .with_context(|| format!("table {source} has no stream"));
    }
    let mut latest: Option<(String, String)> = None;
    let mut start = None;
    loop {
        let page = streams
            .list_streams()
            .table_name(source)
            .set_exclusive_start_stream_arn(start)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("ListStreams {source}: {}", DisplayErrorContext(e)))?;
        for stream in page.streams() {
            if stream.table_name() != Some(source) {
                continue;
            }
            let (Some(arn), label) = (
                stream.stream_arn(),
                stream.stream_label().unwrap_or_default(),
            ) else {
                continue;
            };
            if latest
                .as_ref()
                .is_none_or(|(best, _)| label > best.as_str())
            {
                latest = Some((label.to_owned(), arn.to_owned()));
            }
        }
        start = page.last_evaluated_stream_arn().map(str::to_owned);
        if start.is_none() {
            break;
        }
    }
    latest
        .map(|(_, arn)| arn)
        .with_context(|| format!("table {source} has no stream"))
}

/// Every shard of the stream (DescribeStream, all pages).
pub(crate) async fn describe_shards(streams: &Client, stream_arn: &str) -> Result<Vec<Shard>> {
    let mut shards = Vec::new();
    let mut start = None;
    loop {
        let page = streams
            .describe_stream()
            .stream_arn(stream_arn)
            .set_exclusive_start_shard_id(start)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("DescribeStream {stream_arn}: {}", DisplayErrorContext(e))
            })?;
        let description = page
            .stream_description()
            .with_context(|| format!("DescribeStream {stream_arn} returned no description"))?;
        shards.extend(description.shards().iter().cloned());
        start = description.last_evaluated_shard_id().map(str::to_owned);
        if start.is_none() {
            return Ok(shards);
        }
    }
}

/// A shard iterator of `kind` (at `sequence_number` for the AT/AFTER kinds).
pub(crate) async fn get_iterator(
    streams: &Client,
    stream_arn: &str,
    shard_id: &str,
    kind: ShardIteratorType,
    sequence_number: Option<&str>,
) -> Result<String> {
    let output = streams
        .get_shard_iterator()
        .stream_arn(stream_arn)
        .shard_id(shard_id)
        .shard_iterator_type(kind.clone())
        .set_sequence_number(sequence_number.map(str::to_owned))
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "GetShardIterator {shard_id} {}: {}",
                kind.as_str(),
                DisplayErrorContext(e)
            )
        })?;
    output
        .shard_iterator()
        .map(str::to_owned)
        .with_context(|| format!("GetShardIterator {shard_id} returned no iterator"))
}

/// The shards known so far and how far each is.
#[derive(Default)]
pub(crate) struct ShardTable {
    shards: HashMap<String, ShardEntry>,
}

struct ShardEntry {
    parent: Option<String>,
    state: ShardState,
    start: ShardStart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShardState {
    /// Known, not started: its parent is still being read.
    Waiting,
    Running,
    /// Read to its end (or skipped by LATEST).
    Done,
}

/// Where a shard's reading starts.
#[derive(Debug, Clone)]
pub(crate) enum ShardStart {
    TrimHorizon,
    /// An iterator taken at start (LATEST).
    Iterator(String),
}

impl ShardTable {
    /// The table for the shards listed at start: with TRIM_HORIZON every shard waits for its turn;
    /// with LATEST the closed shards are skipped and the open ones start at their tip (an iterator is
    /// taken now, so that every record written after `start` returns is delivered).
    pub(crate) async fn at_start(
        streams: &Client,
        stream_arn: &str,
        shards: &[Shard],
        starting_position: StartingPosition,
    ) -> Result<Self> {
        let mut table = Self::default();
        for shard in shards {
            let Some(id) = shard.shard_id() else { continue };
            let closed = shard
                .sequence_number_range()
                .is_some_and(|range| range.ending_sequence_number().is_some());
            let (state, start) = match starting_position {
                StartingPosition::TrimHorizon => (ShardState::Waiting, ShardStart::TrimHorizon),
                // LATEST: records already in closed shards are old; open shards start at their tip.
                StartingPosition::Latest if closed => (ShardState::Done, ShardStart::TrimHorizon),
                StartingPosition::Latest => {
                    let iterator =
                        get_iterator(streams, stream_arn, id, ShardIteratorType::Latest, None)
                            .await?;
                    (ShardState::Waiting, ShardStart::Iterator(iterator))
                }
            };
            table.shards.insert(
                id.to_owned(),
                ShardEntry {
                    parent: shard.parent_shard_id().map(str::to_owned),
                    state,
                    start,
                },
            );
        }
        Ok(table)
    }

    /// How many shards are known.
    pub(crate) fn len(&self) -> usize {
        self.shards.len()
    }

    /// Shards that may start: waiting, and their parent is done or no longer in the stream (trimmed),
    /// like Lambda, which processes a child only after its parent is drained.
    fn ready(&self) -> Vec<String> {
        let mut ready: Vec<String> = self
            .shards
            .iter()
            .filter(|(_, entry)| entry.state == ShardState::Waiting)
            .filter(|(_, entry)| {
                entry.parent.as_ref().is_none_or(|parent| {
                    self.shards
                        .get(parent)
                        .is_none_or(|parent| parent.state == ShardState::Done)
                })
            })
            .map(|(id, _)| id.clone())
            .collect();
        ready.sort();
        ready
    }

    /// Adds shards not seen before (new shards start at TRIM_HORIZON, whatever the starting position,
    /// so nothing written to them before we noticed them is lost).
    fn add_new(&mut self, shards: &[Shard]) -> usize {
        let mut added = 0;
        for shard in shards {
            let Some(id) = shard.shard_id() else { continue };
            if !self.shards.contains_key(id) {
                self.shards.insert(
                    id.to_owned(),
                    ShardEntry {
                        parent: shard.parent_shard_id().map(str::to_owned),
                        state: ShardState::Waiting,
                        start: ShardStart::TrimHorizon,
                    },
                );
                added += 1;
            }
        }
        added
    }
}

/// Discovers shards, starts each when its parent is done, and on stop waits for all shard tasks.
pub(crate) async fn coordinate(context: Arc<Context>, mut table: ShardTable, mut stop: StopSignal) {
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut discovery = tokio::time::interval(context.options.shard_discovery_interval);
    discovery.set_missed_tick_behavior(MissedTickBehavior::Delay);
    discovery.reset(); // the shards were just listed by `start`
    let mut discovery_failures = 0_u32;

    loop {
        for shard_id in table.ready() {
            let Some(entry) = table.shards.get_mut(&shard_id) else {
                continue;
            };
            entry.state = ShardState::Running;
            let start = entry.start.clone();
            bump(&context.shared.counters.shards_started, 1);
            debug!(shard_id = %shard_id, "shard reading started");
            let handle = tasks.spawn(
                ShardWorker::new(Arc::clone(&context), shard_id.clone(), start, stop.clone()).run(),
            );
            running.insert(handle.id(), shard_id);
        }

        tokio::select! {
            () = stop.stopped() => break,
            Some(joined) = tasks.join_next_with_id() => {
                let (id, panicked) = match joined {
                    Ok((id, ())) => (id, false),
                    Err(e) => (e.id(), e.is_panic()),
                };
                if let Some(shard_id) = running.remove(&id) {
                    if panicked {
                        error!(shard_id = %shard_id, "shard task panicked; the shard is skipped");
                    } else {
                        debug!(shard_id = %shard_id, "shard read to its end");
                    }
                    bump(&context.shared.counters.shards_finished, 1);
                    if let Some(entry) = table.shards.get_mut(&shard_id) {
                        entry.state = ShardState::Done;
                    }
                }
            }
            _ = discovery.tick() => {
                match describe_shards(&context.streams, &context.stream_arn).await {
                    Ok(shards) => {
                        discovery_failures = 0;
                        let added = table.add_new(&shards);
                        if added > 0 {
                            debug!(added, known = table.shards.len(), "new shards found");
                        }
                    }
                    Err(e) => {
                        discovery_failures += 1;
                        // The first failures are common while DynamoDB Local restarts; say it once.
                        if discovery_failures == 1 || discovery_failures.is_multiple_of(60) {
                            warn!(
                                stream_arn = %context.stream_arn,
                                failures = discovery_failures,
                                error = %format!("{e:#}"),
                                "DescribeStream failed; will retry"
                            );
                        }
                    }
                }
            }
        }
    }

    // Stopping: every shard task sees the same signal and returns promptly.
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined
            && e.is_panic()
        {
            error!("shard task panicked while stopping");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parent: Option<&str>) -> Shard {
        Shard::builder()
            .shard_id(id)
            .set_parent_shard_id(parent.map(str::to_owned))
            .build()
    }

    fn set(table: &mut ShardTable, id: &str, state: ShardState) {
        if let Some(entry) = table.shards.get_mut(id) {
            entry.state = state;
        }
    }

    #[test]
    fn a_child_shard_starts_only_after_its_parent_is_drained() {
        let mut table = ShardTable::default();
        assert_eq!(table.add_new(&[shard("a", None), shard("b", Some("a"))]), 2);
        assert_eq!(table.ready(), ["a"]);
        set(&mut table, "a", ShardState::Running);
        assert!(table.ready().is_empty());
        // A grandchild appears while its parent waits.
        assert_eq!(table.add_new(&[shard("a", None), shard("c", Some("b"))]), 1);
        set(&mut table, "a", ShardState::Done);
        assert_eq!(table.ready(), ["b"]);
        set(&mut table, "b", ShardState::Done);
        assert_eq!(table.ready(), ["c"]);
    }

    #[test]
    fn a_shard_whose_parent_left_the_stream_starts_at_once_and_siblings_run_together() {
        let mut table = ShardTable::default();
        table.add_new(&[
            shard("x", Some("trimmed")),
            shard("y", Some("trimmed")),
            shard("z", None),
        ]);
        assert_eq!(table.ready(), ["x", "y", "z"]);
    }
}

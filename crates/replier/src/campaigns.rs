//! An account's campaigns, read from the campaigns table once per `CAMPAIGNS_TTL_SECS` and compiled once per
//! read, never once per comment. The comments of one account that arrive together share one read: the first
//! asks, the others wait for its answer. A failed read is not cached (the next comment asks again) and fails
//! its comment, which the stream then delivers again: a comment is never answered by guesswork.

use reply_core::campaign::AccountCampaigns;
use reply_core::store::StoreError;
use reply_core::store::campaigns::CampaignSource;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

type Slot = Arc<OnceCell<Arc<AccountCampaigns>>>;

/// The cache in front of a [`CampaignSource`].
#[derive(Debug)]
pub struct CampaignCache {
    source: Arc<dyn CampaignSource>,
    ttl: Duration,
    slots: Mutex<HashMap<String, (Instant, Slot)>>,
}

impl CampaignCache {
    pub fn new(source: Arc<dyn CampaignSource>, ttl: Duration) -> Self {
        Self {
            source,
            ttl,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The account's campaigns, as read at most `ttl` ago.
    pub async fn of(&self, account_id: &str) -> Result<Arc<AccountCampaigns>, StoreError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            // A slot whose read failed stays empty, and the next caller reads again.
            match slots
                .get(account_id)
                .filter(|(at, _)| at.elapsed() < self.ttl)
            {
                Some((_, slot)) => slot.clone(),
                None => {
                    let slot: Slot = Arc::default();
                    slots.insert(account_id.to_owned(), (Instant::now(), slot.clone()));
                    slot
                }
            }
        };
        slot.get_or_try_init(|| async {
            let campaigns = self.source.account_campaigns(account_id).await?;
            Ok(Arc::new(AccountCampaigns::new(campaigns)))
        })
        .await
        .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use reply_core::campaign::{Campaign, Format};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug, Default)]
    struct Counting {
        reads: AtomicUsize,
        fail: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl CampaignSource for Counting {
        async fn account_campaigns(&self, account_id: &str) -> Result<Vec<Campaign>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            if self.fail.load(Ordering::SeqCst) {
                return Err(StoreError::other("reading", anyhow::anyhow!("down")));
            }
            let file = format!("id: c\naccount: '{account_id}'\nmatch: any\nreply: [hi]\n");
            Ok(vec![Campaign::from_file(&file, Format::Yaml).map_err(
                |e| StoreError::other("parsing", anyhow::anyhow!("{e}")),
            )?])
        }
    }

    #[tokio::test]
    async fn concurrent_comments_of_an_account_share_one_read_until_the_ttl() {
        let source = Arc::new(Counting::default());
        let cache = CampaignCache::new(source.clone(), Duration::from_millis(300));
        let reads = futures::future::join_all((0..25).map(|_| cache.of("1"))).await;
        assert!(reads.iter().all(|r| r.as_ref().is_ok_and(|c| c.len() == 1)));
        assert_eq!(source.reads.load(Ordering::SeqCst), 1);
        cache.of("2").await.unwrap();
        assert_eq!(
            source.reads.load(Ordering::SeqCst),
            2,
            "one read per account"
        );
        cache.of("1").await.unwrap();
        assert_eq!(source.reads.load(Ordering::SeqCst), 2, "cached");
        tokio::time::sleep(Duration::from_millis(350)).await;
        cache.of("1").await.unwrap();
        assert_eq!(
            source.reads.load(Ordering::SeqCst),
            3,
            "read again after the TTL"
        );
    }

    #[tokio::test]
    async fn a_failed_read_is_not_cached() {
        let source = Arc::new(Counting::default());
        let cache = CampaignCache::new(source.clone(), Duration::from_secs(60));
        source.fail.store(true, Ordering::SeqCst);
        assert!(cache.of("1").await.is_err());
        source.fail.store(false, Ordering::SeqCst);
        assert!(cache.of("1").await.is_ok());
        assert_eq!(source.reads.load(Ordering::SeqCst), 2);
    }
}

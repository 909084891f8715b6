//! What a campaign does, drawn in full from its seed before it starts: the comments (accounts, Live, the
//! account whose token Meta rejects until it is fixed), the Graph API fault each comment meets, and the
//! webhook deliveries (split into POSTs of random sizes, 30% of comments delivered twice, in shuffled order).

use e2e::comments;
use graph_sim::{Fault, FaultKind};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reply_core::sample::SampleComment;

/// Feed accounts; comments spread over them.
pub const FEED_ACCOUNTS: [&str; 5] = [
    "17841400000003001",
    "17841400000003002",
    "17841400000003003",
    "17841400000003004",
    "17841400000003005",
];
/// The account whose comments are on a Live broadcast.
pub const LIVE_ACCOUNT: &str = "17841400000003101";
pub const LIVE_MEDIA: &str = "17900000000003101";
/// The account whose token Meta rejects (190) until the campaign fixes it.
pub const TOKEN_ACCOUNT: &str = "17841400000003201";
/// The feed account that has campaigns ([`CAMPAIGNS`]): its comments that ask for the link get one of two
/// texts, the others are skipped without a call. The other accounts have none and keep `REPLY_TEXT`.
pub const CAMPAIGN_ACCOUNT: &str = FEED_ACCOUNTS[0];
pub const CAMPAIGNS: [&str; 2] = [
    "id: link\nkeywords: [link]\nreply: ['Link for {username}', 'Here you go, {username}']\n\
     public_reply: ['Sent you a DM, {username}!', 'Check your DMs, {username}']\n",
    "id: paused\nmatch: any\nstatus: paused\npriority: 9\nreply: ['never sent']\n",
];
/// What a comment on [`CAMPAIGN_ACCOUNT`] that no campaign answers says.
const UNASKED: &str = "nice post 😍";

/// A Graph API fault a comment meets on its first request (an unknown code: on every request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GraphFault {
    /// `500` with Meta's transient `code 2`.
    ServerError,
    /// `500` after Meta processed the reply.
    ServerErrorAfterSending,
    /// The connection closed after Meta processed the reply.
    HangUpAfterSending,
    /// No answer within the HTTP timeout, the reply sent.
    TimeoutAfterSending,
    /// No answer within the HTTP timeout, nothing sent.
    Timeout,
    /// `613`: the account is throttled (no regain estimate).
    Throttled,
    /// `368`: the account is blocked for a while (no estimate: the replier's `BLOCKED_PAUSE_SECS`).
    Blocked,
    /// A code Meta does not document.
    UnknownCode,
}

impl GraphFault {
    pub fn fault(self, comment_id: &str, http_timeout_ms: u64) -> Fault {
        let kind = match self {
            Self::ServerError => FaultKind::HttpStatus {
                status: 500,
                body: None,
                process: false,
            },
            Self::ServerErrorAfterSending => FaultKind::HttpStatus {
                status: 500,
                body: None,
                process: true,
            },
            Self::HangUpAfterSending => FaultKind::CloseConnection { process: true },
            Self::TimeoutAfterSending => FaultKind::Delay {
                ms: http_timeout_ms + 500,
                deliver: true,
            },
            Self::Timeout => FaultKind::Delay {
                ms: http_timeout_ms + 500,
                deliver: false,
            },
            Self::Throttled => FaultKind::GraphError {
                code: 613,
                subcode: None,
                message: None,
                status: None,
                is_transient: None,
                estimated_time_to_regain_access: None,
            },
            Self::Blocked => FaultKind::GraphError {
                code: 368,
                subcode: None,
                message: None,
                status: None,
                is_transient: None,
                estimated_time_to_regain_access: None,
            },
            Self::UnknownCode => FaultKind::GraphError {
                code: 4242,
                subcode: None,
                message: None,
                status: Some(400),
                is_transient: Some(false),
                estimated_time_to_regain_access: None,
            },
        };
        let fault = Fault::new(kind).for_comment(comment_id);
        self.limit(fault)
    }

    /// The fault on `comment_id`'s public reply.
    pub fn public_fault(self, comment_id: &str, http_timeout_ms: u64) -> Fault {
        self.fault(comment_id, http_timeout_ms).on_public_replies()
    }

    fn limit(self, fault: Fault) -> Fault {
        // Meta refuses an unknown code for good: every attempt meets it (a retry after a lost outcome too).
        if self == Self::UnknownCode {
            fault
        } else {
            fault.once()
        }
    }
}

/// The faults a public reply may meet (on its first request): Meta accepts a second public reply, so the
/// ones after publishing must be reconciled, never posted again.
const PUBLIC_FAULTS: [GraphFault; 4] = [
    GraphFault::ServerError,
    GraphFault::ServerErrorAfterSending,
    GraphFault::HangUpAfterSending,
    GraphFault::TimeoutAfterSending,
];

/// One planned comment.
#[derive(Debug, Clone)]
pub struct Planned {
    pub comment: SampleComment,
    pub fault: Option<GraphFault>,
    /// The fault its public reply meets (campaign account only).
    pub public_fault: Option<GraphFault>,
    /// False when no campaign answers it: it must end `SKIPPED` without a request.
    pub answered: bool,
}

#[derive(Debug)]
pub struct Plan {
    pub seed: u64,
    pub comments: Vec<Planned>,
    /// The POSTs, in the order Meta delivers them.
    pub posts: Vec<Vec<SampleComment>>,
    /// Comments delivered more than once.
    pub duplicated: usize,
}

impl Plan {
    pub fn new(seed: u64, size: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        // Its own stream of draws, so public replies leave the rest of a seed's plan as it was.
        let mut public_rng = StdRng::seed_from_u64(seed ^ 0x7075_626c_6963);
        let live = size * 15 / 100;
        let token = size * 5 / 100;
        let feed = size - live - token;
        let mut all: Vec<SampleComment> = Vec::with_capacity(size);
        for (i, account) in FEED_ACCOUNTS.iter().enumerate() {
            let share = feed / FEED_ACCOUNTS.len() + usize::from(i < feed % FEED_ACCOUNTS.len());
            all.extend(comments(account, 300 + i as u32, share));
        }
        all.extend(comments(LIVE_ACCOUNT, 310, live).into_iter().map(|mut c| {
            c.live = true;
            c.media_product_type = "LIVE".to_owned();
            c.media_id = LIVE_MEDIA.to_owned();
            c
        }));
        all.extend(comments(TOKEN_ACCOUNT, 320, token));
        let planned: Vec<Planned> = all
            .into_iter()
            .map(|mut comment| {
                if comment.account_id == CAMPAIGN_ACCOUNT && rng.random_bool(0.3) {
                    comment.text = UNASKED.to_owned();
                    return Planned {
                        comment,
                        fault: None,
                        public_fault: None,
                        answered: false,
                    };
                }
                let fault = if comment.account_id == TOKEN_ACCOUNT {
                    None // its first request meets the rejected token
                } else {
                    draw_fault(&mut rng)
                };
                let public_fault = (comment.account_id == CAMPAIGN_ACCOUNT
                    && public_rng.random_bool(0.3))
                .then(|| PUBLIC_FAULTS[public_rng.random_range(0..PUBLIC_FAULTS.len())]);
                Planned {
                    comment,
                    fault,
                    public_fault,
                    answered: true,
                }
            })
            .collect();

        let mut deliveries: Vec<SampleComment> =
            planned.iter().map(|p| p.comment.clone()).collect();
        let mut duplicated = 0;
        for p in &planned {
            if rng.random_bool(0.3) {
                deliveries.push(p.comment.clone());
                duplicated += 1;
            }
        }
        deliveries.shuffle(&mut rng);
        // A Live broadcast's comments come in bursts: they get POSTs of their own, so that a stream batch
        // holds more Live comments than the Live budget grants at once.
        let (live, other): (Vec<SampleComment>, Vec<SampleComment>) =
            deliveries.into_iter().partition(|c| c.live);
        let mut posts = Vec::new();
        split_into_posts(&mut rng, &live, 40..=50, &mut posts);
        split_into_posts(&mut rng, &other, 1..=40, &mut posts);
        posts.shuffle(&mut rng);
        Self {
            seed,
            comments: planned,
            posts,
            duplicated,
        }
    }
}

/// `deliveries` in POSTs of `sizes` changes; a POST never holds the same change twice (a duplicate goes to a
/// POST of its own instead).
fn split_into_posts(
    rng: &mut StdRng,
    deliveries: &[SampleComment],
    sizes: std::ops::RangeInclusive<usize>,
    posts: &mut Vec<Vec<SampleComment>>,
) {
    let mut rest = deliveries;
    while !rest.is_empty() {
        let n = rng.random_range(sizes.clone()).min(rest.len());
        let (post, tail) = rest.split_at(n);
        let mut unique: Vec<SampleComment> = Vec::with_capacity(post.len());
        for c in post {
            if unique.iter().any(|u| u.comment_id == c.comment_id) {
                posts.push(vec![c.clone()]);
            } else {
                unique.push(c.clone());
            }
        }
        posts.push(unique);
        rest = tail;
    }
}

fn draw_fault(rng: &mut StdRng) -> Option<GraphFault> {
    let roll: f64 = rng.random();
    let table = [
        (0.06, GraphFault::ServerError),
        (0.05, GraphFault::ServerErrorAfterSending),
        (0.05, GraphFault::HangUpAfterSending),
        (0.04, GraphFault::TimeoutAfterSending),
        (0.03, GraphFault::Timeout),
        (0.04, GraphFault::Throttled),
        (0.01, GraphFault::Blocked),
        (0.02, GraphFault::UnknownCode),
    ];
    let mut edge = 0.0;
    for (p, fault) in table {
        edge += p;
        if roll < edge {
            return Some(fault);
        }
    }
    None
}

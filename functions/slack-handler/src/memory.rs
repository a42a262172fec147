//! In-memory adapters of the Slack ports, for tests: a queue that keeps its jobs (and can be
//! made slow or refuse), a responder that keeps its posts (and can be made to fail), and the
//! table's Slack items with the store's rules (usable once, unexpired, 5 posts per URL).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use capstan_slack::{Message, ResponseUrl};
use capstan_store::slack::{
    Claim, ClaimError, PostSlot, PutRequestError, RequestState, SlackRequest, MAX_POSTS_PER_URL,
};
use capstan_store::{LogEntry, StoreError};
use chrono::{DateTime, Utc};

use crate::job::Job;
use crate::ports::{PostError, Queue, QueueError, Requests, Responder};
use crate::{Parts, ACK_BUDGET, QUEUE_RESERVE};

/// The in-memory Slack parts a test drives, each kept to read or program.
#[derive(Clone, Default)]
pub struct MemoryParts {
    /// The work queue.
    pub queue: Arc<MemoryQueue>,
    /// The posts to `response_url`s.
    pub responder: Arc<MemoryResponder>,
    /// The confirmation requests and post marks.
    pub requests: Arc<MemoryRequests>,
}

impl MemoryParts {
    /// The handler's parts over these, verifying with `secret`, with the production budgets
    /// and Slack's own `response_url`s only.
    pub fn parts(&self, secret: &str) -> Parts {
        Parts {
            verifier: capstan_slack::Verifier::new(secret).into(),
            queue: self.queue.clone(),
            responder: self.responder.clone(),
            requests: self.requests.clone(),
            response_prefix: None,
            ack_budget: ACK_BUDGET,
            queue_reserve: QUEUE_RESERVE,
        }
    }
}

/// A queue in memory.
#[derive(Default)]
pub struct MemoryQueue {
    /// The jobs sent, oldest first.
    pub jobs: Mutex<Vec<Job>>,
    /// Each send waits this long first (AWS answering slowly).
    pub delay: Mutex<Option<Duration>>,
    /// Each send fails with this.
    pub refuse: Mutex<Option<String>>,
}

impl MemoryQueue {
    /// The jobs sent so far, and empties the queue.
    pub fn take(&self) -> Vec<Job> {
        std::mem::take(&mut *self.jobs.lock().unwrap())
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, job: &Job) -> Result<(), QueueError> {
        let delay = *self.delay.lock().unwrap();
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        if let Some(e) = self.refuse.lock().unwrap().clone() {
            return Err(QueueError(e));
        }
        self.jobs.lock().unwrap().push(job.clone());
        Ok(())
    }
}

/// A responder in memory.
#[derive(Default)]
pub struct MemoryResponder {
    /// What was posted where, oldest first.
    pub posts: Mutex<Vec<(String, Message)>>,
    /// The next this-many posts fail as transient.
    pub fail_next: Mutex<u32>,
}

impl MemoryResponder {
    /// The messages posted so far.
    pub fn messages(&self) -> Vec<Message> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .map(|(_, m)| m.clone())
            .collect()
    }
}

#[async_trait]
impl Responder for MemoryResponder {
    async fn post(&self, url: &ResponseUrl, message: &Message) -> Result<(), PostError> {
        {
            let mut fail = self.fail_next.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err(PostError::Transient("connection reset (injected)".into()));
            }
        }
        self.posts
            .lock()
            .unwrap()
            .push((url.as_str().to_string(), message.clone()));
        Ok(())
    }
}

/// The table's Slack items in memory.
#[derive(Default)]
pub struct MemoryRequests {
    /// The requests by id.
    pub requests: Mutex<BTreeMap<String, SlackRequest>>,
    /// Posts counted per URL.
    pub counts: Mutex<BTreeMap<String, u32>>,
    /// Per URL and post key: the slot granted, and whether the post was marked made.
    pub marks: Mutex<BTreeMap<(String, String), (u32, bool)>>,
    /// Audit entries recorded.
    pub audit: Mutex<Vec<LogEntry>>,
}

#[async_trait]
impl Requests for MemoryRequests {
    async fn put(&self, request: &SlackRequest) -> Result<(), PutRequestError> {
        let mut all = self.requests.lock().unwrap();
        match all.get(&request.id) {
            Some(stored) if stored == request => Ok(()),
            Some(stored) => Err(PutRequestError::Exists {
                id: request.id.clone(),
                stored: Box::new(stored.clone()),
            }),
            None => {
                all.insert(request.id.clone(), request.clone());
                Ok(())
            }
        }
    }

    async fn get(&self, id: &str) -> Result<Option<SlackRequest>, StoreError> {
        Ok(self.requests.lock().unwrap().get(id).cloned())
    }

    async fn claim(
        &self,
        id: &str,
        by: &str,
        action: Claim,
        now: DateTime<Utc>,
    ) -> Result<SlackRequest, ClaimError> {
        let mut all = self.requests.lock().unwrap();
        let Some(r) = all.get_mut(id) else {
            return Err(ClaimError::NotFound);
        };
        if r.state != RequestState::Pending {
            return Err(ClaimError::AlreadyUsed {
                state: r.state.clone(),
            });
        }
        if r.is_expired(now) {
            return Err(ClaimError::Expired { expires: r.expires });
        }
        r.state = action.state(by, now);
        Ok(r.clone())
    }

    async fn post_slot(
        &self,
        url: &str,
        post_key: &str,
        _now: DateTime<Utc>,
    ) -> Result<PostSlot, StoreError> {
        let mut marks = self.marks.lock().unwrap();
        let mark = (url.to_string(), post_key.to_string());
        if let Some(&(slot, posted)) = marks.get(&mark) {
            return Ok(if posted {
                PostSlot::AlreadyPosted
            } else {
                PostSlot::Granted { n: slot }
            });
        }
        let mut counts = self.counts.lock().unwrap();
        let n = counts.entry(url.to_string()).or_default();
        if *n >= MAX_POSTS_PER_URL {
            return Ok(PostSlot::Exhausted);
        }
        *n += 1;
        marks.insert(mark, (*n, false));
        Ok(PostSlot::Granted { n: *n })
    }

    async fn mark_posted(&self, url: &str, post_key: &str) -> Result<(), StoreError> {
        if let Some(m) = self
            .marks
            .lock()
            .unwrap()
            .get_mut(&(url.to_string(), post_key.to_string()))
        {
            m.1 = true;
        }
        Ok(())
    }

    async fn record(&self, entry: &LogEntry, _now: DateTime<Utc>) -> Result<(), StoreError> {
        self.audit.lock().unwrap().push(entry.clone());
        Ok(())
    }
}

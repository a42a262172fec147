//! Slack's requests and post bookkeeping against moto: a request stored once, claimed once
//! (by whoever comes first, never after its expiry), and at most five posts per `response_url`,
//! each `post_key` once, with the URL itself never in the table.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use capstan_moto::Moto;
use capstan_store::slack::{
    Claim, ClaimError, PostSlot, PutRequestError, RequestState, SlackRequest, MAX_POSTS_PER_URL,
    POST_WINDOW,
};
use capstan_store::Store;
use chrono::{DateTime, Duration, Utc};
use tokio::sync::Barrier;

const TABLE: &str = "capstan-state";
const URL: &str = "https://hooks.slack.com/commands/T0001/1234567890/Zq7SeCrEtToKeN";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn t0() -> DateTime<Utc> {
    t("2026-11-23T03:00:00.500Z")
}

async fn store(moto: &Moto) -> (Store, Client) {
    let client = Client::new(&moto.sdk_config().await);
    let store = Store::new(client.clone(), TABLE);
    store.create_table().await.unwrap();
    (store, client)
}

fn request(id: &str) -> SlackRequest {
    SlackRequest {
        id: id.into(),
        user: "U-ASKER".into(),
        channel: "C-OPS".into(),
        team: "T0001".into(),
        text: "scale api 40 --force".into(),
        summary: "api: desired 3 -> 40, past the cap (force)".into(),
        response_url: "https://hooks.slack.com/commands/T0001/1/request-url".into(),
        created: t0(),
        expires: t0() + Duration::minutes(15),
        state: RequestState::Pending,
    }
}

/// A store whose requests reach moto one at a time. moto's conditional writes are not atomic
/// under concurrent requests (its threaded server checks a condition and writes without a
/// lock: with plain boto3, 8 processes updating one item under `st = :pending` saw two or more
/// winners in 6 of 20 trials), while DynamoDB serializes the writes to an item. Requests sent
/// one at a time stand in for that, and the tasks still race for the item.
async fn serial_store(moto: &Moto) -> Store {
    let cfg = moto.sdk_config().await;
    let addr = format!("127.0.0.1:{}", moto.port());
    let conf = aws_sdk_dynamodb::config::Builder::from(&cfg)
        .http_client(serial::Serial::new(addr))
        .build();
    let store = Store::new(Client::from_conf(conf), TABLE);
    store.create_table().await.unwrap();
    store
}

mod serial {
    use std::io;
    use std::sync::Arc;

    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::Mutex;

    /// An HTTP/1.0 client to one address that sends one request at a time (each waits for
    /// the previous answer).
    #[derive(Debug, Clone)]
    pub struct Serial {
        addr: String,
        lock: Arc<Mutex<()>>,
    }

    impl Serial {
        pub fn new(addr: String) -> Serial {
            Serial {
                addr,
                lock: Arc::new(Mutex::new(())),
            }
        }
    }

    impl HttpClient for Serial {
        fn http_connector(
            &self,
            _settings: &HttpConnectorSettings,
            _components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    impl HttpConnector for Serial {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let this = self.clone();
            HttpConnectorFuture::new(async move {
                let _one_at_a_time = this.lock.lock().await;
                send(&this.addr, request)
                    .await
                    .map_err(|e| ConnectorError::io(e.into()))
            })
        }
    }

    async fn send(addr: &str, request: HttpRequest) -> io::Result<HttpResponse> {
        let uri = request.uri();
        let after_scheme = uri.split_once("://").map_or(uri, |(_, rest)| rest);
        let target = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
        let mut head = format!("{} {target} HTTP/1.0\r\n", request.method());
        for (k, v) in request.headers().iter() {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        let body = request.body().bytes().unwrap_or_default();
        if !request.headers().contains_key("host") {
            head.push_str(&format!("host: {addr}\r\n"));
        }
        if !request.headers().contains_key("content-length") {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| io::Error::other("no end of headers"))?;
        let text = std::str::from_utf8(&raw[..end]).map_err(io::Error::other)?;
        let mut lines = text.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other("no status"))?;
        let status = StatusCode::try_from(status).map_err(io::Error::other)?;
        let mut response = HttpResponse::new(status, SdkBody::from(raw[end + 4..].to_vec()));
        for line in lines {
            if let Some((k, v)) = line.split_once(':') {
                response
                    .headers_mut()
                    .append(k.trim().to_string(), v.trim().to_string());
            }
        }
        Ok(response)
    }
}

/// Every attribute of every item, as text (items and attributes in order).
async fn table_text(client: &Client) -> String {
    let out = client.scan().table_name(TABLE).send().await.unwrap();
    assert!(out.last_evaluated_key().is_none(), "one page");
    let items: BTreeSet<String> = out
        .items()
        .iter()
        .map(|item| format!("{:?}", item.iter().collect::<BTreeMap<_, _>>()))
        .collect();
    format!("{items:?}")
}

#[tokio::test]
async fn a_request_is_stored_and_read_back() {
    let moto = Moto::start().await;
    let (store, client) = store(&moto).await;
    let r = request("req-1");
    store.put_request(&r).await.unwrap();
    assert_eq!(store.request("req-1").await.unwrap(), Some(r.clone()));
    assert_eq!(store.request("req-2").await.unwrap(), None);
    // The TTL is the expiry.
    let item = client
        .get_item()
        .table_name(TABLE)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("slack#req-1".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("request".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let ttl: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    assert_eq!(ttl, r.expires.timestamp() + 1, "the next whole second");
}

#[tokio::test]
async fn a_second_put_is_refused_unless_it_is_the_same_request() {
    let moto = Moto::start().await;
    let (store, _) = store(&moto).await;
    let r = request("req-1");
    store.put_request(&r).await.unwrap();
    // A retried worker puts the very same request: fine, also once it is claimed.
    store.put_request(&r).await.unwrap();
    store
        .claim_request(
            "req-1",
            "U-ASKER",
            Claim::Confirm,
            t0() + Duration::minutes(1),
        )
        .await
        .unwrap();
    store.put_request(&r).await.unwrap();
    assert!(
        matches!(
            store.request("req-1").await.unwrap().unwrap().state,
            RequestState::Confirmed { .. }
        ),
        "the re-put changed nothing"
    );
    // Another request under the same id.
    let mut other = request("req-1");
    other.text = "scale api 2".into();
    match store.put_request(&other).await {
        Err(e @ PutRequestError::Exists { .. }) => {
            assert!(!e.is_retryable());
            let PutRequestError::Exists { id, stored } = e else {
                unreachable!()
            };
            assert_eq!(id, "req-1");
            assert_eq!(stored.text, r.text);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.request("req-1").await.unwrap().unwrap().text,
        r.text,
        "not overwritten"
    );
    // A request that would wait too long is not stored.
    let mut long = request("req-long");
    long.expires = long.created + Duration::minutes(31);
    assert!(matches!(
        store.put_request(&long).await,
        Err(PutRequestError::Invalid { .. })
    ));
    assert_eq!(store.request("req-long").await.unwrap(), None);
}

#[tokio::test]
async fn the_requester_confirms_once_and_a_second_claim_says_who_and_when() {
    let moto = Moto::start().await;
    let (store, _) = store(&moto).await;
    store.put_request(&request("req-1")).await.unwrap();
    let at = t0() + Duration::seconds(42) + Duration::microseconds(123_456);
    let done = store
        .claim_request("req-1", "U-ASKER", Claim::Confirm, at)
        .await
        .unwrap();
    let confirmed = RequestState::Confirmed {
        by: "U-ASKER".into(),
        at,
    };
    assert_eq!(done.state, confirmed);
    assert_eq!(done.text, "scale api 40 --force");
    assert_eq!(store.request("req-1").await.unwrap().unwrap(), done);

    // A second click, by someone else or to cancel: refused, nothing changed.
    let later = at + Duration::seconds(5);
    for (by, action) in [("U-OTHER", Claim::Confirm), ("U-ASKER", Claim::Cancel)] {
        match store.claim_request("req-1", by, action, later).await {
            Err(ClaimError::AlreadyUsed { state }) => assert_eq!(state, confirmed),
            other => panic!("{other:?}"),
        }
    }
    // The same claim again (its first answer lost, or a double click): recognisable.
    let again = store
        .claim_request("req-1", "U-ASKER", Claim::Confirm, later)
        .await
        .unwrap_err();
    assert!(again.is_claim_by("U-ASKER", Claim::Confirm), "{again:?}");
    assert!(!again.is_retryable());
    assert_eq!(store.request("req-1").await.unwrap().unwrap(), done);
}

#[tokio::test]
async fn a_cancelled_request_cannot_be_confirmed() {
    let moto = Moto::start().await;
    let (store, _) = store(&moto).await;
    store.put_request(&request("req-1")).await.unwrap();
    let at = t0() + Duration::minutes(2);
    let done = store
        .claim_request("req-1", "U-ASKER", Claim::Cancel, at)
        .await
        .unwrap();
    let cancelled = RequestState::Cancelled {
        by: "U-ASKER".into(),
        at,
    };
    assert_eq!(done.state, cancelled);
    match store
        .claim_request(
            "req-1",
            "U-ASKER",
            Claim::Confirm,
            at + Duration::seconds(1),
        )
        .await
    {
        Err(ClaimError::AlreadyUsed { state }) => assert_eq!(state, cancelled),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_claim_after_expiry_is_refused_and_changes_nothing() {
    let moto = Moto::start().await;
    let (store, client) = store(&moto).await;
    let r = request("req-1");
    store.put_request(&r).await.unwrap();
    let before = table_text(&client).await;
    for now in [
        r.expires,
        r.expires + Duration::milliseconds(1),
        r.expires + Duration::hours(3),
    ] {
        match store
            .claim_request("req-1", "U-ASKER", Claim::Confirm, now)
            .await
        {
            Err(ClaimError::Expired { expires }) => assert_eq!(expires, r.expires),
            other => panic!("at {now}: {other:?}"),
        }
    }
    assert_eq!(table_text(&client).await, before, "nothing changed");
    assert_eq!(store.request("req-1").await.unwrap().unwrap(), r);
    // A millisecond before it expires, it is still usable.
    let last = r.expires - Duration::milliseconds(1);
    let done = store
        .claim_request("req-1", "U-ASKER", Claim::Confirm, last)
        .await
        .unwrap();
    assert!(matches!(done.state, RequestState::Confirmed { at, .. } if at == last));
}

#[tokio::test]
async fn a_claim_of_an_unknown_request_is_refused_and_creates_nothing() {
    let moto = Moto::start().await;
    let (store, client) = store(&moto).await;
    let e = store
        .claim_request("req-never", "U-ASKER", Claim::Confirm, t0())
        .await
        .unwrap_err();
    assert!(matches!(e, ClaimError::NotFound), "{e:?}");
    assert!(!e.is_retryable());
    assert_eq!(table_text(&client).await, "{}", "no item was created");
}

#[tokio::test]
async fn of_concurrent_claims_exactly_one_wins() {
    let moto = Moto::start().await;
    let store = serial_store(&moto).await;
    store.put_request(&request("req-1")).await.unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let at = t0() + Duration::minutes(1);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let by = format!("U-{i}");
                barrier.wait().await;
                let got = store.claim_request("req-1", &by, Claim::Confirm, at).await;
                (by, got)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut refused = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (by, Ok(r)) => winners.push((by, r)),
            (_, Err(ClaimError::AlreadyUsed { state })) => refused.push(state),
            (by, Err(e)) => panic!("{by}: {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let (winner, won) = &winners[0];
    assert_eq!(
        won.state,
        RequestState::Confirmed {
            by: winner.clone(),
            at
        }
    );
    assert_eq!(refused.len(), 7);
    assert!(refused.iter().all(|s| *s == won.state), "{refused:?}");
    assert_eq!(
        store.request("req-1").await.unwrap().unwrap().state,
        won.state
    );
}

#[tokio::test]
async fn five_posts_per_url_then_none() {
    let moto = Moto::start().await;
    let (store, _) = store(&moto).await;
    for n in 1..=MAX_POSTS_PER_URL {
        let now = t0() + Duration::seconds(i64::from(n));
        assert_eq!(
            store
                .post_slot(URL, &format!("post-{n}"), now)
                .await
                .unwrap(),
            PostSlot::Granted { n }
        );
    }
    let now = t0() + Duration::minutes(1);
    assert_eq!(
        store.post_slot(URL, "post-6", now).await.unwrap(),
        PostSlot::Exhausted
    );
    // A post made before is still "posted", not "exhausted"; one granted and never confirmed
    // made keeps its slot, to be made again.
    store.mark_posted(URL, "post-3").await.unwrap();
    assert_eq!(
        store.post_slot(URL, "post-3", now).await.unwrap(),
        PostSlot::AlreadyPosted
    );
    assert_eq!(
        store.post_slot(URL, "post-4", now).await.unwrap(),
        PostSlot::Granted { n: 4 }
    );
    // Another URL has its own five.
    let other = "https://hooks.slack.com/commands/T0001/999/other";
    assert_eq!(
        store.post_slot(other, "post-6", now).await.unwrap(),
        PostSlot::Granted { n: 1 }
    );
}

#[tokio::test]
async fn the_same_post_key_is_granted_once() {
    let moto = Moto::start().await;
    let (store, _) = store(&moto).await;
    assert_eq!(
        store.post_slot(URL, "req-1:buttons", t0()).await.unwrap(),
        PostSlot::Granted { n: 1 }
    );
    // Until the post is confirmed made, a redelivered job gets the same slot back: the post
    // is made at least once.
    assert_eq!(
        store.post_slot(URL, "req-1:buttons", t0()).await.unwrap(),
        PostSlot::Granted { n: 1 }
    );
    store.mark_posted(URL, "req-1:buttons").await.unwrap();
    // Then a redelivered job asks again, at once or later, and is told it was made.
    for later in [Duration::zero(), Duration::minutes(3)] {
        assert_eq!(
            store
                .post_slot(URL, "req-1:buttons", t0() + later)
                .await
                .unwrap(),
            PostSlot::AlreadyPosted
        );
    }
    // Asking twice counted once.
    assert_eq!(
        store
            .post_slot(URL, "req-1:outcome", t0() + Duration::minutes(4))
            .await
            .unwrap(),
        PostSlot::Granted { n: 2 }
    );
}

#[tokio::test]
async fn unmark_gives_the_slot_back() {
    let moto = Moto::start().await;
    let (store, _) = store(&moto).await;
    assert_eq!(
        store.post_slot(URL, "req-1:buttons", t0()).await.unwrap(),
        PostSlot::Granted { n: 1 }
    );
    // The post failed: give it back, and the retry may post.
    assert!(store.unmark_post(URL, "req-1:buttons").await.unwrap());
    assert!(
        !store.unmark_post(URL, "req-1:buttons").await.unwrap(),
        "given back once"
    );
    assert!(!store.unmark_post(URL, "never-granted").await.unwrap());
    assert_eq!(
        store
            .post_slot(URL, "req-1:buttons", t0() + Duration::seconds(1))
            .await
            .unwrap(),
        PostSlot::Granted { n: 1 },
        "the slot was given back"
    );
    // Exhausted, then one given back: one more post.
    for n in 2..=MAX_POSTS_PER_URL {
        assert_eq!(
            store.post_slot(URL, &format!("p{n}"), t0()).await.unwrap(),
            PostSlot::Granted { n }
        );
    }
    assert_eq!(
        store.post_slot(URL, "p6", t0()).await.unwrap(),
        PostSlot::Exhausted
    );
    assert!(store.unmark_post(URL, "p4").await.unwrap());
    assert_eq!(
        store.post_slot(URL, "p6", t0()).await.unwrap(),
        PostSlot::Granted { n: 5 }
    );
    assert_eq!(
        store.post_slot(URL, "p4", t0()).await.unwrap(),
        PostSlot::Exhausted
    );
}

#[tokio::test]
async fn no_post_after_the_window() {
    let moto = Moto::start().await;
    let (store, _) = store(&moto).await;
    assert_eq!(
        store.post_slot(URL, "a", t0()).await.unwrap(),
        PostSlot::Granted { n: 1 }
    );
    let near_end = t0() + POST_WINDOW - Duration::seconds(1);
    assert_eq!(
        store.post_slot(URL, "b", near_end).await.unwrap(),
        PostSlot::Granted { n: 2 }
    );
    let after = t0() + POST_WINDOW + Duration::seconds(1);
    assert_eq!(
        store.post_slot(URL, "c", after).await.unwrap(),
        PostSlot::Exhausted
    );
    store.mark_posted(URL, "a").await.unwrap();
    assert_eq!(
        store.post_slot(URL, "a", after).await.unwrap(),
        PostSlot::AlreadyPosted
    );
}

#[tokio::test]
async fn concurrent_posts_are_counted_one_by_one() {
    let moto = Moto::start().await;
    let store = serial_store(&moto).await;
    let barrier = Arc::new(Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store.post_slot(URL, &format!("post-{i}"), t0()).await
            })
        })
        .collect();
    let mut granted = BTreeSet::new();
    let mut exhausted = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            PostSlot::Granted { n } => assert!(granted.insert(n), "slot {n} twice"),
            PostSlot::Exhausted => exhausted += 1,
            PostSlot::AlreadyPosted => panic!("distinct keys"),
        }
    }
    assert_eq!(granted, (1..=MAX_POSTS_PER_URL).collect());
    assert_eq!(exhausted, 3);
}

#[tokio::test]
async fn the_url_is_never_in_the_table() {
    let moto = Moto::start().await;
    let (store, client) = store(&moto).await;
    for key in ["req-1:buttons", "req-1:outcome"] {
        store.post_slot(URL, key, t0()).await.unwrap();
    }
    store.post_slot(URL, "req-1:buttons", t0()).await.unwrap();
    store.unmark_post(URL, "req-1:outcome").await.unwrap();
    let text = table_text(&client).await;
    assert!(text.contains("slack-url#"), "{text}");
    assert!(
        text.contains(&capstan_store::slack::url_digest(URL)),
        "{text}"
    );
    for part in [URL, "hooks.slack.com", "Zq7SeCrEtToKeN", "1234567890"] {
        assert!(!text.contains(part), "{part} in {text}");
    }
}

//! Events: `event.from` (long poll with tokens) and the legacy `event.register` /
//! `event.next` / `event.unregister`, both fed by the store's commit-ordered change feed.
//!
//! ```text
//! event.from(session, ["vm", "task/OpaqueRef:…"], "", 30.0)
//!   → {events: [{id, timestamp, class: "vm", operation: "add", ref, snapshot: {…}}, …],
//!      valid_ref_counts: {vm: 12, …}, token: "00000000000000000042,00000000000000000000"}
//! ```
//! `event.from` coalesces the changes of one object between two calls into one event (as xapi);
//! `event.next` returns every change, in commit order, exactly once.

use super::Xapi;
use crate::dispatch::{Ctx, Dispatcher};
use crate::error::ApiError;
use crate::generated::args::*;
use crate::generated::handlers::{register_event, EventMessages};
use crate::typed::Reply;
use crate::model::model;
use crate::store::{Change, Op};
use crate::value::{Encoded, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One subscription entry: `*`, a class, or one object of a class.
#[derive(Debug, Clone, PartialEq)]
enum Filter {
    All,
    Class(usize),
    Object(usize, String),
}

fn parse_filters(classes: &[String]) -> Result<Vec<Filter>, ApiError> {
    classes
        .iter()
        .map(|s| {
            let s = s.as_str();
            if s == "*" {
                return Ok(Filter::All);
            }
            let (class, obj) = match s.split_once('/') {
                Some((c, r)) => (c, Some(r)),
                None => (s, None),
            };
            let pos = model()
                .class_by_lower(class)
                .filter(|c| c.is_stored())
                .and_then(|c| model().class_pos(&c.name))
                .ok_or_else(|| ApiError::new("EVENT_SUBSCRIPTION_PARSE_FAILURE", [s]))?;
            Ok(match obj {
                Some(r) => Filter::Object(pos, r.to_string()),
                None => Filter::Class(pos),
            })
        })
        .collect()
}

/// Whether a change to object `r` of class `class` goes to a watcher with these filters. The one
/// place that decides what events carry: objects of classes without events (sessions, users) are
/// never sent, whatever the filter, so no caller ever receives another caller's session ref
/// (xapi: `gen_events:false`).
fn matches(filters: &[Filter], class: usize, r: &str) -> bool {
    if !model().classes[class].has_events() {
        return false;
    }
    filters.iter().any(|f| match f {
        Filter::All => true,
        Filter::Class(c) => *c == class,
        Filter::Object(c, o) => *c == class && o == r,
    })
}

fn format_token(generation: u64) -> String {
    format!("{generation:020},{:020}", 0)
}

fn parse_token(t: &str) -> Result<Option<u64>, ApiError> {
    if t.is_empty() {
        return Ok(None);
    }
    let first = t.split(',').next().unwrap_or("");
    first.trim().parse::<u64>().map(Some).map_err(|_| ApiError::new("EVENT_FROM_TOKEN_PARSE_FAILURE", [t]))
}

fn now_float() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    format!("{t:.6}")
}

/// The record to show with a change: the one kept with it, else the object as it is now.
fn snapshot_of(xapi: &Xapi, ch: &Change, op: Op) -> Option<Value> {
    if op == Op::Del {
        return None;
    }
    let class = &model().classes[ch.class];
    match &ch.snapshot {
        Some(s) => Some(Value::record(class, s.clone())),
        None => xapi.store.read().tables[ch.class].objects.get(&ch.obj_ref).map(|s| Value::record(class, s.clone())),
    }
}

/// The wire record of one event.
fn event_record(generation: u64, class: usize, r: &str, op: Op, snapshot: Option<Value>) -> Value {
    let c = &model().classes[class];
    let mut fields = vec![
        ("id".to_string(), Value::str(generation.to_string())),
        ("timestamp".to_string(), Value::str(now_float())),
        ("class".to_string(), Value::str(c.name.to_ascii_lowercase())),
        ("operation".to_string(), Value::str(op.wire_name())),
        ("ref".to_string(), Value::str(r)),
    ];
    if let Some(s) = snapshot {
        fields.push(("snapshot".to_string(), s));
    }
    Value::Struct(fields)
}

/// The event of a change, encoded once and shared by every watcher that receives it: a write
/// that wakes a hundred `event.from` polls is encoded once, not a hundred times.
fn shared_event(xapi: &Xapi, ch: &Change, op: Op) -> Value {
    let key = (ch.generation, op);
    let mut cache = xapi.events.encoded.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, v)) = cache.iter().find(|(k, _)| *k == key) {
        return Value::Encoded(v.clone());
    }
    let v = crate::rpc::xmlrpc::encode_once(event_record(ch.generation, ch.class, &ch.obj_ref, op, snapshot_of(xapi, ch, op)));
    if cache.len() == ENCODED_EVENTS_KEPT {
        cache.pop_front();
    }
    cache.push_back((key, v.clone()));
    Value::Encoded(v)
}

/// How many encoded events are kept for watchers that have not yet collected them.
const ENCODED_EVENTS_KEPT: usize = 256;

/// Changes after `since`, or `EVENTS_LOST` when the feed no longer holds them all.
fn changes_since(xapi: &Xapi, since: u64) -> Result<(Vec<Change>, u64), ApiError> {
    let feed = xapi.store.feed();
    let oldest_kept = feed.changes.front().map(|c| c.generation).unwrap_or(feed.generation + 1);
    // Changes up to `base` predate this process; older ones than `oldest_kept` were trimmed.
    if since < feed.generation && (since < feed.base || since + 1 < oldest_kept) {
        return Err(ApiError::new("EVENTS_LOST", Vec::<String>::new()));
    }
    // Generations in the feed are consecutive, so the first change after `since` is found by
    // arithmetic rather than by scanning a feed of up to 100,000 changes on every poll.
    let skip = ((since + 1).saturating_sub(oldest_kept) as usize).min(feed.changes.len());
    Ok((feed.changes.range(skip..).cloned().collect(), feed.generation))
}

/// One `event.from` poll: the events after `since` (all objects when `None`) and the new token.
fn collect(xapi: &Xapi, filters: &[Filter], since: Option<u64>) -> Result<(Vec<Value>, u64), ApiError> {
    let Some(since) = since else {
        // Holding the tables' read lock keeps writers out, so the snapshot and the generation agree.
        let tables = xapi.store.read();
        let generation = xapi.store.feed().generation;
        let mut events = Vec::new();
        for (i, class) in model().classes.iter().enumerate() {
            if !class.has_events() {
                continue;
            }
            for (r, rec) in &tables.tables[i].objects {
                if matches(filters, i, r) {
                    events.push(event_record(generation, i, r, Op::Add, Some(Value::record(class, rec.clone()))));
                }
            }
        }
        return Ok((events, generation));
    };
    let (changes, generation) = changes_since(xapi, since)?;
    // Coalesce per object: created in the window → add, deleted → del, else mod; latest snapshot.
    let mut order: Vec<(usize, String)> = Vec::new();
    let mut last: HashMap<(usize, String), (Change, bool)> = HashMap::new();
    for ch in changes.into_iter().filter(|c| matches(filters, c.class, &c.obj_ref)) {
        let key = (ch.class, ch.obj_ref.clone());
        match last.get_mut(&key) {
            Some((prev, _)) => *prev = ch,
            None => {
                let created = ch.op == Op::Add;
                order.push(key.clone());
                last.insert(key, (ch, created));
            }
        }
    }
    let mut picked: Vec<(Change, bool)> = order.into_iter().filter_map(|k| last.remove(&k)).collect();
    picked.sort_by_key(|(c, _)| c.generation);
    let events = picked
        .into_iter()
        .map(|(ch, created)| {
            let op = match ch.op {
                Op::Del => Op::Del,
                _ if created => Op::Add,
                _ => Op::Mod,
            };
            shared_event(xapi, &ch, op)
        })
        .collect();
    Ok((events, generation))
}

fn valid_ref_counts(xapi: &Xapi) -> Value {
    let t = xapi.store.read();
    Value::Map(
        model()
            .classes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.has_events())
            .map(|(i, c)| (Value::str(c.name.to_ascii_lowercase()), Value::I4(t.tables[i].objects.len() as i32)))
            .collect(),
    )
}

/// Waits until something commits, `deadline` passes or the server stops; false unless
/// something committed.
async fn wait_for_commit(xapi: &Xapi, deadline: tokio::time::Instant, check: impl Fn() -> bool) -> bool {
    let notified = xapi.store.committed.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    if check() {
        return true;
    }
    tokio::select! {
        _ = notified => true,
        _ = tokio::time::sleep_until(deadline) => false,
        _ = xapi.stopping.wait() => false,
    }
}

async fn event_from(ctx: Ctx, a: EventFromArgs) -> Result<Value, ApiError> {
    let xapi = ctx.xapi.clone();
    let filters = parse_filters(&a.classes)?;
    let token = a.token;
    let since = parse_token(&token)?;
    let timeout = if a.timeout.is_finite() && a.timeout > 0.0 { a.timeout.min(3600.0) } else { 0.0 };
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(timeout);
    let filters_key = format!("{filters:?}");
    loop {
        // Watchers that poll the same classes from the same token get the same batch: the first
        // one to wake builds and encodes it, the others take it from here.
        let current = xapi.store.feed().generation;
        if let Some(s) = since {
            if let Some(batch) = xapi.events.shared_batch(&filters_key, s, current) {
                return Ok(Value::Encoded(batch));
            }
        }
        let (events, generation) = collect(&xapi, &filters, since)?;
        if !events.is_empty() || since.is_none() || tokio::time::Instant::now() >= deadline || xapi.stopping.is_set() {
            let batch = Value::Struct(vec![
                ("events".into(), Value::Set(events)),
                ("valid_ref_counts".into(), valid_ref_counts(&xapi)),
                ("token".into(), Value::str(format_token(generation.max(since.unwrap_or(0))))),
            ]);
            return Ok(match since {
                // Only a batch that holds every change up to the generation it is filed under.
                Some(s) if generation == current && xapi.store.feed().generation == current => {
                    Value::Encoded(xapi.events.share_batch(filters_key, s, current, batch))
                }
                _ => batch,
            });
        }
        let seen = generation;
        let woke = wait_for_commit(&xapi, deadline, || xapi.store.feed().generation > seen).await;
        if !woke {
            continue; // one last collect, then the empty answer
        }
    }
}

/// Legacy subscriptions: per session, the classes and how far `event.next` has read; and the
/// encodings shared between watchers.
#[derive(Default)]
pub struct Subscriptions {
    subs: Mutex<HashMap<String, (Vec<Filter>, u64)>>,
    encoded: Mutex<VecDeque<((u64, Op), Arc<Encoded>)>>,
    /// Recent `event.from` batches by (filters, since, generation), encoded once.
    batches: Mutex<VecDeque<((String, u64, u64), Arc<Encoded>)>>,
}

/// How many encoded `event.from` batches are kept for watchers that poll the same thing.
const SHARED_BATCHES_KEPT: usize = 64;

impl Subscriptions {
    fn shared_batch(&self, filters: &str, since: u64, generation: u64) -> Option<Arc<Encoded>> {
        let batches = self.batches.lock().unwrap_or_else(|p| p.into_inner());
        batches.iter().find(|((f, s, g), _)| *s == since && *g == generation && f == filters).map(|(_, b)| b.clone())
    }

    fn share_batch(&self, filters: String, since: u64, generation: u64, batch: Value) -> Arc<Encoded> {
        let encoded = crate::rpc::xmlrpc::encode_once(batch);
        let mut batches = self.batches.lock().unwrap_or_else(|p| p.into_inner());
        if batches.len() == SHARED_BATCHES_KEPT {
            batches.pop_front();
        }
        batches.push_back(((filters, since, generation), encoded.clone()));
        encoded
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Vec<Filter>, u64)>> {
        self.subs.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Drops subscriptions of sessions that are gone.
    pub fn prune(&self, live: impl Fn(&str) -> bool) {
        self.lock().retain(|s, _| live(s));
    }
}

fn session_ref(ctx: &Ctx) -> String {
    ctx.session.as_ref().map(|s| s.session_ref.clone()).unwrap_or_default()
}

/// Most events one `event.next` returns; the rest wait for the next call.
const NEXT_BATCH: usize = 10_000;

async fn event_next(ctx: Ctx) -> Result<Vec<Value>, ApiError> {
    let xapi = ctx.xapi.clone();
    let me = session_ref(&ctx);
    loop {
        let (filters, cursor) = xapi
            .events
            .lock()
            .get(&me)
            .cloned()
            .ok_or_else(|| ApiError::new("SESSION_NOT_REGISTERED", [me.as_str()]))?;
        let (changes, generation) = match changes_since(&xapi, cursor) {
            Ok(x) => x,
            Err(e) => {
                // The queue overflowed: the client must register again and re-read everything.
                xapi.events.lock().remove(&me);
                return Err(e);
            }
        };
        let mut out = Vec::new();
        let mut upto = generation;
        for ch in changes {
            if out.len() == NEXT_BATCH {
                upto = ch.generation - 1;
                break;
            }
            if matches(&filters, ch.class, &ch.obj_ref) {
                out.push(shared_event(&xapi, &ch, ch.op));
            }
        }
        if let Some(entry) = xapi.events.lock().get_mut(&me) {
            entry.1 = entry.1.max(upto);
        }
        if !out.is_empty() || xapi.stopping.is_set() {
            return Ok(out);
        }
        let far = tokio::time::Instant::now() + Duration::from_secs(3600);
        wait_for_commit(&xapi, far, || xapi.store.feed().generation > upto).await;
    }
}

pub struct EventApi;

impl EventMessages for EventApi {
    fn from(ctx: Ctx, a: EventFromArgs) -> Reply<Value> {
        Box::pin(event_from(ctx, a))
    }

    fn next(ctx: Ctx, _: EventNextArgs) -> Reply<Vec<Value>> {
        Box::pin(event_next(ctx))
    }

    fn register(ctx: &Ctx, a: EventRegisterArgs) -> Result<(), ApiError> {
        let filters = parse_filters(&a.classes)?;
        let generation = ctx.xapi.store.feed().generation;
        let mut subs = ctx.xapi.events.lock();
        let entry = subs.entry(session_ref(ctx)).or_insert_with(|| (Vec::new(), generation));
        for f in filters {
            if !entry.0.contains(&f) {
                entry.0.push(f);
            }
        }
        Ok(())
    }

    fn unregister(ctx: &Ctx, a: EventUnregisterArgs) -> Result<(), ApiError> {
        let filters = parse_filters(&a.classes)?;
        let mut subs = ctx.xapi.events.lock();
        if let Some(entry) = subs.get_mut(&session_ref(ctx)) {
            entry.0.retain(|f| !filters.contains(f));
        }
        Ok(())
    }

    fn get_current_id(ctx: &Ctx, _: EventGetCurrentIdArgs) -> Result<i64, ApiError> {
        Ok(ctx.xapi.store.feed().generation as i64)
    }

    fn inject(ctx: &Ctx, a: EventInjectArgs) -> Result<String, ApiError> {
        let (class, r) = (a.class.as_str(), a.ref_.as_str());
        let c = model().class_by_lower(class).filter(|c| c.is_stored()).ok_or_else(|| ApiError::new("INVALID_VALUE", ["class", class]))?;
        ctx.xapi.store.write(|tx| tx.update(&c.name, r, |_| Ok(())))?;
        Ok(format_token(ctx.xapi.store.feed().generation))
    }
}

pub fn register(d: &mut Dispatcher) {
    register_event::<EventApi>(d);
}

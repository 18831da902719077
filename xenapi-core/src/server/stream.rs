//! Large answers sent as they are encoded: `VM.get_all_records` of 10,000 VMs is tens of MB of
//! XML, which encoded whole would double the server's memory for the length of the call. Here the
//! answer's top-level map or set is encoded a batch of elements at a time
//! (`xenapi_wire::chunked::Plan`), on blocking threads, into a chunked HTTP body; a small window
//! of encoded batches is in flight, so a client that reads slowly holds the encoders back
//! (and holds no thread while it does), and one that goes away stops them.
//!
//! The result itself is already computed when streaming starts (a snapshot of `Arc`'d records,
//! cheap to hold), so every error is known before the first byte and answered with the normal
//! `Failure` envelope; nothing can fail half-way but the connection.

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use http_body_util::Full;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use xenapi_model::Value;
use xenapi_wire::chunked::Plan;

/// Answers whose encoding is estimated larger than this are streamed.
pub(super) const STREAM_MIN_BYTES: usize = 1 << 20;

/// The size of one encoded batch (some tens of records).
const BATCH_BYTES: usize = 256 * 1024;

/// Encoded batches each encoder may have ready ahead of the socket.
const WINDOW: usize = 2;

/// A response body: one buffer, or batches arriving from the encoders.
pub enum AnswerBody {
    Full(Full<Bytes>),
    Streamed(Streamed),
}

impl From<Full<Bytes>> for AnswerBody {
    fn from(b: Full<Bytes>) -> Self {
        AnswerBody::Full(b)
    }
}

/// The pieces of a streamed answer in order: the head, batch 0, 1, … (batch `i` from encoder
/// `i % lanes.len()`, each of which encodes its batches in order), the tail.
pub struct Streamed {
    head: Option<Bytes>,
    lanes: Vec<mpsc::Receiver<Bytes>>,
    next: usize,
    batches: usize,
    tail: Option<Bytes>,
}

/// Starts encoding `v` (planned as `plan`) and returns the body that sends it. Must be called
/// inside the Tokio runtime.
pub fn stream(plan: Plan, v: Value) -> Streamed {
    let batch = plan.batch_len(&v, BATCH_BYTES);
    let batches = plan.len.div_ceil(batch);
    // Two encoders already keep up with loopback on two cores; more would only hold more memory.
    let encoders = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 2).min(batches.max(1));
    let head = Bytes::from(plan.head.clone());
    let tail = Bytes::from(plan.tail.clone());
    let shared = Arc::new((plan, v));
    let lanes = (0..encoders)
        .map(|lane| {
            let (tx, rx) = mpsc::channel(WINDOW);
            tokio::spawn(encode_lane(shared.clone(), tx, lane, encoders, batch, batches));
            rx
        })
        .collect();
    Streamed { head: Some(head), lanes, next: 0, batches, tail: Some(tail) }
}

/// Encodes batches `lane`, `lane + lanes`, … each once there is room for it in the window, on a
/// blocking thread (a batch is a millisecond or so of CPU, which the runtime's workers should not
/// spend). Stops when the body is dropped (the client went away, or the answer was abandoned).
async fn encode_lane(shared: Arc<(Plan, Value)>, tx: mpsc::Sender<Bytes>, lane: usize, lanes: usize, batch: usize, batches: usize) {
    for i in (lane..batches).step_by(lanes) {
        let Ok(permit) = tx.reserve().await else { return };
        let s = shared.clone();
        let encoded = tokio::task::spawn_blocking(move || {
            let (plan, v) = &*s;
            let range = i * batch..((i + 1) * batch).min(plan.len);
            let mut out = String::with_capacity(BATCH_BYTES + BATCH_BYTES / 4);
            plan.write_batch(v, range, &mut out);
            Bytes::from(out)
        })
        .await;
        match encoded {
            Ok(b) => permit.send(b),
            // A panic while encoding: dropping the sender ends the lane early, which the body
            // turns into an error, so the client sees a cut connection, never a short answer.
            Err(e) => return tracing::error!(error = %e, "encoding a streamed answer failed"),
        }
    }
}

impl Body for AnswerBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            AnswerBody::Full(f) => Pin::new(f).poll_frame(cx).map_err(|never| match never {}),
            AnswerBody::Streamed(s) => s.poll_next(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            AnswerBody::Full(f) => f.is_end_stream(),
            AnswerBody::Streamed(s) => s.head.is_none() && s.next == s.batches && s.tail.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            // Exact, so hyper sends Content-Length for every answer but the streamed ones.
            AnswerBody::Full(f) => f.size_hint(),
            // Unknown, so hyper sends `Transfer-Encoding: chunked`.
            AnswerBody::Streamed(_) => SizeHint::default(),
        }
    }
}

impl Streamed {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(h) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(h))));
        }
        if self.next < self.batches {
            let lanes = self.lanes.len();
            return match self.lanes[self.next % lanes].poll_recv(cx) {
                Poll::Ready(Some(b)) => {
                    self.next += 1;
                    Poll::Ready(Some(Ok(Frame::data(b))))
                }
                Poll::Ready(None) => {
                    self.next = self.batches;
                    self.tail = None;
                    Poll::Ready(Some(Err(std::io::Error::other("an encoder of the streamed answer stopped"))))
                }
                Poll::Pending => Poll::Pending,
            };
        }
        Poll::Ready(self.tail.take().map(|t| Ok(Frame::data(t))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use xenapi_model::model::model;
    use xenapi_model::value::Record;

    fn big_map(n: usize) -> Value {
        let vm = model().class("VM").unwrap();
        let rec = Arc::new(Record::new_default(vm));
        Value::Map((0..n).map(|i| (Value::str(format!("OpaqueRef:{i:08}")), Value::record(vm, rec.clone()))).collect())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_streamed_body_is_the_one_shot_answer() {
        let v = big_map(3000);
        let whole = xenapi_wire::xmlrpc::encode_success(&v);
        let body = AnswerBody::Streamed(stream(Plan::xmlrpc(&v).unwrap(), v.clone()));
        assert_eq!(body.size_hint().exact(), None, "sent chunked");
        let frames = body.collect().await.unwrap().to_bytes();
        assert!(frames == whole.as_bytes(), "streamed answer differs from the one-shot one");
        let id = serde_json::json!(3);
        let whole = xenapi_wire::jsonrpc::encode_response(xenapi_wire::jsonrpc::Version::V2, &id, &Ok(v.clone()));
        let plan = Plan::jsonrpc(xenapi_wire::jsonrpc::Version::V2, &id, &v).unwrap();
        let frames = AnswerBody::Streamed(stream(plan, v)).collect().await.unwrap().to_bytes();
        assert!(frames == whole.as_bytes());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_body_stops_its_encoders() {
        let v = big_map(20_000);
        let rec = match &v {
            Value::Map(m) => match &m[0].1 {
                Value::Record(r) => r.rec.clone(),
                _ => unreachable!(),
            },
            _ => unreachable!(),
        };
        let mut body = AnswerBody::Streamed(stream(Plan::xmlrpc(&v).unwrap(), v));
        // Read the head and one batch, then go away as a client would.
        for _ in 0..2 {
            body.frame().await.unwrap().unwrap();
        }
        drop(body);
        // The encoders notice at their next batch and drop their share of the value (and so of
        // every record in it); give them up to 10 s on a loaded machine.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while Arc::strong_count(&rec) > 1 {
            assert!(std::time::Instant::now() < deadline, "encoders still hold the answer");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

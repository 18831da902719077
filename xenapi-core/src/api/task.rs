//! Tasks: `Async.<class>.<message>` runs the message in the background as a `task` object whose
//! status, progress, result and error_info the caller polls; plus the task class's own messages.
//!
//! `result` holds the XML-RPC serialisation of the return value (`<value>OpaqueRef:…</value>`),
//! empty for void, as xapi does.

use crate::backend::Cancel;
use crate::dispatch::{run, Ctx, Dispatcher, Method};
use crate::error::ApiError;
use crate::model::model;
use crate::store::{new_ref, new_uuid, Record, Store};
use crate::time_fmt;
use crate::value::Value;
use std::collections::HashMap;
use std::sync::Mutex;

/// The tasks running in this process, with the flag `task.cancel` raises.
#[derive(Default)]
pub struct Running {
    live: Mutex<HashMap<String, Cancel>>,
}

impl Running {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cancel>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn start(&self, task: &str) -> Cancel {
        self.lock().entry(task.to_string()).or_default().clone()
    }
    fn end(&self, task: &str) {
        self.lock().remove(task);
    }
    /// The cancel flag of a running task (a fresh, never-raised one for other callers).
    pub fn cancel_flag(&self, task: Option<&str>) -> Cancel {
        task.and_then(|t| self.lock().get(t).cloned()).unwrap_or_default()
    }
}

/// Marks a running task as one that `task.cancel` may stop.
pub fn allow_cancel(store: &Store, task: &str) -> Result<(), ApiError> {
    let c = model().class("task").unwrap();
    store.write(|tx| {
        if !tx.exists("task", task) {
            return Ok(());
        }
        tx.update("task", task, |rec| {
            rec.set(c, "allowed_operations", Value::Set(vec![Value::str("cancel")]));
            Ok(())
        })
    })
}

/// Progress of a running task, 0..1.
pub fn set_progress(store: &Store, task: Option<&str>, progress: f64) {
    let Some(task) = task else { return };
    let c = model().class("task").unwrap();
    let _ = store.write(|tx| {
        if !tx.exists("task", task) {
            return Ok(());
        }
        tx.update("task", task, |rec| {
            rec.set(c, "progress", Value::Float(progress.clamp(0.0, 1.0)));
            Ok(())
        })
    });
}

fn new_task_record(host: &str, label: &str, description: &str) -> Record {
    let c = model().class("task").unwrap();
    let mut rec = Record::new_default(c);
    rec.set(c, "uuid", Value::str(new_uuid()));
    rec.set(c, "name_label", Value::str(label));
    rec.set(c, "name_description", Value::str(description));
    rec.set(c, "status", Value::str("pending"));
    rec.set(c, "created", Value::DateTime(time_fmt::now()));
    rec.set(c, "resident_on", Value::str(host));
    rec.set(c, "progress", Value::Float(0.0));
    rec
}

/// Creates the task for an `Async.` call, starts the work, and returns the task ref at once.
pub fn spawn_async(mut ctx: Ctx, method: Method, args: Vec<Value>) -> Result<Value, ApiError> {
    let task = new_ref();
    let label = format!("Async.{}", method.name);
    ctx.xapi.store.write(|tx| {
        let rec = new_task_record(&ctx.xapi.this_host, &label, "");
        tx.put("task", &task, rec);
        Ok(())
    })?;
    ctx.xapi.task_owners.record(&task, ctx.session.as_deref());
    ctx.task = Some(task.clone());
    let xapi = ctx.xapi.clone();
    let t = task.clone();
    xapi.tasks.start(&t);
    tokio::spawn(async move {
        let outcome = run(&method.handler, ctx, args).await;
        xapi.tasks.end(&t);
        if let Err(e) = finish(&xapi.store, &t, outcome) {
            tracing::warn!(task = %t, error = %e, "could not record the end of a task");
        }
    });
    Ok(Value::str(task))
}

/// Records the outcome of a task (unless it was destroyed meanwhile).
pub fn finish(store: &Store, task: &str, outcome: Result<Value, ApiError>) -> Result<(), ApiError> {
    let c = model().class("task").unwrap();
    store.write(|tx| {
        if !tx.exists("task", task) {
            return Ok(());
        }
        tx.update("task", task, |rec| {
            match &outcome {
                Ok(v) => {
                    let result = match v {
                        Value::String(s) if s.is_empty() => String::new(),
                        v => crate::rpc::xmlrpc::value_fragment(v),
                    };
                    rec.set(c, "status", Value::str("success"));
                    rec.set(c, "result", Value::str(result));
                }
                Err(e) => {
                    let cancelled = e.code == "TASK_CANCELLED";
                    rec.set(c, "status", Value::str(if cancelled { "cancelled" } else { "failure" }));
                    rec.set(c, "error_info", Value::Set(e.description().into_iter().map(Value::String).collect()));
                }
            }
            rec.set(c, "progress", Value::Float(1.0));
            rec.set(c, "finished", Value::DateTime(time_fmt::now()));
            rec.set(c, "allowed_operations", Value::Set(vec![]));
            Ok(())
        })
    })
}

/// After a restart no task is running: those left pending are marked failed.
pub fn fail_interrupted(store: &Store) -> Result<(), String> {
    let c = model().class("task").unwrap();
    let pending: Vec<String> = store
        .read()
        .table("task")
        .objects
        .iter()
        .filter(|(_, r)| matches!(r.str(c, "status"), "pending" | "cancelling"))
        .map(|(r, _)| r.clone())
        .collect();
    for t in pending {
        finish(
            store,
            &t,
            Err(ApiError::internal("the server restarted while this task was running; its outcome is unknown")),
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Finished tasks go after 65 minutes, and beyond the newest 200 (as in xapi); pending ones
/// after 24 hours.
pub fn collect_garbage(store: &Store) {
    let c = model().class("task").unwrap();
    let now = time_fmt::now();
    let doomed: Vec<String> = {
        let t = store.read();
        let mut finished: Vec<(i64, String)> = Vec::new();
        let mut doomed = Vec::new();
        for (r, rec) in &t.table("task").objects {
            let at = |f: &str| match rec.get(c, f) {
                Value::DateTime(t) => *t,
                _ => 0,
            };
            match rec.str(c, "status") {
                "pending" | "cancelling" if now - at("created") > 24 * 3600 => doomed.push(r.clone()),
                "pending" | "cancelling" => {}
                _ if now - at("finished") > 65 * 60 => doomed.push(r.clone()),
                _ => finished.push((at("finished"), r.clone())),
            }
        }
        finished.sort();
        let excess = finished.len().saturating_sub(200);
        doomed.extend(finished.into_iter().take(excess).map(|(_, r)| r));
        doomed
    };
    if !doomed.is_empty() {
        let _ = store.write(|tx| {
            for r in &doomed {
                tx.delete("task", r);
            }
            Ok(())
        });
    }
}

fn s(a: &[Value], i: usize) -> String {
    a[i].as_str().unwrap_or("").to_string()
}

fn set_field(ctx: &Ctx, a: Vec<Value>, field: &'static str) -> Result<Value, ApiError> {
    let c = model().class("task").unwrap();
    let r = s(&a, 0);
    let v = a.into_iter().nth(1).expect("arity checked");
    ctx.xapi.store.write(|tx| {
        tx.update("task", &r, |rec| {
            rec.set(c, field, v);
            Ok(())
        })
    })?;
    Ok(Value::void())
}

/// `task.cancel`: only a pending task that declared itself cancellable can be cancelled; it
/// then goes to `cancelling` and ends `cancelled` with `TASK_CANCELLED [task]`.
fn cancel(ctx: &Ctx, a: Vec<Value>) -> Result<Value, ApiError> {
    let c = model().class("task").unwrap();
    let r = s(&a, 0);
    ctx.xapi.store.write(|tx| {
        tx.update("task", &r, |rec| {
            let cancellable = matches!(rec.get(c, "allowed_operations"), Value::Set(ops) if ops.contains(&Value::str("cancel")));
            if rec.str(c, "status") != "pending" || !cancellable {
                return Err(ApiError::new("OPERATION_NOT_ALLOWED", [format!("task {r} cannot be cancelled now")]));
            }
            rec.set(c, "status", Value::str("cancelling"));
            rec.set(c, "allowed_operations", Value::Set(vec![]));
            Ok(())
        })
    })?;
    ctx.xapi.tasks.cancel_flag(Some(&r)).cancel();
    Ok(Value::void())
}

pub fn register(d: &mut Dispatcher) {
    d.implement_sync("task.cancel", cancel);
    d.implement_sync("task.create", |ctx, a| {
        let r = new_ref();
        ctx.xapi.store.write(|tx| {
            let rec = new_task_record(&ctx.xapi.this_host, &s(&a, 0), &s(&a, 1));
            tx.put("task", &r, rec);
            Ok(())
        })?;
        ctx.xapi.task_owners.record(&r, ctx.session.as_deref());
        Ok(Value::str(r))
    });
    d.implement_sync("task.destroy", |ctx, a| {
        let r = s(&a, 0);
        ctx.xapi.store.write(|tx| crate::dispatch::implicit::destroy_generic(tx, "task", &r))?;
        Ok(Value::void())
    });
    d.implement_sync("task.set_status", |ctx, a| set_field(ctx, a, "status"));
    d.implement_sync("task.set_progress", |ctx, a| set_field(ctx, a, "progress"));
    d.implement_sync("task.set_result", |ctx, a| set_field(ctx, a, "result"));
    d.implement_sync("task.set_error_info", |ctx, a| set_field(ctx, a, "error_info"));
}

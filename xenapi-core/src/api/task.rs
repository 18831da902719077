//! Tasks: `Async.<class>.<message>` runs the message in the background as a `task` object whose
//! status, progress, result and error_info the caller polls; plus the task class's own messages.
//!
//! `result` holds the XML-RPC serialisation of the return value (`<value>OpaqueRef:…</value>`),
//! empty for void, as xapi does.

use crate::backend::Cancel;
use crate::dispatch::{run, Ctx, Dispatcher, Method};
use crate::generated::args::{TaskCancelArgs, TaskCreateArgs, TaskDestroyArgs};
use crate::generated::handlers::{register_task, TaskMessages};
use crate::generated::{TaskAllowedOperations, TaskRecord, TaskStatusType};
use crate::typed::Ref;
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
            rec.set(c, "allowed_operations", Value::Set(vec![Value::str(TaskAllowedOperations::Cancel.wire_name())]));
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
    rec.set(c, "status", Value::str(TaskStatusType::Pending.wire_name()));
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
                    rec.set(c, "status", Value::str(TaskStatusType::Success.wire_name()));
                    rec.set(c, "result", Value::str(result));
                }
                Err(e) => {
                    let cancelled = e.code == "TASK_CANCELLED";
                    rec.set(c, "status", Value::str(if cancelled { TaskStatusType::Cancelled } else { TaskStatusType::Failure }.wire_name()));
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

/// Whether a task of this status has not ended yet.
fn is_running(status: &str) -> bool {
    matches!(TaskStatusType::from_wire(status), Some(TaskStatusType::Pending | TaskStatusType::Cancelling))
}

/// After a restart no task is running: those left pending are marked failed.
pub fn fail_interrupted(store: &Store) -> Result<(), String> {
    let c = model().class("task").unwrap();
    let pending: Vec<String> = store
        .read()
        .table("task")
        .objects
        .iter()
        .filter(|(_, r)| is_running(r.str(c, "status")))
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
                s if is_running(s) && now - at("created") > 24 * 3600 => doomed.push(r.clone()),
                s if is_running(s) => {}
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

/// `task.cancel`: only a pending task that declared itself cancellable can be cancelled; it
/// then goes to `cancelling` and ends `cancelled` with `TASK_CANCELLED [task]`.
fn cancel(ctx: &Ctx, a: TaskCancelArgs) -> Result<(), ApiError> {
    let c = model().class("task").unwrap();
    let r = a.task;
    ctx.xapi.store.write(|tx| {
        tx.update("task", &r, |rec| {
            let cancel = Value::str(TaskAllowedOperations::Cancel.wire_name());
            let cancellable = matches!(rec.get(c, "allowed_operations"), Value::Set(ops) if ops.contains(&cancel));
            if rec.str(c, "status") != TaskStatusType::Pending.wire_name() || !cancellable {
                return Err(ApiError::new("OPERATION_NOT_ALLOWED", [format!("task {r} cannot be cancelled now")]));
            }
            rec.set(c, "status", Value::str(TaskStatusType::Cancelling.wire_name()));
            rec.set(c, "allowed_operations", Value::Set(vec![]));
            Ok(())
        })
    })?;
    ctx.xapi.tasks.cancel_flag(Some(&r)).cancel();
    Ok(())
}

pub struct TaskApi;

impl TaskMessages for TaskApi {
    fn cancel(ctx: &Ctx, a: TaskCancelArgs) -> Result<(), ApiError> {
        cancel(ctx, a)
    }

    fn create(ctx: &Ctx, a: TaskCreateArgs) -> Result<Ref<TaskRecord>, ApiError> {
        let r = new_ref();
        ctx.xapi.store.write(|tx| {
            let rec = new_task_record(&ctx.xapi.this_host, &a.label, &a.description);
            tx.put("task", &r, rec);
            Ok(())
        })?;
        ctx.xapi.task_owners.record(&r, ctx.session.as_deref());
        Ok(Ref::new(r))
    }

    fn destroy(ctx: &Ctx, a: TaskDestroyArgs) -> Result<(), ApiError> {
        ctx.xapi.store.write(|tx| crate::dispatch::implicit::destroy_generic(tx, "task", &a.self_))
    }
}

/// `task.set_status`, `set_progress`, `set_result` and `set_error_info` are declared plain
/// setters: the dispatcher's generic setter serves them.
pub fn register(d: &mut Dispatcher) {
    register_task::<TaskApi>(d);
}

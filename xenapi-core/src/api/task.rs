//! Tasks: `Async.<class>.<message>` runs the message in the background as a `task` object whose
//! status, progress, result and error_info the caller polls; plus the task class's own messages.
//!
//! `result` holds the XML-RPC serialisation of the return value (`<value>OpaqueRef:…</value>`),
//! empty for void, as xapi does.

use crate::dispatch::{run, Ctx, Dispatcher, Method};
use crate::error::ApiError;
use crate::model::model;
use crate::store::{new_ref, new_uuid, Record, Store};
use crate::time_fmt;
use crate::value::Value;

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
    ctx.task = Some(task.clone());
    let xapi = ctx.xapi.clone();
    let t = task.clone();
    tokio::spawn(async move {
        let outcome = run(&method.handler, ctx, args).await;
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

pub fn register(d: &mut Dispatcher) {
    d.implement_sync("task.create", |ctx, a| {
        let r = new_ref();
        ctx.xapi.store.write(|tx| {
            let rec = new_task_record(&ctx.xapi.this_host, &s(&a, 0), &s(&a, 1));
            tx.put("task", &r, rec);
            Ok(())
        })?;
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

//! The implicit messages of every stored class, generated from the model: lookups, field getters
//! and setters, map and set operations, and the generic constructor and destructor.

use super::{Ctx, Dispatcher, Handler, Method};
use crate::error::ApiError;
use crate::model::{Class, Lifecycle, Param, Qualifier, Type};
use crate::store::{is_constructor_field, new_ref, new_uuid, Record, Tx};
use crate::value::Value;
use std::sync::Arc;

fn p(name: &str, ty: Type) -> Param {
    Param { name: name.to_string(), ty, default: None }
}

fn add(
    d: &mut Dispatcher,
    class: &Class,
    msg: &str,
    params: Vec<Param>,
    result: Type,
    has_async: bool,
    f: impl Fn(&Ctx, Vec<Value>) -> Result<Value, ApiError> + Send + Sync + 'static,
) {
    // The role comes from the model's one table (`xenapi_model::rbac`), which the CIM providers
    // consult too; a message this module generates and the table does not know is a bug.
    let role = class
        .required_role(msg)
        .unwrap_or_else(|| panic!("{}.{msg} is generated but has no role in xenapi_model::rbac", class.name));
    d.insert(Method {
        name: format!("{}.{msg}", class.name),
        params,
        result,
        needs_session: true,
        has_async,
        role,
        lifecycle: Lifecycle::Published,
        handler: Handler::Sync(Arc::new(f)),
        implemented: true,
    });
}

fn self_ref(class: &str) -> Param {
    p("self", Type::Ref(class.to_string()))
}

/// `OpaqueRef` string argument (typed arguments are checked by the dispatcher already).
fn s(args: &[Value], i: usize) -> &str {
    args[i].as_str().unwrap_or("")
}

pub fn register(d: &mut Dispatcher, class: &'static Class) {
    if !class.is_stored() {
        return;
    }
    let cname: &'static str = &class.name;
    let me = Type::Ref(class.name.clone());
    let record = Type::Record(class.name.clone());
    let lookup = |n: &str| class.has_implicit(n) || class.name == "message";

    if lookup("get_record") {
        add(d, class, "get_record", vec![self_ref(cname)], record.clone(), false, move |ctx, a| {
            let c = class;
            let t = ctx.xapi.store.read();
            let rec = t.get(cname, s(&a, 0)).ok_or_else(|| ApiError::handle_invalid(cname, s(&a, 0)))?;
            Ok(Value::record(c, rec.clone()))
        });
    }
    if lookup("get_by_uuid") {
        add(d, class, "get_by_uuid", vec![p("uuid", Type::String)], me.clone(), false, move |ctx, a| {
            let t = ctx.xapi.store.read();
            t.table(cname)
                .by_uuid(s(&a, 0))
                .map(Value::str)
                .ok_or_else(|| ApiError::new("UUID_INVALID", [cname, s(&a, 0)]))
        });
    }
    if class.has_implicit("get_by_name_label") {
        add(
            d,
            class,
            "get_by_name_label",
            vec![p("label", Type::String)],
            Type::Set(Box::new(me.clone())),
            false,
            move |ctx, a| {
                let t = ctx.xapi.store.read();
                Ok(Value::Set(t.table(cname).by_name_label(s(&a, 0)).iter().map(Value::str).collect()))
            },
        );
    }
    if lookup("get_all") {
        add(d, class, "get_all", vec![], Type::Set(Box::new(me.clone())), false, move |ctx, _| {
            let t = ctx.xapi.store.read();
            Ok(Value::Set(t.table(cname).objects.keys().map(Value::str).collect()))
        });
    }
    if lookup("get_all_records") {
        let ty = Type::Map(Box::new(me.clone()), Box::new(record.clone()));
        add(d, class, "get_all_records", vec![], ty, false, move |ctx, _| {
            let c = class;
            let t = ctx.xapi.store.read();
            Ok(Value::Map(t.table(cname).objects.iter().map(|(r, rec)| (Value::str(r), Value::record(c, rec.clone()))).collect()))
        });
    }
    if lookup("get_all_records_where") {
        let ty = Type::Map(Box::new(me.clone()), Box::new(record.clone()));
        add(d, class, "get_all_records_where", vec![p("expr", Type::String)], ty, false, move |ctx, a| {
            let c = class;
            let expr = super::where_expr::parse(s(&a, 0))?;
            let t = ctx.xapi.store.read();
            Ok(Value::Map(
                t.table(cname)
                    .objects
                    .iter()
                    .filter(|(_, rec)| expr.matches(c, rec))
                    .map(|(r, rec)| (Value::str(r), Value::record(c, rec.clone())))
                    .collect(),
            ))
        });
        add(
            d,
            class,
            "get_all_where",
            vec![p("expr", Type::String)],
            Type::Set(Box::new(me.clone())),
            false,
            move |ctx, a| {
                let c = class;
                let expr = super::where_expr::parse(s(&a, 0))?;
                let t = ctx.xapi.store.read();
                Ok(Value::Set(
                    t.table(cname).objects.iter().filter(|(_, rec)| expr.matches(c, rec)).map(|(r, _)| Value::str(r)).collect(),
                ))
            },
        );
    }

    if class.name == "message" {
        return; // messages have no field accessors.
    }

    for (pos, f) in class.fields.iter().enumerate() {
        let removed = f.lifecycle == Lifecycle::Removed;
        add(d, class, &format!("get_{}", f.name), vec![self_ref(cname)], f.ty.clone(), false, move |ctx, a| {
            if removed {
                return Err(ApiError::new("MESSAGE_REMOVED", Vec::<String>::new()));
            }
            let t = ctx.xapi.store.read();
            let rec = t.get(cname, s(&a, 0)).ok_or_else(|| ApiError::handle_invalid(cname, s(&a, 0)))?;
            Ok(rec.fields[pos].clone())
        });
    }
    for name in &class.setters {
        let pos = class.field_pos(name).expect("setter of a field");
        let ty = class.fields[pos].ty.clone();
        add(d, class, &format!("set_{name}"), vec![self_ref(cname), p("value", ty)], Type::Void, false, field_setter(cname, pos));
    }
    for name in class.map_ops.iter() {
        let pos = class.field_pos(name).expect("map op of a field");
        let Type::Map(kt, vt) = class.fields[pos].ty.clone() else { continue };
        let field: &'static str = name;
        add(
            d,
            class,
            &format!("add_to_{name}"),
            vec![self_ref(cname), p("key", (*kt).clone()), p("value", (*vt).clone())],
            Type::Void,
            false,
            move |ctx, a| {
                let r = s(&a, 0).to_string();
                let (k, v) = (a[1].clone(), a[2].clone());
                ctx.xapi.store.write(|tx| {
                    let c = class;
                    tx.update(cname, &r, |rec| {
                        let uuid = rec.str(c, "uuid").to_string();
                        let Value::Map(m) = &mut rec.fields[pos] else { return Err(ApiError::internal("not a map")) };
                        if m.iter().any(|(ek, _)| *ek == k) {
                            return Err(ApiError::new("MAP_DUPLICATE_KEY", [cname, field, uuid.as_str(), &k.key_string()]));
                        }
                        m.push((k, v));
                        Ok(())
                    })
                })?;
                Ok(Value::void())
            },
        );
        add(
            d,
            class,
            &format!("remove_from_{name}"),
            vec![self_ref(cname), p("key", (*kt).clone())],
            Type::Void,
            false,
            move |ctx, a| {
                let r = s(&a, 0).to_string();
                let k = a[1].clone();
                ctx.xapi.store.write(|tx| {
                    tx.update(cname, &r, |rec| {
                        if let Value::Map(m) = &mut rec.fields[pos] {
                            m.retain(|(ek, _)| *ek != k);
                        }
                        Ok(())
                    })
                })?;
                Ok(Value::void())
            },
        );
    }
    for name in &class.set_ops {
        let pos = class.field_pos(name).expect("set op of a field");
        let Type::Set(et) = class.fields[pos].ty.clone() else { continue };
        for (verb, adding) in [("add", true), ("remove", false)] {
            add(
                d,
                class,
                &format!("{verb}_{name}"),
                vec![self_ref(cname), p("value", (*et).clone())],
                Type::Void,
                false,
                move |ctx, a| {
                    let r = s(&a, 0).to_string();
                    let v = a[1].clone();
                    ctx.xapi.store.write(|tx| {
                        tx.update(cname, &r, |rec| {
                            if let Value::Set(items) = &mut rec.fields[pos] {
                                if adding {
                                    if !items.contains(&v) {
                                        items.push(v);
                                    }
                                } else {
                                    items.retain(|x| *x != v);
                                }
                            }
                            Ok(())
                        })
                    })?;
                    Ok(Value::void())
                },
            );
        }
    }
    if class.has_implicit("create") {
        add(d, class, "create", vec![p("args", record.clone())], me.clone(), true, move |ctx, a| {
            let c = class;
            let rec = record_from_create_args(c, &a[0])?;
            let r = new_ref();
            ctx.xapi.store.write(|tx| {
                tx.put(cname, &r, rec);
                Ok(())
            })?;
            Ok(Value::str(r))
        });
    }
    if class.has_implicit("destroy") {
        add(d, class, "destroy", vec![self_ref(cname)], Type::Void, true, move |ctx, a| {
            let r = s(&a, 0).to_string();
            ctx.xapi.store.write(|tx| destroy_generic(tx, cname, &r))?;
            Ok(Value::void())
        });
    }
}

/// The handler of a declared `set_<field>(self, value)` message whose value has the field's type:
/// it stores the value. None for any other message.
pub fn plain_setter(class: &'static Class, m: &crate::model::Message) -> Option<Handler> {
    let pos = class.plain_setter_field(m)?;
    Some(Handler::Sync(Arc::new(field_setter(&class.name, pos))))
}

/// `(self, value)` → stores `value` in field `pos` of `self`.
fn field_setter(cname: &'static str, pos: usize) -> impl Fn(&Ctx, Vec<Value>) -> Result<Value, ApiError> + Send + Sync + 'static {
    move |ctx, mut a| {
        let v = a.pop().expect("arity checked");
        let r = s(&a, 0).to_string();
        ctx.xapi.store.write(|tx| {
            tx.update(cname, &r, |rec| {
                rec.fields[pos] = v;
                Ok(())
            })
        })?;
        Ok(Value::void())
    }
}

/// Builds the record of a new object from the struct given to `<class>.create`: constructor
/// fields (RW and RO_c) from the struct or their defaults, runtime fields at zero, a fresh uuid.
/// A required field (one xapi gives no default either) that is missing is `FIELD_TYPE_ERROR
/// [field]`: the record given is not of the record type. (xapi fails with `INTERNAL_ERROR ["Field
/// f not present in rpc"]`; an internal error is kept here for the server's own faults.)
pub fn record_from_create_args(c: &Class, args: &Value) -> Result<Record, ApiError> {
    let Value::Struct(members) = args else { return Err(ApiError::new("FIELD_TYPE_ERROR", ["args"])) };
    let mut rec = Record::new_default(c);
    for (i, f) in c.fields.iter().enumerate() {
        if !is_constructor_field(f.qualifier) {
            continue;
        }
        match members.iter().find(|(k, _)| *k == f.name) {
            Some((_, v)) => rec.fields[i] = v.clone(),
            None if f.required => {
                return Err(ApiError::new("FIELD_TYPE_ERROR", [f.name.as_str()]))
            }
            None => {}
        }
    }
    if let Some(pos) = c.field_pos("uuid") {
        rec.fields[pos] = Value::str(new_uuid());
    }
    Ok(rec)
}

/// Deletes an object after checking it exists.
pub fn destroy_generic(tx: &mut Tx<'_>, class: &str, r: &str) -> Result<(), ApiError> {
    tx.must_get(class, r)?;
    tx.delete(class, r);
    Ok(())
}

/// Whether a field is settable through `set_<f>` (kept for API docs and checks).
pub fn is_settable(c: &Class, field: &str) -> bool {
    c.setters.iter().any(|s| s == field) && c.field(field).is_some_and(|f| f.qualifier == Qualifier::Rw)
}

//! Parser of `model/datamodel.txt` and `model/errors.txt` (grammar in the file headers).
//! Hand-written: the format is ours and small; no crate parses it.

use super::*;
use crate::value::Value;

struct RawClass {
    name: String,
    gen_events: bool,
    fields: Vec<(usize, String)>,
    messages: Vec<(usize, String)>,
    implicit: Vec<String>,
    setters: Vec<String>,
    map_ops: Vec<String>,
    set_ops: Vec<String>,
}

pub(super) fn parse(datamodel: &str, errors: &str) -> Result<Model, String> {
    let mut raw: Vec<RawClass> = Vec::new();
    let mut enums: HashMap<String, Vec<String>> = HashMap::new();
    for (i, line) in datamodel.lines().enumerate() {
        let lineno = i + 1;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(header) = t.strip_prefix("class ") {
            let mut words = header.split_whitespace();
            let name = words.next().ok_or_else(|| format!("line {lineno}: class without a name"))?;
            let mut gen_events = true;
            for flag in words {
                match flag {
                    "no_events" => gen_events = false,
                    other => return Err(format!("line {lineno}: unknown class flag {other}")),
                }
            }
            raw.push(RawClass {
                name: name.to_string(),
                gen_events,
                fields: vec![],
                messages: vec![],
                implicit: vec![],
                setters: vec![],
                map_ops: vec![],
                set_ops: vec![],
            });
            continue;
        }
        let cls = raw.last_mut().ok_or_else(|| format!("line {lineno}: item outside a class"))?;
        let (kw, rest) = t.split_once(' ').unwrap_or((t, ""));
        let words = || rest.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        match kw {
            "field" => cls.fields.push((lineno, rest.to_string())),
            "message" => cls.messages.push((lineno, rest.to_string())),
            "implicit" => cls.implicit = words(),
            "setters" => cls.setters = words(),
            "map_ops" => cls.map_ops = words(),
            "set_ops" => cls.set_ops = words(),
            "enum" => {
                let (name, vals) =
                    rest.split_once('=').ok_or_else(|| format!("line {lineno}: enum without ="))?;
                enums.insert(name.trim().to_string(), vals.split_whitespace().map(str::to_string).collect());
            }
            _ => return Err(format!("line {lineno}: unknown keyword {kw}")),
        }
    }

    let is_enum = |n: &str| enums.contains_key(n);
    let mut classes = Vec::new();
    for rc in raw {
        let mut fields = Vec::new();
        for (lineno, text) in &rc.fields {
            fields.push(parse_field(text, &is_enum).map_err(|e| format!("line {lineno}: {e}"))?);
        }
        let mut messages = Vec::new();
        for (lineno, text) in &rc.messages {
            messages.push(parse_message(text, &is_enum).map_err(|e| format!("line {lineno}: {e}"))?);
        }
        let field_index = fields.iter().enumerate().map(|(i, f)| (f.name.clone(), i)).collect();
        classes.push(Class {
            name: rc.name,
            fields,
            field_index,
            implicit: rc.implicit,
            setters: rc.setters,
            map_ops: rc.map_ops,
            set_ops: rc.set_ops,
            messages,
            gen_events: rc.gen_events,
        });
    }

    let mut errs = Vec::new();
    for (i, line) in errors.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut w = t.split_whitespace();
        let code = w.next().ok_or_else(|| format!("errors.txt line {}: empty", i + 1))?;
        errs.push(ErrorDecl { code: code.to_string(), params: w.map(str::to_string).collect() });
    }

    let class_index = classes.iter().enumerate().map(|(i, c)| (c.name.clone(), i)).collect();
    let class_lower = classes.iter().enumerate().map(|(i, c)| (c.name.to_ascii_lowercase(), i)).collect();
    let error_index = errs.iter().enumerate().map(|(i, e)| (e.code.clone(), i)).collect();
    Ok(Model { classes, class_index, class_lower, enums, errors: errs, error_index })
}

/// `NAME: TYPE QUAL [= DEFAULT | required] [deprecated] [removed]`
fn parse_field(text: &str, is_enum: &dyn Fn(&str) -> bool) -> Result<Field, String> {
    let (name, rest) = text.split_once(':').ok_or("field without ':'")?;
    let mut rest = rest.trim().to_string();
    let mut lifecycle = Lifecycle::Published;
    for (flag, lc) in [(" removed", Lifecycle::Removed), (" deprecated", Lifecycle::Deprecated)] {
        if let Some(r) = rest.strip_suffix(flag) {
            rest = r.to_string();
            lifecycle = lc;
        }
    }
    let mut required = false;
    if let Some(r) = rest.strip_suffix(" required") {
        rest = r.to_string();
        required = true;
    }
    let (head, default_text) = match rest.split_once(" = ") {
        Some((h, d)) => (h.to_string(), Some(d.trim().to_string())),
        None => (rest.clone(), None),
    };
    let (ty_text, qual) = head.rsplit_once(' ').ok_or("field without qualifier")?;
    let qualifier = match qual {
        "RW" => Qualifier::Rw,
        "RO_c" => Qualifier::RoConstructor,
        "RO_r" => Qualifier::RoRuntime,
        q => return Err(format!("unknown qualifier {q}")),
    };
    let ty = Type::parse(ty_text, is_enum)?;
    let default = match default_text {
        Some(d) => Some(parse_default(&d, &ty)?),
        None => None,
    };
    Ok(Field { name: name.trim().to_string(), ty, qualifier, default, required, lifecycle })
}

/// `NAME(PARAM: TYPE [= DEFAULT], ...) -> TYPE [async] [no_session] [deprecated] [removed] role=R [errors=...]`
fn parse_message(text: &str, is_enum: &dyn Fn(&str) -> bool) -> Result<Message, String> {
    let open = text.find('(').ok_or("message without (")?;
    let name = text[..open].trim().to_string();
    let close = text.rfind(") -> ").ok_or("message without ) ->")?;
    let params_text = &text[open + 1..close];
    let tail = &text[close + 5..];
    let mut params = Vec::new();
    for p in params_text.split(", ").filter(|p| !p.trim().is_empty()) {
        let (pn, pt) = p.split_once(':').ok_or_else(|| format!("parameter without type: {p}"))?;
        let (pt, default) = match pt.split_once(" = ") {
            Some((t, d)) => (t, Some(d)),
            None => (pt, None),
        };
        let ty = Type::parse(pt, is_enum)?;
        let default = match default {
            Some(d) => Some(parse_default(d.trim(), &ty)?),
            None => None,
        };
        params.push(Param { name: pn.trim().to_string(), ty, default });
    }
    // The result type runs up to the first flag word.
    let flags = ["async", "no_session", "deprecated", "removed"];
    let mut result_words = Vec::new();
    let mut has_async = false;
    let mut needs_session = true;
    let mut lifecycle = Lifecycle::Published;
    let mut role = Role::ReadOnly;
    let mut errors = Vec::new();
    let mut in_result = true;
    for w in tail.split_whitespace() {
        if in_result && !flags.contains(&w) && !w.starts_with("role=") && !w.starts_with("errors=") {
            result_words.push(w);
            continue;
        }
        in_result = false;
        match w {
            "async" => has_async = true,
            "no_session" => needs_session = false,
            "deprecated" => lifecycle = Lifecycle::Deprecated,
            "removed" => lifecycle = Lifecycle::Removed,
            r if r.starts_with("role=") => {
                role = Role::from_abbrev(&r[5..]).ok_or_else(|| format!("unknown role {r}"))?
            }
            e if e.starts_with("errors=") => errors = e[7..].split(',').map(str::to_string).collect(),
            other => return Err(format!("unknown message flag {other}")),
        }
    }
    let result = Type::parse(&result_words.join(" "), is_enum)?;
    Ok(Message { name, params, result, has_async, needs_session, role, lifecycle, errors })
}

/// Defaults as the model spells them: `""`, `"1.1"`, `{}`, `[]`, `0`, `1.`, `false`,
/// `OpaqueRef:NULL`, or an enum value.
fn parse_default(d: &str, ty: &Type) -> Result<Value, String> {
    let bad = || format!("default {d} does not fit type {ty}");
    Ok(match ty {
        Type::String | Type::Ref(_) | Type::Enum(_) => Value::String(d.trim_matches('"').to_string()),
        Type::Int => Value::Int(d.parse().map_err(|_| bad())?),
        Type::Float => Value::Float(d.trim_end_matches('.').parse().map_err(|_| bad())?),
        Type::Bool => Value::Bool(d.parse().map_err(|_| bad())?),
        Type::DateTime => Value::DateTime(0),
        Type::Set(_) if d == "{}" || d == "[]" => Value::Set(vec![]),
        Type::Map(..) if d == "{}" || d == "[]" => Value::Map(vec![]),
        _ => return Err(bad()),
    })
}

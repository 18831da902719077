//! WQL (the DMTF CQL subset SFCB and Pegasus accept as "WQL"):
//!
//! ```text
//! SELECT * | prop, prop FROM Class [WHERE cond]
//! cond := cond OR cond | cond AND cond | NOT cond | ( cond )
//!       | operand op operand          op: = <> != < > <= >=
//!       | prop IS [NOT] NULL | prop ISA Class
//! operand := property name | 'string' | "string" | number | TRUE | FALSE | NULL
//! prop    := Name | Class.Name | EmbeddedProp.Name[.Name...]   (any Name may be Class::Name)
//! ```
//!
//! A dotted property name reaches into an embedded instance, as DSP1054 filters on lifecycle
//! indications do: `SourceInstance.EnabledState <> PreviousInstance.EnabledState`,
//! `SourceInstance ISA Xen_ComputerSystem`. When the first part is not a property of the
//! instance but its class (or a superclass), it only qualifies the name (`Class.Prop`). CQL's
//! `SourceInstance.CIM_ComputerSystem::EnabledState` names the property of the embedded
//! instance only when that instance is a `CIM_ComputerSystem` (NULL otherwise).
//!
//! Written by hand: no maintained Rust crate parses WQL.

use crate::model::{CimType, Instance, PropertyValue, Value};

/// Deepest nesting of `(` and `NOT` in a condition. Queries come from clients (ExecQuery,
/// indication filters) and conditions are parsed, evaluated and dropped recursively: these
/// limits keep the recursion far from the end of a thread's stack whatever the query.
pub const MAX_NESTING: usize = 64;
/// Most `AND` / `OR` operators in one condition (a chain of them is as deep as it is long).
pub const MAX_OPERATORS: usize = 256;
/// Most parts of a dotted property name (`SourceInstance.Class.Prop` has three).
pub const MAX_NAME_PARTS: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// None for `*`.
    pub properties: Option<Vec<String>>,
    pub class: String,
    pub condition: Option<Cond>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Prop(String),
    Lit(Lit),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Cmp(Operand, CmpOp, Operand),
    IsNull(String, bool),
    Isa(String, String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(f64),
    Sym(&'static str),
}

fn lex(q: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = q.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphabetic() || ch == '_' {
            let s = i;
            loop {
                if i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '.') {
                    i += 1;
                } else if c.get(i) == Some(&':') && c.get(i + 1) == Some(&':') && c.get(i + 2).is_some_and(|x| x.is_alphabetic() || *x == '_') {
                    i += 2; // CQL's Class::Prop
                } else {
                    break;
                }
            }
            let w: String = c[s..i].iter().collect();
            if w.split('.').count() > MAX_NAME_PARTS {
                return Err(format!("a property name has more than {MAX_NAME_PARTS} dotted parts"));
            }
            out.push(Tok::Word(w));
        } else if ch.is_ascii_digit() || ((ch == '-' || ch == '+') && c.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let s = i;
            i += 1;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.') {
                i += 1;
            }
            let t: String = c[s..i].iter().collect();
            let v = if let Some(h) = t.strip_prefix("0x") {
                i64::from_str_radix(h, 16).map(|v| v as f64).map_err(|_| format!("bad number {t}"))?
            } else {
                t.parse::<f64>().map_err(|_| format!("bad number {t}"))?
            };
            out.push(Tok::Num(v));
        } else if ch == '\'' || ch == '"' {
            let q = ch;
            i += 1;
            let mut s = String::new();
            loop {
                match c.get(i) {
                    None => return Err("unterminated string".into()),
                    Some('\\') if c.get(i + 1).is_some() => {
                        s.push(c[i + 1]);
                        i += 2;
                    }
                    Some(&x) if x == q => {
                        // '' inside a '-string is a quote
                        if c.get(i + 1) == Some(&q) {
                            s.push(q);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(&x) => {
                        s.push(x);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else {
            let two: String = c[i..(i + 2).min(c.len())].iter().collect();
            let sym = match two.as_str() {
                "<>" => Some("<>"),
                "!=" => Some("<>"),
                "<=" => Some("<="),
                ">=" => Some(">="),
                _ => None,
            };
            if let Some(s) = sym {
                out.push(Tok::Sym(s));
                i += 2;
                continue;
            }
            let s = match ch {
                '=' => "=",
                '<' => "<",
                '>' => ">",
                '(' => "(",
                ')' => ")",
                ',' => ",",
                '*' => "*",
                _ => return Err(format!("unexpected character '{ch}'")),
            };
            out.push(Tok::Sym(s));
            i += 1;
        }
    }
    Ok(out)
}

struct P {
    t: Vec<Tok>,
    i: usize,
    /// `(` and `NOT` levels open now.
    nesting: usize,
    /// `AND` / `OR` operators read so far.
    operators: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn kw(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
    }
    fn eat_kw(&mut self, k: &str) -> bool {
        if self.kw(k) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_sym(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(x)) if *x == s) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn word(&mut self, what: &str) -> Result<String, String> {
        match self.peek() {
            Some(Tok::Word(w)) => {
                let w = w.clone();
                self.i += 1;
                Ok(w)
            }
            other => Err(format!("expected {what}, found {other:?}")),
        }
    }
    fn count_operator(&mut self) -> Result<(), String> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(format!("more than {MAX_OPERATORS} AND/OR operators in the condition"));
        }
        Ok(())
    }
    fn or(&mut self) -> Result<Cond, String> {
        let mut l = self.and()?;
        while self.eat_kw("OR") {
            self.count_operator()?;
            l = Cond::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Cond, String> {
        let mut l = self.not()?;
        while self.eat_kw("AND") {
            self.count_operator()?;
            l = Cond::And(Box::new(l), Box::new(self.not()?));
        }
        Ok(l)
    }
    fn not(&mut self) -> Result<Cond, String> {
        let negated = self.eat_kw("NOT");
        let paren = !negated && self.eat_sym("(");
        if !negated && !paren {
            return self.cmp();
        }
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(format!("parentheses and NOT nested deeper than {MAX_NESTING}"));
        }
        let c = if negated {
            self.not().map(|c| Cond::Not(Box::new(c)))
        } else {
            self.or().and_then(|c| if self.eat_sym(")") { Ok(c) } else { Err("expected ')'".into()) })
        };
        self.nesting -= 1;
        c
    }
    fn operand(&mut self) -> Result<Operand, String> {
        Ok(match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.i += 1;
                Operand::Lit(Lit::Str(s))
            }
            Some(Tok::Num(n)) => {
                self.i += 1;
                Operand::Lit(Lit::Num(n))
            }
            Some(Tok::Word(w)) => {
                self.i += 1;
                match w.to_ascii_uppercase().as_str() {
                    "TRUE" => Operand::Lit(Lit::Bool(true)),
                    "FALSE" => Operand::Lit(Lit::Bool(false)),
                    "NULL" => Operand::Lit(Lit::Null),
                    _ => Operand::Prop(w),
                }
            }
            other => return Err(format!("expected an operand, found {other:?}")),
        })
    }
    fn cmp(&mut self) -> Result<Cond, String> {
        let l = self.operand()?;
        if let Operand::Prop(p) = &l {
            if self.eat_kw("IS") {
                let neg = self.eat_kw("NOT");
                if !self.eat_kw("NULL") {
                    return Err("expected NULL after IS".into());
                }
                return Ok(Cond::IsNull(p.clone(), !neg));
            }
            if self.eat_kw("ISA") {
                return Ok(Cond::Isa(p.clone(), self.word("a class name")?));
            }
        }
        let op = match self.peek() {
            Some(Tok::Sym("=")) => CmpOp::Eq,
            Some(Tok::Sym("<>")) => CmpOp::Ne,
            Some(Tok::Sym("<")) => CmpOp::Lt,
            Some(Tok::Sym(">")) => CmpOp::Gt,
            Some(Tok::Sym("<=")) => CmpOp::Le,
            Some(Tok::Sym(">=")) => CmpOp::Ge,
            other => return Err(format!("expected a comparison operator, found {other:?}")),
        };
        self.i += 1;
        let r = self.operand()?;
        Ok(Cond::Cmp(l, op, r))
    }
}

pub fn parse(q: &str) -> Result<Query, String> {
    let mut p = P { t: lex(q)?, i: 0, nesting: 0, operators: 0 };
    if !p.eat_kw("SELECT") {
        return Err("query must start with SELECT".into());
    }
    let properties = if p.eat_sym("*") {
        None
    } else {
        let mut v = vec![p.word("a property name")?];
        while p.eat_sym(",") {
            v.push(p.word("a property name")?);
        }
        Some(v)
    };
    if !p.eat_kw("FROM") {
        return Err("expected FROM".into());
    }
    let class = p.word("a class name")?;
    let condition = if p.eat_kw("WHERE") { Some(p.or()?) } else { None };
    if p.i != p.t.len() {
        return Err(format!("unexpected {:?} after the query", p.t[p.i]));
    }
    Ok(Query { properties, class, condition })
}

fn to_lit(v: Option<&Value>) -> Lit {
    match v {
        None => Lit::Null,
        Some(Value::String(s)) | Some(Value::DateTime(s)) => Lit::Str(s.clone()),
        Some(Value::Char16(c)) => Lit::Str(c.to_string()),
        Some(Value::Boolean(b)) => Lit::Bool(*b),
        Some(Value::UInt(u)) => Lit::Num(*u as f64),
        Some(Value::SInt(i)) => Lit::Num(*i as f64),
        Some(Value::Real(r)) => Lit::Num(*r),
        Some(Value::Reference(p)) => Lit::Str(p.to_string()),
        Some(Value::Array(_)) => Lit::Null,
    }
}

/// An embedded instance held by a string property as CIM-XML `<INSTANCE>` text (how the broker
/// keeps `EmbeddedObject` / `EmbeddedInstance` values), typed by the TYPE attributes it carries.
pub fn embedded_instance(v: &Value) -> Option<Instance> {
    let Value::String(text) = v else { return None };
    if !text.trim_start().starts_with('<') {
        return None;
    }
    let el = crate::xml::parse(text.as_bytes()).ok()?;
    let raw = crate::cimxml::decode_instance(&el).ok()?;
    let mut out = Instance::new(raw.class_name);
    for (name, ty, is_array, rv) in raw.properties {
        let ty = ty.unwrap_or(CimType::String);
        let value = crate::cimxml::type_raw(&rv, ty, is_array, &name).ok().flatten();
        out.properties.push(PropertyValue { name, ty, is_array, reference_class: None, value });
    }
    Some(out)
}

/// The value a (possibly dotted) property name of a condition names in `inst`.
fn lookup(inst: &Instance, name: &str, isa: &dyn Fn(&str, &str) -> bool) -> Option<Value> {
    let Some((head, rest)) = name.split_once('.') else { return own(inst, name, isa) };
    if inst.get(head.rsplit("::").next().unwrap_or(head)).is_some() {
        // `Embedded.Prop`: a property of the instance the property holds (NULL when it holds none)
        return lookup(&embedded_instance(&own(inst, head, isa)?)?, rest, isa);
    }
    if head.eq_ignore_ascii_case(&inst.class_name) || isa(&inst.class_name, head) {
        return lookup(inst, rest, isa);
    }
    None
}

/// The property `name` of `inst` itself; `Class::Prop` only when `inst` is a `Class`.
fn own(inst: &Instance, name: &str, isa: &dyn Fn(&str, &str) -> bool) -> Option<Value> {
    match name.split_once("::") {
        Some((class, prop)) if class.eq_ignore_ascii_case(&inst.class_name) || isa(&inst.class_name, class) => inst.get_value(prop).cloned(),
        Some(_) => None,
        None => inst.get_value(name).cloned(),
    }
}

/// Evaluates a condition on an instance. `isa(class, ancestor)` answers
/// class membership. Comparisons with NULL or of different kinds are false.
pub fn eval(c: &Cond, inst: &Instance, isa: &dyn Fn(&str, &str) -> bool) -> bool {
    let val = |o: &Operand| match o {
        Operand::Prop(p) => to_lit(lookup(inst, p, isa).as_ref()),
        Operand::Lit(l) => l.clone(),
    };
    match c {
        Cond::And(a, b) => eval(a, inst, isa) && eval(b, inst, isa),
        Cond::Or(a, b) => eval(a, inst, isa) || eval(b, inst, isa),
        Cond::Not(a) => !eval(a, inst, isa),
        Cond::IsNull(p, want_null) => lookup(inst, p, isa).is_none() == *want_null,
        Cond::Isa(p, cls) => match lookup(inst, p, isa) {
            Some(Value::Reference(r)) => isa(&r.class_name, cls),
            Some(v @ Value::String(_)) => embedded_instance(&v).is_some_and(|e| e.class_name.eq_ignore_ascii_case(cls) || isa(&e.class_name, cls)),
            _ => false,
        },
        Cond::Cmp(l, op, r) => {
            let (a, b) = (val(l), val(r));
            let ord = match (&a, &b) {
                (Lit::Str(x), Lit::Str(y)) => x.partial_cmp(y),
                (Lit::Num(x), Lit::Num(y)) => x.partial_cmp(y),
                (Lit::Bool(x), Lit::Bool(y)) => x.partial_cmp(y),
                _ => None,
            };
            match (ord, op) {
                (None, _) => false,
                (Some(o), CmpOp::Eq) => o.is_eq(),
                (Some(o), CmpOp::Ne) => o.is_ne(),
                (Some(o), CmpOp::Lt) => o.is_lt(),
                (Some(o), CmpOp::Gt) => o.is_gt(),
                (Some(o), CmpOp::Le) => o.is_le(),
                (Some(o), CmpOp::Ge) => o.is_ge(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ObjectPath;

    #[test]
    fn parses_and_evaluates() {
        let q = parse("select Name, N from X_A where (N >= 2 AND Name <> 'b') OR NOT Flag = TRUE").unwrap();
        assert_eq!(q.class, "X_A");
        assert_eq!(q.properties, Some(vec!["Name".to_string(), "N".to_string()]));
        let mk = |n: &str, v: u64, f: bool| {
            Instance::new("X_A")
                .with("Name", CimType::String, Value::String(n.into()))
                .with("N", CimType::UInt32, Value::UInt(v))
                .with("Flag", CimType::Boolean, Value::Boolean(f))
        };
        let no = |_: &str, _: &str| false;
        let c = q.condition.unwrap();
        assert!(eval(&c, &mk("a", 3, true), &no));
        assert!(!eval(&c, &mk("b", 3, true), &no));
        assert!(eval(&c, &mk("b", 3, false), &no));
        assert!(!eval(&c, &mk("a", 1, true), &no));
    }

    #[test]
    fn null_isa_and_errors() {
        let q = parse("SELECT * FROM A WHERE X IS NULL AND R ISA B").unwrap();
        let i = Instance::new("A").with("R", CimType::Reference, Value::Reference(ObjectPath::new("C")));
        assert!(eval(q.condition.as_ref().unwrap(), &i, &|c, a| c == "C" && a == "B"));
        assert!(!eval(q.condition.as_ref().unwrap(), &i, &|_, _| false));
        assert!(parse("SELECT FROM A").is_err());
        assert!(parse("SELECT * FROM").is_err());
        assert!(parse("SELECT * FROM A WHERE").is_err());
        assert!(parse("SELECT * FROM A WHERE X = 'open").is_err());
        assert!(parse("DELETE FROM A").is_err());
        assert!(parse("SELECT * FROM A WHERE X = 1 junk").is_err());
    }

    /// A lifecycle indication carrying `SourceInstance` (and `PreviousInstance`) as CIM-XML.
    fn lifecycle(class: &str, new_state: u64, old_state: Option<u64>) -> Instance {
        let embed = |state: u64| {
            let cs = Instance::new("X_ComputerSystem")
                .with("Name", CimType::String, Value::String("vm-1".into()))
                .with("EnabledState", CimType::UInt16, Value::UInt(state))
                .with("ElementName", CimType::String, Value::String("web".into()));
            let mut o = crate::xml::XmlOut::new();
            crate::cimxml::write_instance(&mut o, &cs, None, &Default::default());
            Value::String(o.buf)
        };
        let mut i = Instance::new(class).with("SourceInstance", CimType::String, embed(new_state));
        if let Some(s) = old_state {
            i = i.with("PreviousInstance", CimType::String, embed(s));
        }
        i
    }

    #[test]
    fn deep_or_long_conditions_are_errors_not_stack_overflows() {
        let deep = format!("SELECT * FROM A WHERE {}X = 1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(parse(&deep).unwrap_err().contains("nested deeper"));
        let nots = format!("SELECT * FROM A WHERE {} X = 1", "NOT ".repeat(100_000));
        assert!(parse(&nots).unwrap_err().contains("nested deeper"));
        let chain = format!("SELECT * FROM A WHERE X = 1{}", " AND X = 1".repeat(100_000));
        assert!(parse(&chain).unwrap_err().contains("AND/OR"));
        let dotted = format!("SELECT * FROM A WHERE {}X = 1", "A.".repeat(100_000));
        assert!(parse(&dotted).unwrap_err().contains("dotted parts"));
        // up to the limits, queries parse and evaluate
        let ok = format!("SELECT * FROM A WHERE {}X = 1{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        let i = Instance::new("A").with("X", CimType::UInt8, Value::UInt(1));
        assert!(eval(parse(&ok).unwrap().condition.as_ref().unwrap(), &i, &|_, _| false));
        let ok = format!("SELECT * FROM A WHERE X = 1{}", " AND X = 1".repeat(MAX_OPERATORS));
        assert!(eval(parse(&ok).unwrap().condition.as_ref().unwrap(), &i, &|_, _| false));
        for bad in ["SELECT * FROM A WHERE X = --5", "SELECT * FROM A WHERE X = 0x", "SELECT * FROM A WHERE 'é", "SELECT * FROM A WHERE é::"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dotted_names_reach_into_embedded_instances() {
        let isa = |c: &str, a: &str| c == a || (c == "X_ComputerSystem" && a == "CIM_ComputerSystem") || (c == "X_Modification" && a == "CIM_InstModification");
        let matches = |q: &str, i: &Instance| eval(parse(q).unwrap().condition.as_ref().unwrap(), i, &isa);
        let started = lifecycle("X_Modification", 2, Some(3));
        let renamed = lifecycle("X_Modification", 3, Some(3));
        let created = lifecycle("X_Creation", 3, None);
        let changed = "SELECT * FROM CIM_InstModification WHERE SourceInstance.EnabledState <> PreviousInstance.EnabledState";
        assert!(matches(changed, &started));
        assert!(!matches(changed, &renamed));
        assert!(!matches(changed, &created), "no PreviousInstance: NULL compares false");
        assert!(matches("SELECT * FROM A WHERE SourceInstance.EnabledState = 3", &renamed));
        assert!(!matches("SELECT * FROM A WHERE SourceInstance.EnabledState = 3", &started));
        assert!(matches("SELECT * FROM A WHERE SourceInstance.ElementName = 'web' AND PreviousInstance.EnabledState = 3", &started));
        assert!(matches("SELECT * FROM A WHERE SourceInstance ISA CIM_ComputerSystem", &started));
        assert!(matches("SELECT * FROM A WHERE SourceInstance ISA X_ComputerSystem", &created));
        assert!(!matches("SELECT * FROM A WHERE SourceInstance ISA CIM_Job", &started));
        assert!(matches("SELECT * FROM A WHERE PreviousInstance IS NULL", &created));
        assert!(matches("SELECT * FROM A WHERE PreviousInstance IS NOT NULL", &started));
        assert!(matches("SELECT * FROM A WHERE SourceInstance.Description IS NULL", &started));
        assert!(!matches("SELECT * FROM A WHERE SourceInstance.NoSuch.Deeper = 1", &started));
        // A class qualifier stays a qualifier, on the class itself or a superclass.
        assert!(matches("SELECT * FROM A WHERE X_Modification.SourceInstance.EnabledState = 2", &started));
        assert!(matches("SELECT * FROM A WHERE CIM_InstModification.SourceInstance.EnabledState = 2", &started));
        assert!(!matches("SELECT * FROM A WHERE Other_Class.SourceInstance.EnabledState = 2", &started));
        // CQL's Class::Prop on the embedded instance.
        assert!(matches("SELECT * FROM A WHERE SourceInstance.CIM_ComputerSystem::EnabledState = 2", &started));
        assert!(matches("SELECT * FROM A WHERE SourceInstance.X_ComputerSystem::EnabledState <> PreviousInstance.X_ComputerSystem::EnabledState", &started));
        assert!(!matches("SELECT * FROM A WHERE SourceInstance.CIM_Job::EnabledState = 2", &started), "not a CIM_Job");
        assert!(matches("SELECT * FROM A WHERE X_Modification::SourceInstance.EnabledState = 2", &started));
        assert!(parse("SELECT * FROM A WHERE X: = 1").is_err() && parse("SELECT * FROM A WHERE X::1 = 1").is_err());
    }

    #[test]
    fn class_qualified_names_still_read_the_instance() {
        let q = parse("SELECT * FROM X_A WHERE X_A.Name = 'a'").unwrap();
        let i = Instance::new("X_A").with("Name", CimType::String, Value::String("a".into()));
        assert!(eval(q.condition.as_ref().unwrap(), &i, &|c, a| c == a));
        assert!(!eval(q.condition.as_ref().unwrap(), &Instance::new("X_A").with("Name", CimType::String, Value::String("b".into())), &|c, a| c == a));
    }
}

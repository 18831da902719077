//! The filter expressions of `get_all_records_where` / `get_all_where`, in xapi's syntax:
//! `field "power_state" = "Running" and not (field "is_a_template" = "true")`.
//! Grammar: `or := and ("or" and)*`, `and := unary ("and" unary)*`,
//! `unary := "not" unary | "(" or ")" | "true" | "false" | operand ("=" | "<>") operand`,
//! `operand := "field" STRING | STRING`. Fields compare by their text form. Hand-written: a
//! dozen lines of grammar, no crate for it.

use crate::error::ApiError;
use crate::model::Class;
use crate::store::Record;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    True,
    False,
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Eq(Operand, Operand),
    Ne(Operand, Operand),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Field(String),
    Literal(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Eq,
    Ne,
    Open,
    Close,
}

fn bad(expr: &str) -> ApiError {
    ApiError::new("INVALID_VALUE", ["expr", expr])
}

fn lex(s: &str) -> Result<Vec<Tok>, ApiError> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open)
            }
            ')' => {
                chars.next();
                out.push(Tok::Close)
            }
            '=' => {
                chars.next();
                out.push(Tok::Eq)
            }
            '<' => {
                chars.next();
                if chars.next() != Some('>') {
                    return Err(bad(s));
                }
                out.push(Tok::Ne)
            }
            '"' => {
                chars.next();
                let mut lit = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => lit.push(chars.next().ok_or_else(|| bad(s))?),
                        Some(ch) => lit.push(ch),
                        None => return Err(bad(s)),
                    }
                }
                out.push(Tok::Str(lit))
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut w = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_alphanumeric() || ch == '_' {
                        w.push(ch);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Tok::Word(w.to_ascii_lowercase()))
            }
            _ => return Err(bad(s)),
        }
    }
    Ok(out)
}

struct P<'a> {
    toks: Vec<Tok>,
    pos: usize,
    src: &'a str,
}

impl P<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }
    fn or(&mut self, depth: usize) -> Result<Expr, ApiError> {
        if depth > 64 {
            return Err(bad(self.src));
        }
        let mut e = self.and(depth)?;
        while self.word("or") {
            self.next();
            e = Expr::Or(Box::new(e), Box::new(self.and(depth)?));
        }
        Ok(e)
    }
    fn and(&mut self, depth: usize) -> Result<Expr, ApiError> {
        let mut e = self.unary(depth)?;
        while self.word("and") {
            self.next();
            e = Expr::And(Box::new(e), Box::new(self.unary(depth)?));
        }
        Ok(e)
    }
    fn unary(&mut self, depth: usize) -> Result<Expr, ApiError> {
        match self.peek() {
            Some(Tok::Word(w)) if w == "not" => {
                self.next();
                Ok(Expr::Not(Box::new(self.unary(depth + 1)?)))
            }
            Some(Tok::Word(w)) if w == "true" => {
                self.next();
                Ok(Expr::True)
            }
            Some(Tok::Word(w)) if w == "false" => {
                self.next();
                Ok(Expr::False)
            }
            Some(Tok::Open) => {
                self.next();
                let e = self.or(depth + 1)?;
                match self.next() {
                    Some(Tok::Close) => Ok(e),
                    _ => Err(bad(self.src)),
                }
            }
            _ => {
                let a = self.operand()?;
                let op = self.next();
                let b = self.operand()?;
                match op {
                    Some(Tok::Eq) => Ok(Expr::Eq(a, b)),
                    Some(Tok::Ne) => Ok(Expr::Ne(a, b)),
                    _ => Err(bad(self.src)),
                }
            }
        }
    }
    fn operand(&mut self) -> Result<Operand, ApiError> {
        match self.next() {
            Some(Tok::Word(w)) if w == "field" => match self.next() {
                Some(Tok::Str(f)) => Ok(Operand::Field(f)),
                _ => Err(bad(self.src)),
            },
            Some(Tok::Str(s)) => Ok(Operand::Literal(s)),
            _ => Err(bad(self.src)),
        }
    }
}

pub fn parse(s: &str) -> Result<Expr, ApiError> {
    let mut p = P { toks: lex(s)?, pos: 0, src: s };
    let e = p.or(0)?;
    if p.pos != p.toks.len() {
        return Err(bad(s));
    }
    Ok(e)
}

fn text(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        other => other.key_string(),
    }
}

impl Expr {
    pub fn matches(&self, c: &Class, rec: &Record) -> bool {
        let val = |o: &Operand| match o {
            Operand::Literal(s) => Some(s.clone()),
            Operand::Field(f) => c.field_pos(f).map(|p| text(&rec.fields[p])),
        };
        match self {
            Expr::True => true,
            Expr::False => false,
            Expr::Not(e) => !e.matches(c, rec),
            Expr::And(a, b) => a.matches(c, rec) && b.matches(c, rec),
            Expr::Or(a, b) => a.matches(c, rec) || b.matches(c, rec),
            Expr::Eq(a, b) => matches!((val(a), val(b)), (Some(x), Some(y)) if x == y),
            Expr::Ne(a, b) => !matches!((val(a), val(b)), (Some(x), Some(y)) if x == y),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::model;

    #[test]
    fn filters_records() {
        let c = model().class("VM").unwrap();
        let mut rec = Record::new_default(c);
        rec.set(c, "power_state", Value::str("Running"));
        let e = parse(r#"field "power_state" = "Running" and field "is_a_template" = "false""#).unwrap();
        assert!(e.matches(c, &rec));
        let e = parse(r#"not (field "power_state" = "Running") or false"#).unwrap();
        assert!(!e.matches(c, &rec));
        assert!(parse("true").unwrap().matches(c, &rec));
        assert!(parse(r#"field "power_state" ="#).is_err());
        assert!(parse(r#"field "x" = "y" )"#).is_err());
    }
}

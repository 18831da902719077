//! MOF compiler (DSP0221 2.x syntax as used by the DMTF CIM Schema 2.x).
//!
//! Written by hand: no maintained Rust crate compiles MOF. One pass: the
//! lexer turns a file into tokens, the parser turns each production into
//! model types (typing qualifier and property values against their
//! declarations) and adds it to the [`Repository`], which resolves and checks
//! inheritance. Every error carries the file and line.
//!
//! Supported: `#pragma include("relative/path.mof")` (relative to the
//! including file), `#pragma namespace("root/x")`, `#pragma locale` (ignored),
//! qualifier declarations, classes, associations, indications (all
//! `class` declarations distinguished by qualifiers), method declarations,
//! instance declarations with `as $alias` and alias references.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::model::*;
use crate::repo::{normalize_ns, Repository};

/// A compile error located in a MOF file.
#[derive(Debug, Clone, PartialEq)]
pub struct MofError {
    pub file: PathBuf,
    pub line: u32,
    pub message: String,
}

impl fmt::Display for MofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

impl std::error::Error for MofError {}

/// Counts of what a compile added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompileStats {
    pub files: usize,
    pub qualifiers: usize,
    pub classes: usize,
    pub instances: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Char(char),
    Int(i128),
    Real(f64),
    Alias(String),
    Pragma,
    Punct(char),
    Eof,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "'{s}'"),
            Tok::Str(_) => f.write_str("a string"),
            Tok::Char(_) => f.write_str("a char literal"),
            Tok::Int(i) => write!(f, "{i}"),
            Tok::Real(r) => write!(f, "{r}"),
            Tok::Alias(a) => write!(f, "${a}"),
            Tok::Pragma => f.write_str("#pragma"),
            Tok::Punct(c) => write!(f, "'{c}'"),
            Tok::Eof => f.write_str("end of file"),
        }
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, u32)>, (u32, String)> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut line = 1u32;
    let mut out = Vec::with_capacity(src.len() / 6);
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' | 0x0c => i += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let start = line;
                i += 2;
                loop {
                    if i + 1 >= b.len() {
                        return Err((start, "unterminated comment".into()));
                    }
                    if b[i] == b'*' && b[i + 1] == b'/' {
                        i += 2;
                        break;
                    }
                    if b[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            b'"' => {
                let (s, ni, nl) = lex_quoted(src, i + 1, b'"', line)?;
                out.push((Tok::Str(s), line));
                line = nl;
                i = ni;
            }
            b'\'' => {
                let (s, ni, nl) = lex_quoted(src, i + 1, b'\'', line)?;
                let mut it = s.chars();
                match (it.next(), it.next()) {
                    (Some(ch), None) => out.push((Tok::Char(ch), line)),
                    _ => return Err((line, "a char16 literal holds exactly one character".into())),
                }
                line = nl;
                i = ni;
            }
            b'#' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if !src[start..j].eq_ignore_ascii_case("pragma") {
                    return Err((line, format!("unknown directive #{}", &src[start..j])));
                }
                out.push((Tok::Pragma, line));
                i = j;
            }
            b'$' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j == start {
                    return Err((line, "'$' must start an alias name".into()));
                }
                out.push((Tok::Alias(src[start..j].to_string()), line));
                i = j;
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
                    i += 1;
                }
                out.push((Tok::Ident(src[start..i].to_string()), line));
            }
            c if c.is_ascii_digit()
                || ((c == b'-' || c == b'+' || c == b'.')
                    && b.get(i + 1).map(|d| d.is_ascii_digit() || *d == b'.').unwrap_or(false)) =>
            {
                let start = i;
                if c == b'-' || c == b'+' {
                    i += 1;
                }
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'.'
                        || ((b[i] == b'-' || b[i] == b'+') && matches!(b[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
                let text = &src[start..i];
                out.push((lex_number(text).ok_or_else(|| (line, format!("bad number '{text}'")))?, line));
            }
            b'{' | b'}' | b'(' | b')' | b'[' | b']' | b';' | b',' | b':' | b'=' => {
                out.push((Tok::Punct(c as char), line));
                i += 1;
            }
            _ => return Err((line, format!("unexpected character '{}'", c as char))),
        }
    }
    out.push((Tok::Eof, line));
    Ok(out)
}

fn lex_number(t: &str) -> Option<Tok> {
    let (neg, body) = match t.as_bytes()[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let sign = |v: i128| if neg { -v } else { v };
    if body.contains('.') || ((body.contains('e') || body.contains('E')) && !body.starts_with("0x") && !body.starts_with("0X")) {
        return t.parse::<f64>().ok().map(Tok::Real);
    }
    if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        return i128::from_str_radix(h, 16).ok().map(|v| Tok::Int(sign(v)));
    }
    if let Some(bits) = body.strip_suffix('b').or_else(|| body.strip_suffix('B')) {
        return i128::from_str_radix(bits, 2).ok().map(|v| Tok::Int(sign(v)));
    }
    if body.len() > 1 && body.starts_with('0') {
        return i128::from_str_radix(&body[1..], 8).ok().map(|v| Tok::Int(sign(v)));
    }
    body.parse::<i128>().ok().map(|v| Tok::Int(sign(v)))
}

/// Reads a quoted literal starting after the opening quote. Returns the
/// unescaped text, the index after the closing quote and the new line number.
fn lex_quoted(src: &str, start: usize, quote: u8, mut line: u32) -> Result<(String, usize, u32), (u32, String)> {
    let b = src.as_bytes();
    let mut out = String::new();
    let mut i = start;
    let mut seg = start;
    loop {
        if i >= b.len() {
            return Err((line, "unterminated string".into()));
        }
        match b[i] {
            c if c == quote => {
                out.push_str(&src[seg..i]);
                return Ok((out, i + 1, line));
            }
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'\\' => {
                out.push_str(&src[seg..i]);
                let e = *b.get(i + 1).ok_or((line, "unterminated string".to_string()))?;
                i += 2;
                match e {
                    b'b' => out.push('\u{8}'),
                    b't' => out.push('\t'),
                    b'n' => out.push('\n'),
                    b'f' => out.push('\u{c}'),
                    b'r' => out.push('\r'),
                    b'"' => out.push('"'),
                    b'\'' => out.push('\''),
                    b'\\' => out.push('\\'),
                    b'x' | b'X' => {
                        let hs = i;
                        while i < b.len() && i - hs < 4 && b[i].is_ascii_hexdigit() {
                            i += 1;
                        }
                        let v = u32::from_str_radix(&src[hs..i], 16).map_err(|_| (line, "bad \\x escape".to_string()))?;
                        out.push(char::from_u32(v).ok_or((line, "bad \\x escape".to_string()))?);
                    }
                    other => return Err((line, format!("unknown escape \\{}", other as char))),
                }
                seg = i;
            }
            _ => i += 1,
        }
    }
}

/// A literal before it is typed.
#[derive(Debug, Clone)]
enum Lit {
    Int(i128),
    Real(f64),
    Str(String),
    Char(char),
    Bool(bool),
    Null,
    Alias(String),
    Array(Vec<Lit>),
}

/// Compiles MOF files into a repository.
pub struct Compiler<'r> {
    repo: &'r mut Repository,
    namespace: String,
    aliases: HashMap<String, ObjectPath>,
    pub stats: CompileStats,
    depth: usize,
}

struct Parser<'a> {
    toks: &'a [(Tok, u32)],
    pos: usize,
    file: &'a Path,
}

type PResult<T> = Result<T, MofError>;

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn line(&self) -> u32 {
        self.toks[self.pos].1
    }
    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].0.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn err<T>(&self, msg: impl Into<String>) -> PResult<T> {
        Err(MofError { file: self.file.to_path_buf(), line: self.line(), message: msg.into() })
    }
    fn is_punct(&self, c: char) -> bool {
        *self.peek() == Tok::Punct(c)
    }
    fn eat_punct(&mut self, c: char) -> bool {
        if self.is_punct(c) {
            self.next();
            true
        } else {
            false
        }
    }
    fn expect_punct(&mut self, c: char) -> PResult<()> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            self.err(format!("expected '{c}', found {}", self.peek()))
        }
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.next();
            true
        } else {
            false
        }
    }
    fn expect_kw(&mut self, kw: &str) -> PResult<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            self.err(format!("expected '{kw}', found {}", self.peek()))
        }
    }
    fn ident(&mut self, what: &str) -> PResult<String> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.next();
                Ok(s)
            }
            t => self.err(format!("expected {what}, found {t}")),
        }
    }
    /// One or more adjacent string literals, concatenated.
    fn string(&mut self) -> PResult<String> {
        let mut s = match self.next() {
            Tok::Str(s) => s,
            t => return self.err(format!("expected a string, found {t}")),
        };
        while let Tok::Str(more) = self.peek() {
            s.push_str(more);
            self.next();
        }
        Ok(s)
    }

    fn literal(&mut self) -> PResult<Lit> {
        Ok(match self.peek().clone() {
            Tok::Str(_) => Lit::Str(self.string()?),
            Tok::Int(i) => {
                self.next();
                Lit::Int(i)
            }
            Tok::Real(r) => {
                self.next();
                Lit::Real(r)
            }
            Tok::Char(c) => {
                self.next();
                Lit::Char(c)
            }
            Tok::Alias(a) => {
                self.next();
                Lit::Alias(a)
            }
            Tok::Ident(s) if s.eq_ignore_ascii_case("true") => {
                self.next();
                Lit::Bool(true)
            }
            Tok::Ident(s) if s.eq_ignore_ascii_case("false") => {
                self.next();
                Lit::Bool(false)
            }
            Tok::Ident(s) if s.eq_ignore_ascii_case("null") => {
                self.next();
                Lit::Null
            }
            Tok::Punct('{') => {
                self.next();
                let mut items = Vec::new();
                if !self.eat_punct('}') {
                    loop {
                        items.push(self.literal()?);
                        if self.eat_punct('}') {
                            break;
                        }
                        self.expect_punct(',')?;
                    }
                }
                Lit::Array(items)
            }
            t => return self.err(format!("expected a value, found {t}")),
        })
    }

    /// `[` n? `]` after a name: Some(size) for arrays.
    fn array_suffix(&mut self) -> PResult<Option<Option<u32>>> {
        if !self.eat_punct('[') {
            return Ok(None);
        }
        let size = match self.peek().clone() {
            Tok::Int(n) if n > 0 && n <= u32::MAX as i128 => {
                self.next();
                Some(n as u32)
            }
            _ => None,
        };
        self.expect_punct(']')?;
        Ok(Some(size))
    }
}

/// A qualifier as written, before typing.
struct RawQualifier {
    name: String,
    value: Option<Lit>,
    flavors: Vec<String>,
    line: u32,
}

impl<'r> Compiler<'r> {
    /// A compiler adding to `repo`, starting in namespace `namespace`.
    pub fn new(repo: &'r mut Repository, namespace: &str) -> Self {
        repo.create_namespace(namespace);
        Compiler {
            repo,
            namespace: normalize_ns(namespace),
            aliases: HashMap::new(),
            stats: CompileStats::default(),
            depth: 0,
        }
    }

    /// The namespace in force (changed by `#pragma namespace`).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Compiles a file and the files it includes.
    pub fn compile_file(&mut self, path: &Path) -> Result<(), MofError> {
        let bytes = std::fs::read(path).map_err(|e| MofError {
            file: path.to_path_buf(),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        let text = String::from_utf8(bytes).unwrap_or_else(|e| {
            // Latin-1 files occur in older schemas: map bytes to chars.
            e.into_bytes().iter().map(|&b| b as char).collect()
        });
        self.compile_str(&text, path)
    }

    /// Compiles MOF text; `path` names it in errors and anchors includes.
    pub fn compile_str(&mut self, text: &str, path: &Path) -> Result<(), MofError> {
        self.depth += 1;
        if self.depth > 32 {
            self.depth -= 1;
            return Err(MofError { file: path.into(), line: 0, message: "includes nested too deeply".into() });
        }
        let r = self.compile_inner(text, path);
        self.depth -= 1;
        r
    }

    fn compile_inner(&mut self, text: &str, path: &Path) -> Result<(), MofError> {
        self.stats.files += 1;
        let toks = lex(text).map_err(|(line, message)| MofError { file: path.into(), line, message })?;
        let mut p = Parser { toks: &toks, pos: 0, file: path };
        while *p.peek() != Tok::Eof {
            if *p.peek() == Tok::Pragma {
                self.pragma(&mut p)?;
                continue;
            }
            let quals = if p.is_punct('[') { self.raw_qualifiers(&mut p)? } else { Vec::new() };
            let line = p.line();
            if p.eat_kw("class") {
                self.class_decl(&mut p, quals, line)?;
            } else if p.eat_kw("instance") {
                self.instance_decl(&mut p, line)?;
            } else if p.is_kw("qualifier") && quals.is_empty() {
                p.next();
                self.qualifier_decl(&mut p)?;
            } else {
                return p.err(format!("expected a class, instance or qualifier declaration, found {}", p.peek()));
            }
        }
        Ok(())
    }

    fn pragma(&mut self, p: &mut Parser) -> PResult<()> {
        p.next();
        let name = p.ident("a pragma name")?;
        p.expect_punct('(')?;
        let mut args = vec![p.string()?];
        while p.eat_punct(',') {
            args.push(p.string()?);
        }
        p.expect_punct(')')?;
        match name.to_ascii_lowercase().as_str() {
            "include" => {
                let base = p.file.parent().unwrap_or(Path::new("."));
                let inc = base.join(&args[0]);
                let line = p.toks[p.pos.saturating_sub(1)].1;
                if !inc.is_file() {
                    return Err(MofError {
                        file: p.file.into(),
                        line,
                        message: format!("included file {} not found", inc.display()),
                    });
                }
                self.compile_file(&inc)?;
            }
            "namespace" => {
                let ns = normalize_ns(args.last().unwrap());
                // the target namespace receives the qualifier types it lacks
                let decls: Vec<QualifierDecl> = self
                    .repo
                    .namespace(&self.namespace)
                    .map(|n| n.qualifier_decls().cloned().collect())
                    .unwrap_or_default();
                let n = self.repo.create_namespace(&ns);
                for d in decls {
                    if n.qualifier_decl(&d.name).is_none() {
                        n.add_qualifier_decl(d);
                    }
                }
                self.namespace = ns;
            }
            _ => {} // locale, instancelocale, source, ...: no effect on the repository
        }
        Ok(())
    }

    fn raw_qualifiers(&mut self, p: &mut Parser) -> PResult<Vec<RawQualifier>> {
        p.expect_punct('[')?;
        let mut out = Vec::new();
        loop {
            let line = p.line();
            let name = p.ident("a qualifier name")?;
            let value = if p.eat_punct('(') {
                let v = p.literal()?;
                p.expect_punct(')')?;
                Some(v)
            } else if p.is_punct('{') {
                Some(p.literal()?)
            } else {
                None
            };
            let mut flavors = Vec::new();
            if p.eat_punct(':') {
                while let Tok::Ident(f) = p.peek().clone() {
                    flavors.push(f);
                    p.next();
                }
            }
            out.push(RawQualifier { name, value, flavors, line });
            if p.eat_punct(']') {
                break;
            }
            p.expect_punct(',')?;
        }
        Ok(out)
    }

    /// Types raw qualifiers against the declarations and checks their scope.
    fn type_qualifiers(&self, p: &Parser, raw: Vec<RawQualifier>, scope_bits: u16, what: &str) -> PResult<Vec<Qualifier>> {
        let ns = self.repo.namespace(&self.namespace).expect("namespace exists");
        let mut out: Vec<Qualifier> = Vec::with_capacity(raw.len());
        for rq in raw {
            let err = |m: String| MofError { file: p.file.into(), line: rq.line, message: m };
            let decl = ns
                .qualifier_decl(&rq.name)
                .ok_or_else(|| err(format!("qualifier {} is not declared", rq.name)))?;
            if decl.scopes & scope_bits == 0 {
                return Err(err(format!("qualifier {} is not allowed on {what}", decl.name)));
            }
            if out.iter().any(|q| q.name.eq_ignore_ascii_case(&decl.name)) {
                return Err(err(format!("qualifier {} given twice on {what}", decl.name)));
            }
            let value = match rq.value {
                None if decl.ty == CimType::Boolean && !decl.is_array => Some(Value::Boolean(true)),
                None => decl.default.clone(),
                Some(l) => type_lit(l, decl.ty, decl.is_array, &self.aliases)
                    .map_err(|m| err(format!("qualifier {}: {m}", decl.name)))?,
            };
            let mut flavor = decl.flavor;
            for f in &rq.flavors {
                apply_flavor(&mut flavor, f).map_err(err)?;
            }
            out.push(Qualifier {
                name: decl.name.clone(),
                ty: decl.ty,
                is_array: decl.is_array,
                value,
                flavor,
                propagated: false,
            });
        }
        Ok(out)
    }

    fn qualifier_decl(&mut self, p: &mut Parser) -> PResult<()> {
        let name = p.ident("a qualifier name")?;
        p.expect_punct(':')?;
        let tname = p.ident("a data type")?;
        let ty = match CimType::parse(&tname) {
            Some(t) if t != CimType::Reference => t,
            _ => return p.err(format!("qualifier {name}: unknown type {tname}")),
        };
        let arr = p.array_suffix()?;
        let default = if p.eat_punct('=') {
            let l = p.literal()?;
            type_lit(l, ty, arr.is_some(), &self.aliases).or_else(|m| p.err(format!("qualifier {name}: {m}")))?
        } else {
            None
        };
        p.expect_punct(',')?;
        p.expect_kw("scope")?;
        p.expect_punct('(')?;
        let mut scopes = 0u16;
        loop {
            let s = p.ident("a scope")?;
            scopes |= scope::parse(&s).map_or_else(|| p.err(format!("unknown scope {s}")), Ok)?;
            if p.eat_punct(')') {
                break;
            }
            p.expect_punct(',')?;
        }
        let mut flavor = Flavor::default();
        if p.eat_punct(',') {
            p.expect_kw("flavor")?;
            p.expect_punct('(')?;
            loop {
                let f = p.ident("a flavor")?;
                if let Err(m) = apply_flavor(&mut flavor, &f) {
                    return p.err(m);
                }
                if p.eat_punct(')') {
                    break;
                }
                p.expect_punct(',')?;
            }
        }
        p.expect_punct(';')?;
        let ns = self.repo.namespace_mut(&self.namespace).expect("namespace exists");
        ns.add_qualifier_decl(QualifierDecl {
            name,
            ty,
            is_array: arr.is_some(),
            array_size: arr.flatten(),
            default,
            scopes,
            flavor,
        });
        self.stats.qualifiers += 1;
        Ok(())
    }

    fn class_decl(&mut self, p: &mut Parser, raw_quals: Vec<RawQualifier>, line: u32) -> PResult<()> {
        let name = p.ident("a class name")?;
        if let Tok::Ident(s) = p.peek() {
            if s.eq_ignore_ascii_case("as") {
                p.next();
                if !matches!(p.next(), Tok::Alias(_)) {
                    return p.err("expected an alias after 'as'");
                }
            }
        }
        let superclass = if p.eat_punct(':') { Some(p.ident("a superclass name")?) } else { None };
        let is_assoc = raw_quals.iter().any(|q| q.name.eq_ignore_ascii_case("association"));
        let is_indic = raw_quals.iter().any(|q| q.name.eq_ignore_ascii_case("indication"));
        let mut bits = scope::CLASS;
        if is_assoc {
            bits |= scope::ASSOCIATION;
        }
        if is_indic {
            bits |= scope::INDICATION;
        }
        let qualifiers = self.type_qualifiers(p, raw_quals, bits, &format!("class {name}"))?;
        p.expect_punct('{')?;
        let mut properties = Vec::new();
        let mut methods = Vec::new();
        while !p.eat_punct('}') {
            let fq = if p.is_punct('[') { self.raw_qualifiers(p)? } else { Vec::new() };
            let fline = p.line();
            let tname = p.ident("a data type or class name")?;
            let (ty, refclass) = if p.eat_kw("ref") {
                (CimType::Reference, Some(tname.clone()))
            } else {
                match CimType::parse(&tname) {
                    Some(t) if t != CimType::Reference => (t, None),
                    _ => return p.err(format!("unknown data type {tname}")),
                }
            };
            let fname = p.ident("a property or method name")?;
            if p.eat_punct('(') {
                // method
                let quals = self.type_qualifiers(p, fq, scope::METHOD, &format!("method {name}.{fname}"))?;
                let mut params = Vec::new();
                if !p.eat_punct(')') {
                    loop {
                        let pq = if p.is_punct('[') { self.raw_qualifiers(p)? } else { Vec::new() };
                        let ptn = p.ident("a parameter type")?;
                        let (pty, prc) = if p.eat_kw("ref") {
                            (CimType::Reference, Some(ptn.clone()))
                        } else {
                            match CimType::parse(&ptn) {
                                Some(t) if t != CimType::Reference => (t, None),
                                _ => return p.err(format!("unknown data type {ptn}")),
                            }
                        };
                        let pname = p.ident("a parameter name")?;
                        let arr = p.array_suffix()?;
                        if p.eat_punct('=') {
                            p.literal()?; // parameter defaults have no CIM-XML form
                        }
                        let pquals =
                            self.type_qualifiers(p, pq, scope::PARAMETER, &format!("parameter {fname}.{pname}"))?;
                        if let Some(rc) = &prc {
                            self.check_class_exists(p, rc, &name)?;
                        }
                        params.push(Parameter {
                            name: pname,
                            ty: pty,
                            is_array: arr.is_some(),
                            array_size: arr.flatten(),
                            reference_class: prc,
                            qualifiers: pquals,
                        });
                        if p.eat_punct(')') {
                            break;
                        }
                        p.expect_punct(',')?;
                    }
                }
                p.expect_punct(';')?;
                if ty == CimType::Reference {
                    return Err(MofError { file: p.file.into(), line: fline, message: format!("method {fname}: a method cannot return a reference") });
                }
                methods.push(Method {
                    name: fname,
                    return_type: ty,
                    qualifiers: quals,
                    parameters: params,
                    class_origin: name.clone(),
                    propagated: false,
                });
            } else {
                let arr = p.array_suffix()?;
                let sbits = if ty == CimType::Reference { scope::REFERENCE } else { scope::PROPERTY };
                let quals = self.type_qualifiers(p, fq, sbits, &format!("property {name}.{fname}"))?;
                let default = if p.eat_punct('=') {
                    let l = p.literal()?;
                    type_lit(l, ty, arr.is_some(), &self.aliases)
                        .map_err(|m| MofError { file: p.file.into(), line: fline, message: format!("property {fname}: {m}") })?
                } else {
                    None
                };
                p.expect_punct(';')?;
                properties.push(Property {
                    name: fname,
                    ty,
                    is_array: arr.is_some(),
                    array_size: arr.flatten(),
                    reference_class: refclass,
                    default,
                    qualifiers: quals,
                    class_origin: name.clone(),
                    propagated: false,
                });
            }
        }
        p.expect_punct(';')?;
        let class = Class { name, superclass, qualifiers, properties, methods };
        let ns = self.repo.namespace_mut(&self.namespace).expect("namespace exists");
        ns.add_class(class).map_err(|message| MofError { file: p.file.into(), line, message })?;
        self.stats.classes += 1;
        Ok(())
    }

    fn check_class_exists(&self, p: &Parser, cls: &str, current: &str) -> PResult<()> {
        let ns = self.repo.namespace(&self.namespace).expect("namespace exists");
        if ns.class(cls).is_none() && !cls.eq_ignore_ascii_case(current) {
            return p.err(format!("class {cls} is not defined"));
        }
        Ok(())
    }

    fn instance_decl(&mut self, p: &mut Parser, line: u32) -> PResult<()> {
        p.expect_kw("of")?;
        let cname = p.ident("a class name")?;
        let alias = if p.eat_kw("as") {
            match p.next() {
                Tok::Alias(a) => Some(a),
                t => return p.err(format!("expected an alias after 'as', found {t}")),
            }
        } else {
            None
        };
        let class = {
            let ns = self.repo.namespace(&self.namespace).expect("namespace exists");
            ns.class(&cname)
                .cloned()
                .ok_or_else(|| MofError { file: p.file.into(), line, message: format!("instance of undefined class {cname}") })?
        };
        p.expect_punct('{')?;
        let mut inst = Instance::new(class.name.clone());
        while !p.eat_punct('}') {
            if p.is_punct('[') {
                self.raw_qualifiers(p)?; // instance-level qualifiers are not kept
            }
            let pline = p.line();
            let pname = p.ident("a property name")?;
            p.expect_punct('=')?;
            let l = p.literal()?;
            p.expect_punct(';')?;
            let e = |m: String| MofError { file: p.file.into(), line: pline, message: m };
            let prop = class
                .property(&pname)
                .ok_or_else(|| e(format!("class {} has no property {pname}", class.name)))?;
            let v = type_lit(l, prop.ty, prop.is_array, &self.aliases).map_err(|m| e(format!("property {pname}: {m}")))?;
            if inst.get(&prop.name).is_some() {
                return Err(e(format!("property {pname} given twice")));
            }
            inst.properties.push(PropertyValue {
                name: prop.name.clone(),
                ty: prop.ty,
                is_array: prop.is_array,
                reference_class: prop.reference_class.clone(),
                value: v,
            });
        }
        p.expect_punct(';')?;
        if class.is_abstract() {
            return Err(MofError { file: p.file.into(), line, message: format!("instance of abstract class {}", class.name) });
        }
        // defaults for properties not given
        for prop in &class.properties {
            if inst.get(&prop.name).is_none() {
                inst.properties.push(PropertyValue {
                    name: prop.name.clone(),
                    ty: prop.ty,
                    is_array: prop.is_array,
                    reference_class: prop.reference_class.clone(),
                    value: prop.default.clone(),
                });
            }
        }
        for k in class.key_properties() {
            if inst.get_value(&k.name).is_none() {
                return Err(MofError { file: p.file.into(), line, message: format!("instance of {}: key property {} has no value", class.name, k.name) });
            }
        }
        let path = inst.path(&class, Some(&self.namespace));
        let ns = self.repo.namespace_mut(&self.namespace).expect("namespace exists");
        if class.key_properties().next().is_some()
            && ns.instances.iter().any(|i| i.class_name.eq_ignore_ascii_case(&inst.class_name) && i.path(&class, None).same_instance(&path))
        {
            return Err(MofError { file: p.file.into(), line, message: format!("instance {path} already defined") });
        }
        ns.instances.push(inst);
        if let Some(a) = alias {
            self.aliases.insert(a.to_ascii_lowercase(), path);
        }
        self.stats.instances += 1;
        Ok(())
    }
}

fn apply_flavor(f: &mut Flavor, name: &str) -> Result<(), String> {
    match name.to_ascii_lowercase().as_str() {
        "enableoverride" => f.overridable = true,
        "disableoverride" => f.overridable = false,
        "tosubclass" => f.to_subclass = true,
        "restricted" => f.to_subclass = false,
        "translatable" => f.translatable = true,
        "toinstance" => {}
        other => return Err(format!("unknown flavor {other}")),
    }
    Ok(())
}

/// Types a literal as `ty` (array when `is_array`). `Ok(None)` is null.
fn type_lit(l: Lit, ty: CimType, is_array: bool, aliases: &HashMap<String, ObjectPath>) -> Result<Option<Value>, String> {
    match l {
        Lit::Null => Ok(None),
        Lit::Array(items) => {
            if !is_array {
                return Err(format!("an array value given for a scalar {ty}"));
            }
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                match type_scalar(it, ty, aliases)? {
                    Some(v) => out.push(v),
                    None => return Err("null inside an array".into()),
                }
            }
            Ok(Some(Value::Array(out)))
        }
        scalar if is_array => {
            // A single value for an array: DSP0221 allows it for qualifiers.
            Ok(type_scalar(scalar, ty, aliases)?.map(|v| Value::Array(vec![v])))
        }
        scalar => type_scalar(scalar, ty, aliases),
    }
}

fn type_scalar(l: Lit, ty: CimType, aliases: &HashMap<String, ObjectPath>) -> Result<Option<Value>, String> {
    let mismatch = |what: &str| Err(format!("{what} is not a valid {ty} value"));
    Ok(Some(match (ty, l) {
        (_, Lit::Null) => return Ok(None),
        (CimType::Boolean, Lit::Bool(b)) => Value::Boolean(b),
        (CimType::String, Lit::Str(s)) => Value::String(s),
        (CimType::DateTime, Lit::Str(s)) => {
            if s.len() != 25 {
                return Err(format!("'{s}' is not a CIM datetime"));
            }
            Value::DateTime(s)
        }
        (CimType::Char16, Lit::Char(c)) => Value::Char16(c),
        (CimType::Char16, Lit::Str(s)) if s.chars().count() == 1 => Value::Char16(s.chars().next().unwrap()),
        (CimType::Real32 | CimType::Real64, Lit::Real(r)) => Value::Real(r),
        (CimType::Real32 | CimType::Real64, Lit::Int(i)) => Value::Real(i as f64),
        (t, Lit::Int(i)) if t.is_integer() => {
            let (lo, hi) = t.int_range().unwrap();
            if i < lo || i > hi {
                return Err(format!("{i} is out of range for {t}"));
            }
            if t.is_signed() {
                Value::SInt(i as i64)
            } else {
                Value::UInt(i as u64)
            }
        }
        (CimType::Reference, Lit::Alias(a)) => Value::Reference(
            aliases.get(&a.to_ascii_lowercase()).cloned().ok_or_else(|| format!("alias ${a} is not defined"))?,
        ),
        (CimType::Reference, Lit::Str(s)) => Value::Reference(ObjectPath::parse(&s)?),
        (_, Lit::Str(_)) => return mismatch("a string"),
        (_, Lit::Int(_)) => return mismatch("an integer"),
        (_, Lit::Real(_)) => return mismatch("a real"),
        (_, Lit::Bool(_)) => return mismatch("a boolean"),
        (_, Lit::Char(_)) => return mismatch("a char"),
        (_, Lit::Alias(_)) => return mismatch("an alias"),
        (_, Lit::Array(_)) => return mismatch("an array"),
    }))
}

/// Compiles one file into `namespace` of `repo`, returning what was added.
pub fn compile_file(repo: &mut Repository, namespace: &str, path: &Path) -> Result<CompileStats, MofError> {
    let mut c = Compiler::new(repo, namespace);
    c.compile_file(path)?;
    Ok(c.stats)
}

/// Compiles MOF text (named `name` in errors) into `namespace` of `repo`.
pub fn compile_str(repo: &mut Repository, namespace: &str, name: &str, text: &str) -> Result<CompileStats, MofError> {
    let mut c = Compiler::new(repo, namespace);
    c.compile_str(text, Path::new(name))?;
    Ok(c.stats)
}

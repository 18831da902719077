//! The one XML-RPC reader: the server reads `methodCall`s with it, the client `methodResponse`s.
//!
//! Written for large documents (`VM.get_all_records` of thousands of VMs): tag names are matched
//! as bytes, once per event, into [`Tag`]; text is borrowed from the body and copied once, into
//! the `Wire` string it becomes; each struct and array is built on a shared stack and moved out at
//! its exact size. Strict where it matters for safety: nesting is bounded ([`MAX_DEPTH`]), every
//! end tag is checked by the grammar, text is UTF-8 and its escapes valid, and whatever follows
//! the document element is refused. Namespace prefixes are ignored (`<ex:nil/>` is `<nil/>`, as
//! some XML-RPC libraries spell their extension types).

use crate::{ProtocolError, Wire, MAX_DEPTH};
use quick_xml::events::Event;
use quick_xml::Reader;
use std::borrow::Cow;

pub(super) fn err(msg: impl Into<String>) -> ProtocolError {
    ProtocolError(msg.into())
}

/// The tags of XML-RPC, recognised once per event so the grammar compares enums, not text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    MethodCall,
    MethodName,
    MethodResponse,
    Params,
    Param,
    Fault,
    Value,
    String,
    Int,
    I4,
    I8,
    Boolean,
    Double,
    DateTime,
    Base64,
    Nil,
    Array,
    Data,
    Struct,
    Member,
    Name,
    /// Any other name (kept in [`Parser::other`] for the error message).
    Other,
}

const TAGS: &[(&[u8], Tag)] = &[
    (b"value", Tag::Value),
    (b"member", Tag::Member),
    (b"name", Tag::Name),
    (b"struct", Tag::Struct),
    (b"array", Tag::Array),
    (b"data", Tag::Data),
    (b"string", Tag::String),
    (b"int", Tag::Int),
    (b"i4", Tag::I4),
    (b"i8", Tag::I8),
    (b"boolean", Tag::Boolean),
    (b"double", Tag::Double),
    (b"dateTime.iso8601", Tag::DateTime),
    (b"base64", Tag::Base64),
    (b"nil", Tag::Nil),
    (b"methodCall", Tag::MethodCall),
    (b"methodName", Tag::MethodName),
    (b"methodResponse", Tag::MethodResponse),
    (b"params", Tag::Params),
    (b"param", Tag::Param),
    (b"fault", Tag::Fault),
];

impl Tag {
    fn of(name: &[u8]) -> Tag {
        // A match on byte strings compiles to a length switch and one comparison, where a search
        // of TAGS compared up to twenty names for each of the millions of tags of a large answer.
        match name {
            b"value" => Tag::Value,
            b"member" => Tag::Member,
            b"name" => Tag::Name,
            b"struct" => Tag::Struct,
            b"array" => Tag::Array,
            b"data" => Tag::Data,
            b"string" => Tag::String,
            b"int" => Tag::Int,
            b"i4" => Tag::I4,
            b"i8" => Tag::I8,
            b"boolean" => Tag::Boolean,
            b"double" => Tag::Double,
            b"dateTime.iso8601" => Tag::DateTime,
            b"base64" => Tag::Base64,
            b"nil" => Tag::Nil,
            b"methodCall" => Tag::MethodCall,
            b"methodName" => Tag::MethodName,
            b"methodResponse" => Tag::MethodResponse,
            b"params" => Tag::Params,
            b"param" => Tag::Param,
            b"fault" => Tag::Fault,
            _ => Tag::Other,
        }
    }

    pub(super) fn name(self) -> &'static str {
        TAGS.iter().find(|(_, t)| *t == self).map_or("?", |(n, _)| std::str::from_utf8(n).unwrap_or("?"))
    }
}

pub(super) enum Tok<'a> {
    Start(Tag),
    End(Tag),
    Empty(Tag),
    /// Raw (still escaped) text, borrowed from the body.
    Text(&'a [u8]),
    /// Already unescaped text (CDATA).
    CData(&'a [u8]),
    Eof,
}

/// Where the parser's events come from.
enum Source<'a> {
    /// quick-xml: all of XML's syntax (comments, CDATA, attributes, doctype, namespaces).
    Xml(Reader<&'a [u8]>),
    /// The plain subset every XML-RPC implementation writes, scanned directly (several times
    /// faster on a large answer); anything else is an error, and the document is then read again
    /// from the start with quick-xml ([`with_fallback`]).
    Plain(Scanner<'a>),
}

/// Parses `body` with `f`, first through the [`Scanner`], then, if that fails for any reason,
/// again through quick-xml. The scanner reads a subset of what quick-xml reads, into the same
/// events, so a document the scanner accepts parses to the same result either way, and a
/// document it does not accept gets exactly quick-xml's answer (and error message).
pub(super) fn with_fallback<T>(body: &[u8], f: impl Fn(&mut Parser<'_>) -> Result<T, ProtocolError>) -> Result<T, ProtocolError> {
    let mut fast = Parser::plain(body);
    match f(&mut fast) {
        Ok(t) => Ok(t),
        Err(_) => f(&mut Parser::new(body)),
    }
}

/// A scanner for XML without comments, CDATA, processing instructions (but the declaration at
/// the very start), doctypes, attributes, namespace prefixes or space inside tags: tags are
/// `<name>`, `</name>`, `<name/>`, and text runs to the next `<`. Whatever else it meets is an
/// error, for [`with_fallback`] to hand the document to quick-xml.
pub(super) struct Scanner<'a> {
    b: &'a [u8],
    pos: usize,
}

enum Scanned<'a> {
    Start(&'a [u8]),
    End(&'a [u8]),
    Empty(&'a [u8]),
    Text(&'a [u8]),
    Eof,
}

impl<'a> Scanner<'a> {
    fn next(&mut self) -> Result<Scanned<'a>, ProtocolError> {
        let b = self.b;
        if self.pos == 0 && b.starts_with(b"<?xml") {
            let end = memchr::memmem::find(b, b"?>").ok_or_else(|| err("unterminated XML declaration"))?;
            self.pos = end + 2;
        }
        let at = self.pos;
        if at >= b.len() {
            return Ok(Scanned::Eof);
        }
        if b[at] != b'<' {
            let end = memchr::memchr(b'<', &b[at..]).map_or(b.len(), |i| at + i);
            self.pos = end;
            return Ok(Scanned::Text(&b[at..end]));
        }
        // Tag names are a few bytes: a plain loop finds their end sooner than a vectored search.
        let end_tag = b.get(at + 1) == Some(&b'/');
        let start = at + 1 + end_tag as usize;
        let mut i = start;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'.' | b'_' | b'-')) {
            i += 1;
        }
        let name = &b[start..i];
        let unread = || err("markup the plain scanner does not read");
        if name.is_empty() {
            return Err(unread());
        }
        match (b.get(i), b.get(i + 1), end_tag) {
            (Some(b'>'), _, true) => {
                self.pos = i + 1;
                Ok(Scanned::End(name))
            }
            (Some(b'>'), _, false) => {
                self.pos = i + 1;
                Ok(Scanned::Start(name))
            }
            (Some(b'/'), Some(b'>'), false) => {
                self.pos = i + 2;
                Ok(Scanned::Empty(name))
            }
            _ => Err(unread()),
        }
    }
}

pub(super) struct Parser<'a> {
    source: Source<'a>,
    /// Members of the structs and items of the arrays being parsed, innermost last: each
    /// collection is built here and moved out at its exact size, so a 90-field record costs one
    /// allocation instead of a vector growing seven times (and holds no slack afterwards).
    members: Vec<(String, Wire)>,
    items: Vec<Wire>,
    /// The name of the last [`Tag::Other`] read.
    other: String,
}

impl<'a> Parser<'a> {
    pub(super) fn new(body: &'a [u8]) -> Self {
        let mut reader = Reader::from_reader(body);
        // Whitespace inside <value> is data; whitespace between tags is skipped by `next_tag`.
        reader.config_mut().trim_text(false);
        // End tags are checked by the grammar (each `expect_end`/`text_until_end` names the tag
        // it wants); quick-xml's own check would compare every end name a second time.
        reader.config_mut().check_end_names = false;
        Parser::with_source(Source::Xml(reader))
    }

    /// Consumes `markup` (tags without space, such as `</value></member>`) if the body goes on
    /// with exactly these bytes and is read by the [`Scanner`]: the same as reading their tags
    /// one by one, several times faster on the millions of tags of a large answer. `false`
    /// (nothing consumed) otherwise; the caller then reads the tokens.
    pub(super) fn eat(&mut self, markup: &[u8]) -> bool {
        match &mut self.source {
            Source::Plain(s) if s.pos > 0 && s.b[s.pos..].starts_with(markup) => {
                s.pos += markup.len();
                true
            }
            _ => false,
        }
    }

    /// A parser through the [`Scanner`] only (see [`with_fallback`]).
    pub(super) fn plain(body: &'a [u8]) -> Self {
        Parser::with_source(Source::Plain(Scanner { b: body, pos: 0 }))
    }

    fn with_source(source: Source<'a>) -> Self {
        Parser { source, members: Vec::new(), items: Vec::new(), other: String::new() }
    }

    fn tag(&mut self, local_name: &[u8]) -> Tag {
        tag_of(&mut self.other, local_name)
    }

    fn describe(&self, t: Tag) -> String {
        if t == Tag::Other {
            self.other.clone()
        } else {
            t.name().to_string()
        }
    }

    pub(super) fn next(&mut self) -> Result<Tok<'a>, ProtocolError> {
        let reader = match &mut self.source {
            Source::Plain(scanner) => {
                return Ok(match scanner.next()? {
                    Scanned::Start(n) => Tok::Start(self.tag(n)),
                    Scanned::End(n) => Tok::End(self.tag(n)),
                    Scanned::Empty(n) => Tok::Empty(self.tag(n)),
                    Scanned::Text(t) => Tok::Text(t),
                    Scanned::Eof => Tok::Eof,
                })
            }
            Source::Xml(reader) => reader,
        };
        loop {
            let ev = reader.read_event().map_err(|e| err(format!("XML: {e}")))?;
            return Ok(match ev {
                Event::Start(s) => Tok::Start(tag_of(&mut self.other, s.local_name().as_ref())),
                Event::End(e) => Tok::End(tag_of(&mut self.other, e.local_name().as_ref())),
                Event::Empty(s) => Tok::Empty(tag_of(&mut self.other, s.local_name().as_ref())),
                Event::Text(t) => match t.into_inner() {
                    Cow::Borrowed(b) => Tok::Text(b),
                    // A slice reader always borrows; anything else is a quick-xml change.
                    Cow::Owned(_) => return Err(err("XML text not borrowed from the body")),
                },
                Event::CData(c) => match c.into_inner() {
                    Cow::Borrowed(b) => Tok::CData(b),
                    Cow::Owned(_) => return Err(err("CDATA not borrowed from the body")),
                },
                Event::Eof => Tok::Eof,
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => continue,
            });
        }
    }

    /// Next token that is not whitespace-only text.
    pub(super) fn next_tag(&mut self) -> Result<Tok<'a>, ProtocolError> {
        loop {
            match self.next()? {
                Tok::Text(t) | Tok::CData(t) if t.iter().all(u8::is_ascii_whitespace) => continue,
                Tok::Text(t) | Tok::CData(t) => {
                    return Err(err(format!("unexpected text {:?}", truncate(&String::from_utf8_lossy(t)))))
                }
                other => return Ok(other),
            }
        }
    }

    pub(super) fn expect_start(&mut self, tag: Tag) -> Result<(), ProtocolError> {
        match self.next_tag()? {
            Tok::Start(t) if t == tag => Ok(()),
            _ => Err(err(format!("expected <{}>", tag.name()))),
        }
    }

    pub(super) fn expect_end(&mut self, tag: Tag) -> Result<(), ProtocolError> {
        match self.next_tag()? {
            Tok::End(t) if t == tag => Ok(()),
            _ => Err(err(format!("expected </{}>", tag.name()))),
        }
    }

    /// Text up to the end tag `tag`, unescaped.
    pub(super) fn text_until_end(&mut self, tag: Tag) -> Result<String, ProtocolError> {
        let mut out = String::new();
        loop {
            match self.next()? {
                Tok::Text(t) => push_text(&mut out, t)?,
                Tok::CData(t) => push_cdata(&mut out, t)?,
                Tok::End(t) if t == tag => return Ok(out),
                _ => return Err(err(format!("unexpected markup inside <{}>", tag.name()))),
            }
        }
    }

    /// [`Parser::text_until_end`], borrowed from the body when it is one run of text without
    /// escapes (a member name, mostly).
    pub(super) fn borrowed_text_until_end(&mut self, tag: Tag) -> Result<Cow<'a, str>, ProtocolError> {
        match self.next()? {
            Tok::End(t) if t == tag => return Ok(Cow::Borrowed("")),
            Tok::Text(t) if !t.contains(&b'&') => {
                let s = std::str::from_utf8(t).map_err(|_| err("text is not UTF-8"))?;
                if tag == Tag::Name && self.eat(b"</name>") {
                    return Ok(Cow::Borrowed(s));
                }
                match self.next()? {
                    Tok::End(e) if e == tag => return Ok(Cow::Borrowed(s)),
                    _ => return Err(err(format!("unexpected markup inside <{}>", tag.name()))),
                }
            }
            Tok::Text(t) => {
                let mut out = String::new();
                push_text(&mut out, t)?;
                let rest = self.text_until_end(tag)?;
                out.push_str(&rest);
                Ok(Cow::Owned(out))
            }
            Tok::CData(t) => {
                let mut out = String::new();
                push_cdata(&mut out, t)?;
                out.push_str(&self.text_until_end(tag)?);
                Ok(Cow::Owned(out))
            }
            _ => Err(err(format!("unexpected markup inside <{}>", tag.name()))),
        }
    }

    /// The value after `<param>` or `<member><name>…</name>` or in `<data>`: `<value>…</value>` or
    /// `<value/>` (an empty string).
    pub(super) fn value(&mut self, depth: usize, context: &str) -> Result<Wire, ProtocolError> {
        match self.next_tag()? {
            Tok::Start(Tag::Value) => self.value_body(depth),
            Tok::Empty(Tag::Value) => Ok(Wire::Str(String::new())),
            _ => Err(err(format!("expected <value> in <{context}>"))),
        }
    }

    /// The inside of a `<value>` whose start tag was consumed, through `</value>`.
    pub(super) fn value_body(&mut self, depth: usize) -> Result<Wire, ProtocolError> {
        if depth > MAX_DEPTH {
            return Err(err("values nested too deeply"));
        }
        let mut text = String::new();
        loop {
            match self.next()? {
                Tok::Text(t) => push_text(&mut text, t)?,
                Tok::CData(t) => push_cdata(&mut text, t)?,
                // `<value>text</value>`: an untyped string, which is how xapi sends strings and ints.
                Tok::End(Tag::Value) => return Ok(Wire::Str(text)),
                Tok::Empty(tag) => {
                    let v = match tag {
                        Tag::Nil => Wire::Nil,
                        Tag::String | Tag::Base64 => Wire::Str(String::new()),
                        Tag::Array => Wire::Array(vec![]),
                        Tag::Struct => Wire::Struct(vec![]),
                        other => return Err(err(format!("empty <{}/> is not a value", self.describe(other)))),
                    };
                    self.expect_end(Tag::Value)?;
                    return Ok(v);
                }
                Tok::Start(tag) => {
                    if !text.trim().is_empty() {
                        return Err(err("text before a typed value"));
                    }
                    let v = self.typed(tag, depth)?;
                    self.expect_end(Tag::Value)?;
                    return Ok(v);
                }
                Tok::End(t) => return Err(err(format!("unexpected </{}>", self.describe(t)))),
                Tok::Eof => return Err(err("unexpected end of document")),
            }
        }
    }

    pub(super) fn typed(&mut self, tag: Tag, depth: usize) -> Result<Wire, ProtocolError> {
        Ok(match tag {
            // Base64 is carried as its text; no XenAPI message takes binary data.
            Tag::String | Tag::Base64 => Wire::Str(self.text_until_end(tag)?),
            Tag::Int | Tag::I4 | Tag::I8 => {
                let t = self.text_until_end(tag)?;
                Wire::Int(t.trim().parse().map_err(|_| err(format!("bad <{}> {:?}", tag.name(), truncate(&t))))?)
            }
            Tag::Boolean => match self.text_until_end(tag)?.trim() {
                "1" => Wire::Bool(true),
                "0" => Wire::Bool(false),
                other => return Err(err(format!("bad <boolean> {:?}", truncate(other)))),
            },
            Tag::Double => {
                let t = self.text_until_end(tag)?;
                Wire::Float(t.trim().parse().map_err(|_| err(format!("bad <double> {:?}", truncate(&t))))?)
            }
            Tag::DateTime => Wire::DateTime(self.text_until_end(tag)?.trim().to_string()),
            Tag::Nil => {
                self.expect_end(Tag::Nil)?;
                Wire::Nil
            }
            Tag::Array => {
                let start = self.items.len();
                match self.next_tag()? {
                    Tok::Start(Tag::Data) => loop {
                        match self.next_tag()? {
                            Tok::Start(Tag::Value) => {
                                let v = self.value_body(depth + 1)?;
                                self.items.push(v);
                            }
                            Tok::Empty(Tag::Value) => self.items.push(Wire::Str(String::new())),
                            Tok::End(Tag::Data) => break,
                            _ => return Err(err("expected <value> in <data>")),
                        }
                    },
                    Tok::Empty(Tag::Data) => {}
                    _ => return Err(err("expected <data> in <array>")),
                }
                self.expect_end(Tag::Array)?;
                Wire::Array(self.items.drain(start..).collect())
            }
            Tag::Struct => {
                let start = self.members.len();
                loop {
                    match self.next_tag()? {
                        Tok::Start(Tag::Member) => {
                            self.expect_start(Tag::Name)?;
                            let name = self.text_until_end(Tag::Name)?;
                            let value = self.value(depth + 1, "member")?;
                            self.expect_end(Tag::Member)?;
                            self.members.push((name, value));
                        }
                        Tok::End(Tag::Struct) => break,
                        _ => return Err(err("expected <member> in <struct>")),
                    }
                }
                Wire::Struct(self.members.drain(start..).collect())
            }
            other => return Err(err(format!("unknown value type <{}>", self.describe(other)))),
        })
    }

    /// Nothing but whitespace, comments or processing instructions after the document element.
    pub(super) fn expect_eof(&mut self, element: Tag) -> Result<(), ProtocolError> {
        match self.next_tag()? {
            Tok::Eof => Ok(()),
            _ => Err(err(format!("content after </{}>", element.name()))),
        }
    }
}

/// The tag of a name, which is kept in `other` when it is not one of XML-RPC's.
fn tag_of(other: &mut String, local_name: &[u8]) -> Tag {
    let t = Tag::of(local_name);
    if t == Tag::Other {
        *other = String::from_utf8_lossy(local_name).into_owned();
    }
    t
}

/// Appends escaped XML text, unescaped. Most text has no `&`, and is copied straight.
fn push_text(out: &mut String, raw: &[u8]) -> Result<(), ProtocolError> {
    let s = std::str::from_utf8(raw).map_err(|_| err("text is not UTF-8"))?;
    if s.contains('&') {
        out.push_str(&quick_xml::escape::unescape(s).map_err(|e| err(format!("XML text: {e}")))?);
    } else {
        out.push_str(s);
    }
    Ok(())
}

fn push_cdata(out: &mut String, raw: &[u8]) -> Result<(), ProtocolError> {
    out.push_str(std::str::from_utf8(raw).map_err(|_| err("CDATA is not UTF-8"))?);
    Ok(())
}

/// The first 40 characters of `s`, for error messages that quote what was sent.
pub(super) fn truncate(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

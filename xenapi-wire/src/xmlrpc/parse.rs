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
        TAGS.iter().find(|(n, _)| *n == name).map_or(Tag::Other, |(_, t)| *t)
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

pub(super) struct Parser<'a> {
    reader: Reader<&'a [u8]>,
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
        Parser { reader, members: Vec::new(), items: Vec::new(), other: String::new() }
    }

    fn tag(&mut self, local_name: &[u8]) -> Tag {
        let t = Tag::of(local_name);
        if t == Tag::Other {
            self.other = String::from_utf8_lossy(local_name).into_owned();
        }
        t
    }

    fn describe(&self, t: Tag) -> String {
        if t == Tag::Other {
            self.other.clone()
        } else {
            t.name().to_string()
        }
    }

    fn next(&mut self) -> Result<Tok<'a>, ProtocolError> {
        loop {
            let ev = self.reader.read_event().map_err(|e| err(format!("XML: {e}")))?;
            return Ok(match ev {
                Event::Start(s) => Tok::Start(self.tag(s.local_name().as_ref())),
                Event::End(e) => Tok::End(self.tag(e.local_name().as_ref())),
                Event::Empty(s) => Tok::Empty(self.tag(s.local_name().as_ref())),
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

    fn typed(&mut self, tag: Tag, depth: usize) -> Result<Wire, ProtocolError> {
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

//! A small element tree over quick-xml for reading CIM-XML requests, and an
//! output buffer for writing responses (escaping through quick-xml).
//!
//! Requests are bounded by the body size limit, so a tree is cheap; nesting
//! is limited to keep recursion bounded. quick-xml expands only the five
//! predefined entities and character references, so entity bombs fail.

use quick_xml::events::Event;
use quick_xml::Reader;

/// Deepest element nesting accepted in a request.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// Attribute by exact name (CIM-XML attribute names are upper case).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Parses a whole document into its root element.
pub fn parse(body: &[u8]) -> Result<Element, String> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut buf = Vec::new();
    loop {
        let ev = reader.read_event_into(&mut buf).map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?;
        let is_empty = matches!(ev, Event::Empty(_));
        match ev {
            Event::Start(s) | Event::Empty(s) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("elements nested deeper than {MAX_DEPTH}"));
                }
                let name = std::str::from_utf8(s.name().as_ref()).map_err(|e| e.to_string())?.to_string();
                let mut attrs = Vec::new();
                for a in s.attributes() {
                    let a = a.map_err(|e| e.to_string())?;
                    let k = std::str::from_utf8(a.key.as_ref()).map_err(|e| e.to_string())?.to_string();
                    let v = a.unescape_value().map_err(|e| e.to_string())?.into_owned();
                    attrs.push((k, v));
                }
                let el = Element { name, attrs, children: Vec::new(), text: String::new() };
                if is_empty {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => root = Some(el),
                    }
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(cur) = stack.last_mut() {
                    cur.text.push_str(&t.unescape().map_err(|e| e.to_string())?);
                } else if !t.iter().all(u8::is_ascii_whitespace) {
                    return Err("text outside the root element".into());
                }
            }
            Event::CData(c) => {
                if let Some(cur) = stack.last_mut() {
                    cur.text.push_str(std::str::from_utf8(&c).map_err(|e| e.to_string())?);
                }
            }
            Event::DocType(_) => return Err("DOCTYPE declarations are not accepted".into()),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(format!("unexpected end of document inside <{}>", stack.last().unwrap().name));
    }
    root.ok_or_else(|| "empty document".to_string())
}

/// An XML output buffer. Text and attribute values are escaped with
/// quick-xml's `escape`.
#[derive(Debug, Default)]
pub struct XmlOut {
    pub buf: String,
}

impl XmlOut {
    pub fn new() -> Self {
        XmlOut { buf: String::with_capacity(4096) }
    }
    fn attrs(&mut self, attrs: &[(&str, &str)]) {
        for (k, v) in attrs {
            self.buf.push(' ');
            self.buf.push_str(k);
            self.buf.push_str("=\"");
            self.buf.push_str(&quick_xml::escape::escape(*v));
            self.buf.push('"');
        }
    }
    pub fn open(&mut self, tag: &str, attrs: &[(&str, &str)]) {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.attrs(attrs);
        self.buf.push('>');
    }
    pub fn close(&mut self, tag: &str) {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
    }
    pub fn empty(&mut self, tag: &str, attrs: &[(&str, &str)]) {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.attrs(attrs);
        self.buf.push_str("/>");
    }
    pub fn text(&mut self, s: &str) {
        self.buf.push_str(&quick_xml::escape::escape(s));
    }
    /// `<tag attrs>text</tag>`
    pub fn leaf(&mut self, tag: &str, attrs: &[(&str, &str)], text: &str) {
        self.open(tag, attrs);
        self.text(text);
        self.close(tag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tree_and_rejects_bad_input() {
        let e = parse(br#"<?xml version="1.0"?><A X="1&amp;2"><B>t&lt;x</B><C/></A>"#).unwrap();
        assert_eq!(e.attr("X"), Some("1&2"));
        assert_eq!(e.child("B").unwrap().text, "t<x");
        assert!(e.child("C").is_some());
        assert!(parse(b"<A><B></A>").is_err());
        assert!(parse(b"<A>").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"<A/><B/>").is_err());
        assert!(parse(b"<!DOCTYPE x [<!ENTITY a \"aaaa\">]><A>&a;</A>").is_err());
        let deep = "<A>".repeat(100) + &"</A>".repeat(100);
        assert!(parse(deep.as_bytes()).unwrap_err().contains("nested"));
    }

    #[test]
    fn writer_escapes() {
        let mut o = XmlOut::new();
        o.leaf("VALUE", &[("N", "a\"<b")], "x & y");
        assert_eq!(o.buf, r#"<VALUE N="a&quot;&lt;b">x &amp; y</VALUE>"#);
    }
}

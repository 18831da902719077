//! Embedded instances as method parameters (`[EmbeddedInstance]` strings of DSP1042 methods):
//! either an instance the broker already decoded from CIM-XML (`CimValue::Instance`), or MOF
//! text or CIM-XML `<INSTANCE>` text (as the broker passes an `EmbeddedObject` string), parsed
//! here in memory:
//!
//! ```text
//! instance of Xen_ProcessorSettingData { ResourceType = 3; VirtualQuantity = 2; };
//! instance of Xen_ComputerSystemSettingData { ElementName = "web"; Platform = {"a=b", "c=d"}; };
//! ```
//!
//! Either way the result is an [`Embedded`]: a class name and properties looked up
//! case-insensitively, with values read leniently (a number may come as a string).

use cmpi_shim::{CimValue, Instance};

/// An embedded instance: its class name and properties (names as given).
#[derive(Clone, Debug, PartialEq)]
pub struct Embedded {
    pub class: String,
    pub props: Vec<(String, Prop)>,
}

/// A property value as far as the providers need it.
#[derive(Clone, Debug, PartialEq)]
pub enum Prop {
    Null,
    Scalar(String),
    List(Vec<String>),
}

impl Embedded {
    fn prop(&self, name: &str) -> Option<&Prop> {
        self.props.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// True when the property `name` is given, and not NULL.
    pub fn has(&self, name: &str) -> bool {
        !matches!(self.prop(name), None | Some(Prop::Null))
    }

    /// The scalar `name`, `None` when absent or NULL.
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.prop(name) {
            Some(Prop::Scalar(s)) => Some(s.as_str()),
            Some(Prop::List(l)) if l.len() == 1 => Some(l[0].as_str()),
            _ => None,
        }
    }

    /// The array `name` (a scalar counts as one element); empty when absent.
    pub fn list(&self, name: &str) -> Vec<String> {
        match self.prop(name) {
            Some(Prop::Scalar(s)) => vec![s.clone()],
            Some(Prop::List(l)) => l.clone(),
            _ => Vec::new(),
        }
    }

    /// The unsigned integer `name`: `Ok(None)` when absent, an error message when not a number.
    pub fn uint(&self, name: &str) -> Result<Option<u64>, String> {
        match self.str(name) {
            None => Ok(None),
            Some(s) => s.trim().parse::<u64>().map(Some).map_err(|_| format!("{}.{name} = {s:?} is not an unsigned integer", self.class)),
        }
    }

    /// From an instance the broker decoded.
    pub fn from_instance(i: &Instance) -> Embedded {
        let props = i.properties.iter().map(|(n, v)| (n.clone(), prop_of(v))).collect();
        Embedded { class: i.classname().to_string(), props }
    }

    /// From a parameter value: an instance, or a string of MOF.
    pub fn from_value(v: &CimValue) -> Result<Embedded, String> {
        match v {
            CimValue::Instance(i) => Ok(Embedded::from_instance(i)),
            CimValue::String(s) if s.trim_start().starts_with('<') => parse_cimxml(s),
            CimValue::String(s) => parse_mof(s),
            other => Err(format!("expected an embedded instance, got {other:?}")),
        }
    }

    /// Every element of a parameter: an array, or a single instance or string.
    pub fn list_from_value(v: &CimValue) -> Result<Vec<Embedded>, String> {
        match v {
            CimValue::Null { .. } => Ok(Vec::new()),
            CimValue::Array(_, items) => items.iter().filter(|i| !i.is_null()).map(Embedded::from_value).collect(),
            single => Ok(vec![Embedded::from_value(single)?]),
        }
    }
}

fn scalar_text(v: &CimValue) -> Option<String> {
    Some(match v {
        CimValue::Boolean(b) => b.to_string(),
        CimValue::Char16(c) => char::from_u32(*c as u32).map(String::from).unwrap_or_default(),
        CimValue::Uint8(x) => x.to_string(),
        CimValue::Uint16(x) => x.to_string(),
        CimValue::Uint32(x) => x.to_string(),
        CimValue::Uint64(x) => x.to_string(),
        CimValue::Sint8(x) => x.to_string(),
        CimValue::Sint16(x) => x.to_string(),
        CimValue::Sint32(x) => x.to_string(),
        CimValue::Sint64(x) => x.to_string(),
        CimValue::Real32(x) => x.to_string(),
        CimValue::Real64(x) => x.to_string(),
        CimValue::String(s) => s.clone(),
        CimValue::DateTime(d) => d.as_str().to_string(),
        CimValue::Reference(p) => p.to_string(),
        CimValue::Instance(_) | CimValue::Array(..) | CimValue::Null { .. } => return None,
    })
}

fn prop_of(v: &CimValue) -> Prop {
    match v {
        CimValue::Null { .. } => Prop::Null,
        CimValue::Array(_, items) => Prop::List(items.iter().filter_map(scalar_text).collect()),
        other => scalar_text(other).map(Prop::Scalar).unwrap_or(Prop::Null),
    }
}

/// Parses one `instance of <Class> { <Name> = <value>; ... };` (qualifiers in `[...]` before it
/// and `//` comments are skipped). Values: strings (C escapes, adjacent strings joined),
/// numbers, `true`/`false`, `NULL`, and `{ v, v, ... }` arrays of those.
pub fn parse_mof(text: &str) -> Result<Embedded, String> {
    let mut p = Lexer { chars: text.chars().collect(), pos: 0 };
    let err = |m: &str| format!("embedded instance: {m} in {:?}", clip(text));
    p.skip_ws();
    if p.peek() == Some('[') {
        p.skip_bracketed();
    }
    if !p.word().eq_ignore_ascii_case("instance") || !p.word().eq_ignore_ascii_case("of") {
        return Err(err("expected `instance of`"));
    }
    let class = p.word();
    if class.is_empty() {
        return Err(err("expected a class name"));
    }
    if !p.eat('{') {
        return Err(err("expected `{`"));
    }
    let mut props = Vec::new();
    loop {
        p.skip_ws();
        if p.eat('}') {
            break;
        }
        let name = p.word();
        if name.is_empty() || !p.eat('=') {
            return Err(err("expected `Name = value;`"));
        }
        let value = if p.eat('{') {
            let mut items = Vec::new();
            loop {
                if p.eat('}') {
                    break;
                }
                match p.value().ok_or_else(|| err("bad array element"))? {
                    Prop::Scalar(s) => items.push(s),
                    Prop::Null => {}
                    Prop::List(_) => return Err(err("nested array")),
                }
                if !p.eat(',') && p.peek_non_ws() != Some('}') {
                    return Err(err("expected `,` or `}` in an array"));
                }
            }
            Prop::List(items)
        } else {
            p.value().ok_or_else(|| err(&format!("bad value of {name}")))?
        };
        if !p.eat(';') {
            return Err(err(&format!("expected `;` after {name}")));
        }
        props.push((name, value));
    }
    p.eat(';');
    p.skip_ws();
    if p.pos < p.chars.len() {
        return Err(err("text after the instance"));
    }
    Ok(Embedded { class, props })
}

/// The elements that carry one instance with its path (DSP0201), as clients serialise an
/// instance they got from EnumerateInstances, Associators or GetInstance with its path.
const INSTANCE_WRAPPERS: [&str; 5] = ["VALUE.NAMEDINSTANCE", "VALUE.INSTANCEWITHPATH", "VALUE.OBJECTWITHPATH", "VALUE.OBJECTWITHLOCALPATH", "VALUE.OBJECT"];

/// The name of the element whose start tag begins at `text[at..]` (`at` is where its `<` is).
fn element_name(text: &str, at: usize) -> &str {
    // `<` is one byte, so `at + 1` is a char boundary; `get` keeps a bad `at` from panicking
    let rest = text.get(at + 1..).unwrap_or("");
    let end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(rest.len());
    &rest[..end]
}

/// Where the `<INSTANCE` start tag is: the root element, or the one inside a wrapper of
/// [`INSTANCE_WRAPPERS`] (its INSTANCENAME / INSTANCEPATH is skipped: the instance is what is
/// embedded, its path adds nothing).
fn instance_start(text: &str) -> Result<usize, String> {
    // the root element: the first tag that is no XML declaration, comment or doctype
    let mut at = 0;
    let root = loop {
        let i = text[at..].find('<').map(|i| at + i).ok_or("expected <INSTANCE>")?;
        if text[i..].starts_with("<?") || text[i..].starts_with("<!") {
            at = i + 2;
            continue;
        }
        break i;
    };
    let name = element_name(text, root);
    if name == "INSTANCE" {
        return Ok(root);
    }
    if !INSTANCE_WRAPPERS.contains(&name) {
        return Err(format!("expected <INSTANCE> or an instance in {}, got <{}>", INSTANCE_WRAPPERS.join(" / "), clip(name)));
    }
    let mut from = root + 1;
    while let Some(i) = text[from..].find("<INSTANCE").map(|i| from + i) {
        if element_name(text, i) == "INSTANCE" {
            return Ok(i);
        }
        from = i + 1;
    }
    Err(format!("<{name}> holds no <INSTANCE>"))
}

/// Parses one CIM-XML `<INSTANCE CLASSNAME="..">` with `PROPERTY` / `PROPERTY.ARRAY` children
/// (DSP0201), bare or wrapped with its path (`VALUE.NAMEDINSTANCE`, `VALUE.INSTANCEWITHPATH`,
/// ...); a property without `VALUE` is NULL.
///
/// The text comes from a client: every position below is found by searching the text itself
/// and every slice is checked, so malformed markup (a `</PROPERTY>` inside a start tag, a tag
/// that never ends, multibyte characters next to markup) is an error, never a panic.
pub fn parse_cimxml(text: &str) -> Result<Embedded, String> {
    let err = |m: &str| format!("embedded instance: {m} in {:?}", clip(text));
    let start = instance_start(text).map_err(|m| err(&m))?;
    let head_end = text[start..].find('>').map(|i| start + i).ok_or_else(|| err("unterminated <INSTANCE"))?;
    let class = attr(&text[start..head_end], "CLASSNAME").ok_or_else(|| err("no CLASSNAME"))?;
    if class.is_empty() {
        return Err(err("empty CLASSNAME"));
    }
    let mut props = Vec::new();
    // the properties of this INSTANCE only, not of what follows a wrapped one
    let end = text[head_end..].find("</INSTANCE>").map_or(text.len(), |i| head_end + i);
    let mut rest = &text[head_end..end];
    while let Some(i) = rest.find("<PROPERTY") {
        rest = &rest[i..];
        let tag_end = rest.find('>').ok_or_else(|| err("unterminated <PROPERTY"))?;
        let tag = &rest[..tag_end];
        if tag[1..].contains('<') {
            // `<PROPERTY NAME="x" <VALUE>..`: the start tag is not closed before the next tag
            return Err(err("unterminated <PROPERTY start tag"));
        }
        let name = attr(tag, "NAME").ok_or_else(|| err("a PROPERTY without NAME"))?;
        let is_array = tag.starts_with("<PROPERTY.ARRAY");
        // after `>`, one byte: a char boundary
        let after_tag = &rest[tag_end + 1..];
        if tag.ends_with('/') {
            props.push((name, Prop::Null));
            rest = after_tag;
            continue;
        }
        let close = after_tag.find("</PROPERTY").ok_or_else(|| err("unterminated PROPERTY"))?;
        let mut body = &after_tag[..close];
        let mut values = Vec::new();
        while let Some(v) = body.find("<VALUE>") {
            let after = &body[v + "<VALUE>".len()..];
            let end = after.find("</VALUE>").ok_or_else(|| err("unterminated VALUE"))?;
            values.push(unescape(&after[..end]));
            body = &after[end..];
        }
        let value = match (is_array, values.len()) {
            (true, _) => Prop::List(values),
            (false, 0) => Prop::Null,
            (false, _) => Prop::Scalar(values.remove(0)),
        };
        props.push((name, value));
        rest = &after_tag[close..];
    }
    Ok(Embedded { class, props })
}

/// At most the first 200 characters of a client's text, for error messages: an error about a
/// 4 MiB parameter need not repeat it.
fn clip(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// The value of attribute `name` in a start tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let pat = format!("{name}=\"");
    let i = tag.find(&pat)? + pat.len();
    let end = tag[i..].find('"')?;
    Some(unescape(&tag[i..i + end]))
}

/// XML character and entity references.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let ch = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn peek_non_ws(&mut self) -> Option<char> {
        self.skip_ws();
        self.peek()
    }
    fn skip_ws(&mut self) {
        loop {
            while self.peek().is_some_and(char::is_whitespace) {
                self.pos += 1;
            }
            if self.chars.get(self.pos..self.pos + 2) == Some(&['/', '/']) {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.pos += 1;
                }
            } else {
                return;
            }
        }
    }
    fn skip_bracketed(&mut self) {
        let mut depth = 0;
        let mut in_str = false;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                '"' => in_str = !in_str,
                // the escaped character is skipped, unless the text ends here
                '\\' if in_str => self.pos = (self.pos + 1).min(self.chars.len()),
                '[' if !in_str => depth += 1,
                ']' if !in_str => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }
    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn word(&mut self) -> String {
        self.skip_ws();
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        self.chars.get(start..self.pos).map(|w| w.iter().collect()).unwrap_or_default()
    }
    fn string(&mut self) -> Option<String> {
        let mut out = String::new();
        // Adjacent literals are one string, as in MOF.
        while self.eat('"') {
            loop {
                let c = self.peek()?;
                self.pos += 1;
                match c {
                    '"' => break,
                    '\\' => {
                        let e = self.peek()?;
                        self.pos += 1;
                        out.push(match e {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => other,
                        });
                    }
                    c => out.push(c),
                }
            }
        }
        Some(out)
    }
    fn value(&mut self) -> Option<Prop> {
        match self.peek_non_ws()? {
            '"' => self.string().map(Prop::Scalar),
            _ => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || "+-._".contains(c)) {
                    self.pos += 1;
                }
                let w: String = self.chars.get(start..self.pos).map(|w| w.iter().collect()).unwrap_or_default();
                match w.to_ascii_lowercase().as_str() {
                    "" => None,
                    "null" => Some(Prop::Null),
                    "true" | "false" => Some(Prop::Scalar(w.to_ascii_lowercase())),
                    _ if w.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') => Some(Prop::Scalar(w)),
                    _ => None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cmpi_shim::{CimType, ObjectPath};

    #[test]
    fn parses_mof_text_with_arrays_comments_and_qualifiers() {
        let e = parse_mof(
            "[Description(\"x\")] instance of Xen_ComputerSystemSettingData {\n  // the name\n  elementname = \"web \\\"1\\\"\" \"!\";\n  Platform = {\"a=b\", \"c=d\"};\n  VirtualQuantity = 4;\n  Cap = NULL; B = TRUE;\n};",
        )
        .unwrap();
        assert_eq!(e.class, "Xen_ComputerSystemSettingData");
        assert_eq!(e.str("ElementName"), Some("web \"1\"!"));
        assert_eq!(e.list("platform"), vec!["a=b", "c=d"]);
        assert_eq!(e.uint("VIRTUALQUANTITY"), Ok(Some(4)));
        assert_eq!(e.str("Cap"), None);
        assert_eq!(e.str("b"), Some("true"));
        assert_eq!(e.uint("Missing"), Ok(None));
        assert!(e.uint("ElementName").is_err());
        assert_eq!(parse_mof("instance of A { };").unwrap().props, vec![]);
    }

    #[test]
    fn parses_cimxml_instances() {
        let x = "<INSTANCE CLASSNAME=\"Xen_ComputerSystemSettingData\"><PROPERTY NAME=\"ElementName\" TYPE=\"string\"><VALUE>a &lt;b&gt; &amp; &#65;</VALUE></PROPERTY>\
                 <PROPERTY.ARRAY NAME=\"HVM_Boot_Params\" TYPE=\"string\"><VALUE.ARRAY><VALUE>order=cd</VALUE><VALUE>x=y</VALUE></VALUE.ARRAY></PROPERTY.ARRAY>\
                 <PROPERTY NAME=\"Description\" TYPE=\"string\"/><PROPERTY NAME=\"Caption\" TYPE=\"string\"></PROPERTY></INSTANCE>";
        let e = Embedded::from_value(&CimValue::String(x.into())).unwrap();
        assert_eq!(e.class, "Xen_ComputerSystemSettingData");
        assert_eq!(e.str("elementname"), Some("a <b> & A"));
        assert_eq!(e.list("HVM_Boot_Params"), vec!["order=cd", "x=y"]);
        assert_eq!(e.str("Description"), None);
        assert_eq!(e.str("Caption"), None);
        assert!(parse_cimxml("<CLASS NAME=\"x\"/>").is_err());
        assert!(parse_cimxml("<INSTANCE CLASSNAME=\"A\"><PROPERTY NAME=\"X\"><VALUE>1</VALUE>").is_err());
    }

    #[test]
    fn unwraps_instances_sent_with_their_path() {
        let inst = "<INSTANCE CLASSNAME=\"Xen_MemorySettingData\"><PROPERTY NAME=\"InstanceID\" TYPE=\"string\"><VALUE>Xen:v/Memory</VALUE></PROPERTY>\
                    <PROPERTY NAME=\"VirtualQuantity\" TYPE=\"uint64\"><VALUE>512</VALUE></PROPERTY></INSTANCE>";
        let name = "<INSTANCENAME CLASSNAME=\"Xen_MemorySettingData\"><KEYBINDING NAME=\"InstanceID\"><KEYVALUE VALUETYPE=\"string\">Xen:v/Memory</KEYVALUE></KEYBINDING></INSTANCENAME>";
        let path = format!("<INSTANCEPATH><NAMESPACEPATH><HOST>localhost</HOST><LOCALNAMESPACEPATH><NAMESPACE NAME=\"root\"/><NAMESPACE NAME=\"cimv2\"/></LOCALNAMESPACEPATH></NAMESPACEPATH>{name}</INSTANCEPATH>");
        for text in [
            format!("<VALUE.INSTANCEWITHPATH>{path}{inst}</VALUE.INSTANCEWITHPATH>"),
            format!("<VALUE.NAMEDINSTANCE>{name}{inst}</VALUE.NAMEDINSTANCE>"),
            format!("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<VALUE.NAMEDINSTANCE>{name}{inst}</VALUE.NAMEDINSTANCE>"),
            inst.to_string(),
        ] {
            let e = Embedded::from_value(&CimValue::String(text.clone())).unwrap_or_else(|m| panic!("{m}"));
            assert_eq!(e.class, "Xen_MemorySettingData", "{text}");
            assert_eq!((e.str("InstanceID"), e.uint("VirtualQuantity")), (Some("Xen:v/Memory"), Ok(Some(512))), "{text}");
            assert_eq!(e.props.len(), 2, "the path's keys are no properties");
        }
        let e = parse_cimxml(&format!("<VALUE.INSTANCEWITHPATH>{path}</VALUE.INSTANCEWITHPATH>")).unwrap_err();
        assert!(e.contains("holds no <INSTANCE>"), "{e}");
        let e = parse_cimxml(&format!("<VALUE.REFERENCE>{name}</VALUE.REFERENCE>")).unwrap_err();
        assert!(e.contains("got <VALUE.REFERENCE>"), "{e}");
    }

    #[test]
    fn bad_mof_is_an_error() {
        for bad in ["", "class A {};", "instance of A { X = 1 };", "instance of A { X = ; };", "instance of A { X = 1; } junk", "instance of A { X = \"open; };"] {
            assert!(parse_mof(bad).is_err(), "{bad}");
        }
    }

    /// Inputs that once panicked (string slicing past the end, or a start after its end) and
    /// their neighbours: each is an error or a value, never a panic.
    #[test]
    fn malformed_cimxml_and_mof_are_errors_not_panics() {
        for bad in [
            // `</PROPERTY` before the `>` that closes the start tag
            "<INSTANCE CLASSNAME=\"A\"><PROPERTY NAME=\"X\" </PROPERTY>",
            "<INSTANCE CLASSNAME=\"A\"><PROPERTY NAME=\"X\" </PROPERTY><VALUE>1</VALUE>>",
            "<INSTANCE CLASSNAME=\"A\"><PROPERTY NAME=\"é\" </PROPERTY>€>",
            "<INSTANCE CLASSNAME=\"A\"><PROPERTY NAME=\"X\"><VALUE>1</VALUE></PROPERTY><PROPERTY",
            "<INSTANCE CLASSNAME=\"A\"><PROPERTY NAME=\"X\"><VALUE>1",
            "<INSTANCE CLASSNAME=\"A",
            "<INSTANCE CLASSNAME=\"\">",
            "<INSTANCE",
            "<",
            "<?",
            "<!",
            "<VALUE.NAMEDINSTANCE><INSTANCE",
            "<VALUE.NAMEDINSTANCE><INSTANCEX",
        ] {
            assert!(parse_cimxml(bad).is_err(), "{bad}");
        }
        // a backslash at the very end of a qualifier string moved the lexer past the text
        for bad in ["[\"\\", "[\"", "[", "instance of A { X = \"\\", "instance of A { X = {", "instance of A { X = {\"a\",", "instance of"] {
            assert!(parse_mof(bad).is_err(), "{bad:?}");
        }
        // multibyte text around the markup is kept as it is
        let e = parse_cimxml("<INSTANCE CLASSNAME=\"Xen_ComputerSystemSettingData\"><PROPERTY NAME=\"ElementName\"><VALUE>é€𝄞 &#x1D11E;</VALUE></PROPERTY></INSTANCE>").unwrap();
        assert_eq!(e.str("ElementName"), Some("é€𝄞 𝄞"));
        // error messages quote a bounded part of a huge parameter
        let huge = format!("instance of A {{ X = {}", "\"x\" ".repeat(100_000));
        assert!(parse_mof(&huge).unwrap_err().len() < 1000);
    }

    /// A small deterministic PRNG (xorshift64*): the mutation tests need no crate and repeat
    /// exactly from their seed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Mutates `text` a few times: a piece inserted, a range removed, a range repeated, the text
    /// cut short; positions are char boundaries (the input is a Rust string, as from the broker).
    fn mutate(rng: &mut Rng, text: &str) -> String {
        const PIECES: [&str; 24] = [
            "<", ">", "\"", "'", "/", "\\", "&", ";", "&#x110000;", "&#99999999999;", "&amp", "é", "€", "𝄞",
            "</PROPERTY>", "<PROPERTY NAME=\"", "<VALUE>", "</VALUE>", "<INSTANCE", "[", "{", "}", "\u{0}", "<!--",
        ];
        let mut s: Vec<char> = text.chars().collect();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(s.len() + 1);
            match rng.below(4) {
                0 => {
                    let piece = PIECES[rng.below(PIECES.len())];
                    s.splice(at..at, piece.chars());
                }
                1 => {
                    let end = (at + rng.below(8)).min(s.len());
                    s.drain(at..end);
                }
                2 => {
                    let end = (at + rng.below(16)).min(s.len());
                    let copy: Vec<char> = s[at..end].to_vec();
                    s.splice(at..at, copy);
                }
                _ => s.truncate(at),
            }
        }
        s.into_iter().collect()
    }

    /// Thousands of mutated embedded instances (MOF and CIM-XML, as DefineSystem's
    /// SystemSettings and ResourceSettings carry them): every one parses or is an error.
    #[test]
    fn mutated_embedded_instances_never_panic() {
        let seeds = [
            "<INSTANCE CLASSNAME=\"Xen_ComputerSystemSettingData\"><PROPERTY NAME=\"ElementName\" TYPE=\"string\"><VALUE>a &lt;b&gt; &amp; &#65;</VALUE></PROPERTY><PROPERTY.ARRAY NAME=\"HVM_Boot_Params\" TYPE=\"string\"><VALUE.ARRAY><VALUE>order=cd</VALUE></VALUE.ARRAY></PROPERTY.ARRAY><PROPERTY NAME=\"Description\" TYPE=\"string\"/></INSTANCE>",
            "<?xml version=\"1.0\"?><VALUE.NAMEDINSTANCE><INSTANCENAME CLASSNAME=\"Xen_MemorySettingData\"/><INSTANCE CLASSNAME=\"Xen_MemorySettingData\"><PROPERTY NAME=\"VirtualQuantity\" TYPE=\"uint64\"><VALUE>512</VALUE></PROPERTY></INSTANCE></VALUE.NAMEDINSTANCE>",
            "[Description(\"x\")] instance of Xen_ComputerSystemSettingData {\n // c\n ElementName = \"web \\\"1\\\"\" \"!\";\n Platform = {\"a=b\", \"c=d\"};\n VirtualQuantity = 4; Cap = NULL; B = TRUE;\n};",
            "instance of Xen_ProcessorSettingData { ResourceType = 3; VirtualQuantity = -2; Limit = 0x10; };",
        ];
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for round in 0..6000 {
            let seed = seeds[round % seeds.len()];
            let text = mutate(&mut rng, seed);
            if let Ok(e) = Embedded::from_value(&CimValue::String(text.clone())) {
                // what parses can be read
                let _ = (e.uint("VirtualQuantity"), e.list("Platform"), e.str("ElementName"));
            }
        }
    }

    #[test]
    fn instances_and_arrays_of_either_are_accepted() {
        let i = Instance::new(ObjectPath::new("root/cimv2", "Xen_MemorySettingData"))
            .with("VirtualQuantity", CimValue::Uint64(512))
            .with("Connection", CimValue::Array(CimType::String, vec!["x".into()]));
        let e = Embedded::from_value(&CimValue::Instance(Box::new(i.clone()))).unwrap();
        assert_eq!(e.class, "Xen_MemorySettingData");
        assert_eq!(e.uint("virtualquantity"), Ok(Some(512)));
        assert_eq!(e.list("Connection"), vec!["x"]);
        let arr = CimValue::Array(CimType::String, vec![CimValue::String("instance of A { X = 1; };".into())]);
        assert_eq!(Embedded::list_from_value(&arr).unwrap()[0].class, "A");
        assert_eq!(Embedded::list_from_value(&CimValue::Instance(Box::new(i))).unwrap().len(), 1);
        assert!(Embedded::from_value(&CimValue::Uint8(1)).is_err());
    }
}

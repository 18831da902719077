//! The generator's hand-written inputs besides the model: `Class.message  reason` lines (the
//! unimplemented list) and bare `Class.message` lines (the waiting handlers); `#` starts a
//! comment, blank lines are ignored.

/// Declared messages the server does not implement, each with its reason, in file order.
#[derive(Debug, Default)]
pub struct Unimplemented {
    entries: Vec<(String, String)>,
}

impl Unimplemented {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, r)| r.as_str())
    }
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, r)| (n.as_str(), r.as_str()))
    }
}

fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split('#').next().unwrap_or("").trim()))
        .filter(|(_, l)| !l.is_empty())
}

fn check_name(n: usize, name: &str) -> Result<(), String> {
    match name.split_once('.') {
        Some((c, m)) if !c.is_empty() && !m.is_empty() && !m.contains('.') && !name.contains(char::is_whitespace) => Ok(()),
        _ => Err(format!("line {n}: {name:?} is not Class.message")),
    }
}

pub fn parse_unimplemented(text: &str) -> Result<Unimplemented, String> {
    let mut u = Unimplemented::default();
    for (n, line) in lines(text) {
        let (name, reason) = line.split_once(char::is_whitespace).ok_or_else(|| format!("line {n}: no reason after {line:?}"))?;
        check_name(n, name)?;
        if u.get(name).is_some() {
            return Err(format!("line {n}: {name} listed twice"));
        }
        u.entries.push((name.to_string(), reason.trim().to_string()));
    }
    Ok(u)
}

pub fn parse_names(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for (n, line) in lines(text) {
        check_name(n, line)?;
        if out.iter().any(|x| x == line) {
            return Err(format!("line {n}: {line} listed twice"));
        }
        out.push(line.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_refuse_bad_lines() {
        let u = parse_unimplemented("# c\n\nVM.checkpoint   needs memory images  # why\nSR.x -\n").unwrap();
        assert_eq!(u.get("VM.checkpoint"), Some("needs memory images"));
        assert_eq!(u.get("SR.x"), Some("-"));
        assert!(parse_unimplemented("VM.checkpoint\n").is_err(), "a reason is required");
        assert!(parse_unimplemented("VMcheckpoint -\n").is_err());
        assert!(parse_unimplemented("VM.a -\nVM.a -\n").is_err());
        assert_eq!(parse_names("VM.start\n# x\nVM.stop # y\n").unwrap(), ["VM.start", "VM.stop"]);
        assert!(parse_names("VM.start extra\n").is_err());
    }
}

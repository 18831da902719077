//! SFCB provider registration files (`.reg`):
//!
//! ```text
//! [Xen_ComputerSystem]
//!    provider: Xen_ComputerSystemProvider
//!    location: xencimprovider        # loads libxencimprovider.so
//!    type: instance method
//!    namespace: root/cimv2
//! ```
//!
//! One stanza per class; `#` starts a comment; unknown keys (group, unload,
//! user, ...) are kept aside. Errors name the file and line.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub class: String,
    pub provider: String,
    /// Library base name: the file is `lib<location>.so`.
    pub location: String,
    /// instance, association, method, indication (lower case).
    pub types: Vec<String>,
    pub namespaces: Vec<String>,
    pub group: Option<String>,
    pub file: PathBuf,
    pub line: usize,
}

impl Registration {
    pub fn library_file_name(&self) -> String {
        format!("lib{}.so", self.location)
    }
    pub fn has_type(&self, t: &str) -> bool {
        self.types.iter().any(|x| x.eq_ignore_ascii_case(t))
    }
}

const TYPES: [&str; 4] = ["instance", "association", "method", "indication"];

pub fn parse(text: &str, file: &Path) -> anyhow::Result<Vec<Registration>> {
    let mut out: Vec<Registration> = Vec::new();
    let mut cur: Option<Registration> = None;
    let finish = |r: Registration, out: &mut Vec<Registration>| -> anyhow::Result<()> {
        let at = format!("{}:{}", r.file.display(), r.line);
        if r.provider.is_empty() {
            bail!("{at}: [{}] has no provider:", r.class);
        }
        if r.location.is_empty() {
            bail!("{at}: [{}] has no location:", r.class);
        }
        if r.types.is_empty() {
            bail!("{at}: [{}] has no type:", r.class);
        }
        let mut r = r;
        if r.namespaces.is_empty() {
            r.namespaces.push("root/cimv2".into());
        }
        out.push(r);
        Ok(())
    };
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        if let Some(rest) = l.strip_prefix('[') {
            let class = rest.strip_suffix(']').with_context(|| format!("{}:{line}: missing ']'", file.display()))?.trim();
            if class.is_empty() {
                bail!("{}:{line}: empty class name", file.display());
            }
            if let Some(r) = cur.take() {
                finish(r, &mut out)?;
            }
            cur = Some(Registration {
                class: class.to_string(),
                provider: String::new(),
                location: String::new(),
                types: Vec::new(),
                namespaces: Vec::new(),
                group: None,
                file: file.to_path_buf(),
                line,
            });
            continue;
        }
        let Some(r) = cur.as_mut() else { bail!("{}:{line}: entry outside a [Class] stanza", file.display()) };
        let (k, v) = l.split_once(':').with_context(|| format!("{}:{line}: expected 'key: value'", file.display()))?;
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "provider" => r.provider = v.to_string(),
            "location" => r.location = v.to_string(),
            "group" => r.group = Some(v.to_string()),
            "type" => {
                for t in v.split_whitespace() {
                    let t = t.to_ascii_lowercase();
                    if !TYPES.contains(&t.as_str()) {
                        bail!("{}:{line}: unknown provider type {t}", file.display());
                    }
                    r.types.push(t);
                }
            }
            "namespace" => r.namespaces.extend(v.split_whitespace().map(str::to_string)),
            _ => {} // unload, user, parameters: not used by this broker
        }
    }
    if let Some(r) = cur.take() {
        finish(r, &mut out)?;
    }
    Ok(out)
}

/// Reads `.reg` files, and every `*.reg` in directories, in name order.
pub fn read_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Registration>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().map(|e| e == "reg").unwrap_or(false))
                .collect();
            v.sort();
            files.extend(v);
        } else {
            files.push(p.clone());
        }
    }
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        out.extend(parse(&text, &f)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stanzas() {
        let t = "# comment\n[Xen_A]\n  provider: AProv\n  location: xenprov # lib\n  type: instance method\n  namespace: root/cimv2 root/interop\n\n[Xen_Assoc]\n provider: B\n location: xenprov\n type: association\n";
        let r = parse(t, Path::new("x.reg")).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].class, "Xen_A");
        assert_eq!(r[0].library_file_name(), "libxenprov.so");
        assert!(r[0].has_type("method") && !r[0].has_type("association"));
        assert_eq!(r[0].namespaces, vec!["root/cimv2", "root/interop"]);
        assert_eq!(r[1].namespaces, vec!["root/cimv2"]);
        assert_eq!(r[1].line, 8);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("[A]\n provider: P\n type: instance\n", Path::new("y.reg")).unwrap_err().to_string();
        assert_eq!(e, "y.reg:1: [A] has no location:");
        let e = parse("[A]\n type: bogus\n", Path::new("y.reg")).unwrap_err().to_string();
        assert_eq!(e, "y.reg:2: unknown provider type bogus");
        let e = parse("provider: P\n", Path::new("y.reg")).unwrap_err().to_string();
        assert!(e.contains("outside a [Class] stanza"));
    }
}

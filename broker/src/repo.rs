//! The class repository: namespaces holding qualifier declarations, resolved
//! classes and static instances (from MOF `instance of`).
//!
//! Classes are stored resolved: every class carries its inherited features,
//! marked `propagated`, with `class_origin` naming the class of definition.
//! Adding a class checks it against its superclass (DSP0004 rules: parent
//! exists, no duplicate features, key rules, references only in associations).

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::*;

/// One namespace's content.
#[derive(Debug, Clone, Default)]
pub struct Namespace {
    pub name: String,
    qualifiers: HashMap<String, QualifierDecl>,
    qualifier_order: Vec<String>,
    classes: HashMap<String, Arc<Class>>,
    /// lower-case class name -> direct subclasses' names (root classes under "").
    children: HashMap<String, Vec<String>>,
    /// Static instances declared in MOF, in declaration order.
    pub instances: Vec<Instance>,
}

fn lc(s: &str) -> String {
    s.to_ascii_lowercase()
}

impl Namespace {
    pub fn new(name: &str) -> Self {
        Namespace { name: name.to_string(), ..Default::default() }
    }

    pub fn qualifier_decl(&self, name: &str) -> Option<&QualifierDecl> {
        self.qualifiers.get(&lc(name))
    }

    pub fn qualifier_decls(&self) -> impl Iterator<Item = &QualifierDecl> {
        self.qualifier_order.iter().filter_map(|n| self.qualifiers.get(n))
    }

    /// Adds or replaces a qualifier declaration.
    pub fn add_qualifier_decl(&mut self, d: QualifierDecl) {
        let k = lc(&d.name);
        if !self.qualifiers.contains_key(&k) {
            self.qualifier_order.push(k.clone());
        }
        self.qualifiers.insert(k, d);
    }

    pub fn class(&self, name: &str) -> Option<&Arc<Class>> {
        self.classes.get(&lc(name))
    }

    pub fn class_count(&self) -> usize {
        self.classes.len()
    }

    /// Direct subclasses of `name`, or the root classes when `name` is None.
    pub fn direct_subclasses(&self, name: Option<&str>) -> &[String] {
        self.children.get(&name.map(lc).unwrap_or_default()).map(Vec::as_slice).unwrap_or(&[])
    }

    /// All subclasses of `name` (or all classes), depth first, parents before children.
    pub fn all_subclasses(&self, name: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack: Vec<String> = self.direct_subclasses(name).iter().rev().cloned().collect();
        while let Some(c) = stack.pop() {
            for s in self.direct_subclasses(Some(&c)).iter().rev() {
                stack.push(s.clone());
            }
            out.push(c);
        }
        out
    }

    /// True when `class` is `ancestor` or derives from it.
    pub fn is_subclass_of(&self, class: &str, ancestor: &str) -> bool {
        let mut cur = self.class(class).cloned();
        while let Some(c) = cur {
            if c.name.eq_ignore_ascii_case(ancestor) {
                return true;
            }
            cur = c.superclass.as_deref().and_then(|s| self.class(s)).cloned();
        }
        false
    }

    /// Removes a class that has no subclasses.
    pub fn delete_class(&mut self, name: &str) -> Result<(), String> {
        let c = self.class(name).cloned().ok_or_else(|| format!("no class {name}"))?;
        if !self.direct_subclasses(Some(name)).is_empty() {
            return Err(format!("class {} has subclasses", c.name));
        }
        self.classes.remove(&lc(name));
        let parent = c.superclass.as_deref().map(lc).unwrap_or_default();
        if let Some(v) = self.children.get_mut(&parent) {
            v.retain(|n| !n.eq_ignore_ascii_case(name));
        }
        Ok(())
    }

    /// Resolves a class declared with only its local features against its
    /// superclass and stores it. Errors are plain messages; the MOF compiler
    /// adds file and line.
    pub fn add_class(&mut self, local: Class) -> Result<(), String> {
        let key = lc(&local.name);
        if self.classes.contains_key(&key) {
            return Err(format!("class {} is already defined", local.name));
        }
        // duplicate features within the declaration
        for (i, p) in local.properties.iter().enumerate() {
            if local.properties[..i].iter().any(|q| q.name.eq_ignore_ascii_case(&p.name)) {
                return Err(format!("class {}: duplicate property {}", local.name, p.name));
            }
        }
        for (i, m) in local.methods.iter().enumerate() {
            if local.methods[..i].iter().any(|q| q.name.eq_ignore_ascii_case(&m.name)) {
                return Err(format!("class {}: duplicate method {}", local.name, m.name));
            }
            if local.properties.iter().any(|p| p.name.eq_ignore_ascii_case(&m.name)) {
                return Err(format!("class {}: {} is both a property and a method", local.name, m.name));
            }
            for (j, p) in m.parameters.iter().enumerate() {
                if m.parameters[..j].iter().any(|q| q.name.eq_ignore_ascii_case(&p.name)) {
                    return Err(format!(
                        "class {}: method {}: duplicate parameter {}",
                        local.name, m.name, p.name
                    ));
                }
            }
        }
        let parent = match &local.superclass {
            Some(s) => Some(self.class(s).cloned().ok_or_else(|| {
                format!("class {}: superclass {} is not defined", local.name, s)
            })?),
            None => None,
        };
        let resolved = resolve(local, parent.as_deref())?;
        check_class(&resolved, parent.as_deref(), self)?;
        let parent_key = resolved.superclass.as_deref().map(lc).unwrap_or_default();
        self.children.entry(parent_key).or_default().push(resolved.name.clone());
        self.classes.insert(key, Arc::new(resolved));
        Ok(())
    }
}

/// Merges inherited qualifiers (those flavoured ToSubclass) with local ones,
/// refusing to change a DisableOverride qualifier's value.
fn merge_qualifiers(inherited: &[Qualifier], local: &[Qualifier], what: &str) -> Result<Vec<Qualifier>, String> {
    let mut out: Vec<Qualifier> = Vec::new();
    for q in inherited.iter().filter(|q| q.flavor.to_subclass) {
        match find_qualifier(local, &q.name) {
            Some(l) => {
                if !q.flavor.overridable && l.value != q.value {
                    return Err(format!(
                        "{what}: qualifier {} is DisableOverride and cannot change value",
                        q.name
                    ));
                }
            }
            None => {
                let mut q = q.clone();
                q.propagated = true;
                out.push(q);
            }
        }
    }
    // local ones first, then propagated
    let mut all: Vec<Qualifier> = local.to_vec();
    all.append(&mut out);
    Ok(all)
}

fn resolve(mut local: Class, parent: Option<&Class>) -> Result<Class, String> {
    let Some(parent) = parent else {
        return Ok(local);
    };
    // canonical spelling of the superclass
    local.superclass = Some(parent.name.clone());
    let cname = local.name.clone();
    local.qualifiers = merge_qualifiers(&parent.qualifiers, &local.qualifiers, &format!("class {cname}"))?;

    let mut props: Vec<Property> = Vec::new();
    for pp in &parent.properties {
        let mut p = pp.clone();
        p.propagated = true;
        p.qualifiers = pp
            .qualifiers
            .iter()
            .filter(|q| q.flavor.to_subclass)
            .map(|q| Qualifier { propagated: true, ..q.clone() })
            .collect();
        props.push(p);
    }
    for lp in local.properties.drain(..) {
        if let Some(idx) = props.iter().position(|p| p.name.eq_ignore_ascii_case(&lp.name)) {
            let inherited = &props[idx];
            if inherited.ty != lp.ty || inherited.is_array != lp.is_array {
                return Err(format!(
                    "class {cname}: property {} overrides {}.{} with a different type",
                    lp.name, inherited.class_origin, inherited.name
                ));
            }
            let what = format!("class {cname}: property {}", lp.name);
            let quals = merge_qualifiers(&parent.properties[idx].qualifiers, &lp.qualifiers, &what)?;
            let mut np = lp;
            np.qualifiers = quals;
            if np.default.is_none() {
                np.default = props[idx].default.clone();
            }
            props[idx] = np;
        } else {
            props.push(lp);
        }
    }
    local.properties = props;

    let mut methods: Vec<Method> = Vec::new();
    for pm in &parent.methods {
        let mut m = pm.clone();
        m.propagated = true;
        m.qualifiers = pm
            .qualifiers
            .iter()
            .filter(|q| q.flavor.to_subclass)
            .map(|q| Qualifier { propagated: true, ..q.clone() })
            .collect();
        methods.push(m);
    }
    for lm in local.methods.drain(..) {
        if let Some(idx) = methods.iter().position(|m| m.name.eq_ignore_ascii_case(&lm.name)) {
            let what = format!("class {cname}: method {}", lm.name);
            let quals = merge_qualifiers(&parent.methods[idx].qualifiers, &lm.qualifiers, &what)?;
            let mut nm = lm;
            nm.qualifiers = quals;
            methods[idx] = nm;
        } else {
            methods.push(lm);
        }
    }
    local.methods = methods;
    Ok(local)
}

/// DSP0004 structural rules on a resolved class.
fn check_class(c: &Class, parent: Option<&Class>, ns: &Namespace) -> Result<(), String> {
    let assoc = c.is_association();
    if let Some(p) = parent {
        if p.is_association() && !assoc {
            return Err(format!("class {}: subclass of association {} must be an association", c.name, p.name));
        }
        if !p.is_association() && assoc && !p.properties.is_empty() {
            // A non-association may not become an association (DSP0004 5.1.2.13)
            return Err(format!(
                "class {}: is an association but its superclass {} is not",
                c.name, p.name
            ));
        }
    }
    for p in c.properties.iter().filter(|p| !p.propagated) {
        if p.ty == CimType::Reference {
            if !assoc {
                return Err(format!(
                    "class {}: reference property {} is only allowed in an association",
                    c.name, p.name
                ));
            }
            let rc = p.reference_class.as_deref().unwrap_or("");
            if ns.class(rc).is_none() && !rc.eq_ignore_ascii_case(&c.name) {
                return Err(format!("class {}: reference {} names unknown class {}", c.name, p.name, rc));
            }
        }
        if p.is_key() && p.is_array {
            return Err(format!("class {}: key property {} cannot be an array", c.name, p.name));
        }
    }
    if let Some(parent) = parent {
        if parent.key_properties().next().is_some() {
            for p in c.properties.iter().filter(|p| p.is_key()) {
                let was_key = parent.property(&p.name).map(|pp| pp.is_key()).unwrap_or(false);
                if !was_key {
                    return Err(format!(
                        "class {}: cannot add key property {}: superclass {} already defines keys",
                        c.name, p.name, parent.name
                    ));
                }
            }
        }
    }
    if assoc && c.properties.iter().filter(|p| p.ty == CimType::Reference).count() < 2 {
        return Err(format!("class {}: an association needs at least two references", c.name));
    }
    Ok(())
}

/// The whole repository: namespaces by lower-case name.
#[derive(Debug, Clone, Default)]
pub struct Repository {
    namespaces: HashMap<String, Namespace>,
}

/// The namespaces the broker always has.
pub const DEFAULT_NAMESPACES: [&str; 2] = ["root/cimv2", "root/interop"];

/// Normalises a namespace name: slashes trimmed, case kept for display.
pub fn normalize_ns(ns: &str) -> String {
    ns.trim().trim_matches('/').to_string()
}

impl Repository {
    /// A repository with the default namespaces, empty.
    pub fn new() -> Self {
        let mut r = Repository::default();
        for ns in DEFAULT_NAMESPACES {
            r.create_namespace(ns);
        }
        r
    }

    pub fn create_namespace(&mut self, name: &str) -> &mut Namespace {
        let n = normalize_ns(name);
        self.namespaces.entry(lc(&n)).or_insert_with(|| Namespace::new(&n))
    }

    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.get(&lc(&normalize_ns(name)))
    }

    pub fn namespace_mut(&mut self, name: &str) -> Option<&mut Namespace> {
        self.namespaces.get_mut(&lc(&normalize_ns(name)))
    }

    pub fn namespace_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.namespaces.values().map(|n| n.name.clone()).collect();
        v.sort();
        v
    }

    /// A repository holding only namespace `ns`'s qualifier types and
    /// classes (no instances): a scratch space to compile into.
    pub fn schema_of(&self, ns: &str) -> Repository {
        let mut r = Repository::default();
        if let Some(n) = self.namespace(ns) {
            let mut n = n.clone();
            n.instances.clear();
            r.namespaces.insert(lc(&n.name), n);
        }
        r
    }

    /// Adds the instances of `other`'s namespace `ns` that `self` does not
    /// have yet (same class and keys). Returns how many were added.
    pub fn merge_instances(&mut self, other: &Repository, ns: &str) -> usize {
        let (Some(src), Some(dst)) = (other.namespace(ns), self.namespace_mut(ns)) else { return 0 };
        let mut added = 0;
        for inst in &src.instances {
            let Some(class) = dst.class(&inst.class_name).cloned() else { continue };
            let path = inst.path(&class, None);
            let exists = dst
                .instances
                .iter()
                .any(|i| i.class_name.eq_ignore_ascii_case(&inst.class_name) && i.path(&class, None).same_instance(&path));
            if !exists {
                dst.instances.push(inst.clone());
                added += 1;
            }
        }
        added
    }

    /// Copies every qualifier declaration and class of `from` into `to`
    /// (classes already in `to` are kept). Classes are shared, not cloned.
    pub fn copy_schema(&mut self, from: &str, to: &str) {
        let Some(src) = self.namespace(from).cloned() else { return };
        let dst = self.create_namespace(to);
        for q in src.qualifier_decls() {
            if dst.qualifier_decl(&q.name).is_none() {
                dst.add_qualifier_decl(q.clone());
            }
        }
        for name in src.all_subclasses(None) {
            if dst.class(&name).is_none() {
                let c = src.class(&name).unwrap().clone();
                let parent_key = c.superclass.as_deref().map(lc).unwrap_or_default();
                dst.children.entry(parent_key).or_default().push(c.name.clone());
                dst.classes.insert(lc(&name), c);
            }
        }
    }
}

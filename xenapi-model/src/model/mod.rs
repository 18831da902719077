//! The one description of the XenAPI: classes, fields, enums, messages and errors.
//!
//! The description lives in two text files next to this crate (`model/datamodel.txt` and
//! `model/errors.txt`), compiled into the binary and parsed once. Everything else follows from
//! it: the dispatch table with the implicit accessors of every class, the SQLite schema, argument
//! type checking, `system.listMethods`, and the API reference (`xencim api-doc`).

mod parse;
mod types;

pub use types::Type;

use std::collections::HashMap;
use std::sync::OnceLock;

const DATAMODEL_TXT: &str = include_str!("../../model/datamodel.txt");
const ERRORS_TXT: &str = include_str!("../../model/errors.txt");

/// Who may change a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    /// Read/write: has `set_<f>`, settable in `create`.
    Rw,
    /// Read-only, settable only through the `create` record.
    RoConstructor,
    /// Read-only, maintained by the server.
    RoRuntime,
}

/// Where an item stands in the API's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Published,
    Deprecated,
    /// Still in records with its default; its getter and the message answer `MESSAGE_REMOVED`.
    Removed,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: Type,
    pub qualifier: Qualifier,
    /// `None` means the field must be given to `create` (for RW/RO_c fields); RO_r fields take
    /// the zero value of their type.
    pub default: Option<crate::Value>,
    pub required: bool,
    pub lifecycle: Lifecycle,
}

/// The least privileged role allowed to call a message (xapi's RBAC roles, lowest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    ReadOnly,
    VmOperator,
    VmAdmin,
    VmPowerAdmin,
    PoolOperator,
    PoolAdmin,
}

impl Role {
    pub fn wire_name(self) -> &'static str {
        match self {
            Role::ReadOnly => "read-only",
            Role::VmOperator => "vm-operator",
            Role::VmAdmin => "vm-admin",
            Role::VmPowerAdmin => "vm-power-admin",
            Role::PoolOperator => "pool-operator",
            Role::PoolAdmin => "pool-admin",
        }
    }

    pub fn from_wire_name(s: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.wire_name() == s)
    }

    pub const ALL: [Role; 6] = [
        Role::ReadOnly,
        Role::VmOperator,
        Role::VmAdmin,
        Role::VmPowerAdmin,
        Role::PoolOperator,
        Role::PoolAdmin,
    ];

    fn from_abbrev(s: &str) -> Option<Role> {
        Some(match s {
            "RO" => Role::ReadOnly,
            "VO" => Role::VmOperator,
            "VA" => Role::VmAdmin,
            "VPA" => Role::VmPowerAdmin,
            "PO" => Role::PoolOperator,
            "PA" => Role::PoolAdmin,
            // xapi's _R_LOCAL_ROOT_ONLY: no role, only the local superuser. Every user here is a
            // local account, and a pool-admin session is the local superuser
            // (`session.is_local_superuser`), so these need pool-admin.
            "LR" => Role::PoolAdmin,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub ty: Type,
    /// Server-side default; such parameters may be left off the end of the argument list.
    pub default: Option<crate::Value>,
}

#[derive(Debug, Clone)]
pub struct Message {
    pub name: String,
    pub params: Vec<Param>,
    pub result: Type,
    pub has_async: bool,
    pub needs_session: bool,
    pub role: Role,
    pub lifecycle: Lifecycle,
    pub errors: Vec<String>,
}

impl Message {
    /// Parameters that must be given (those before the first defaulted one).
    pub fn required_params(&self) -> usize {
        self.params.iter().take_while(|p| p.default.is_none()).count()
    }
}

#[derive(Debug, Clone)]
pub struct Class {
    pub name: String,
    pub fields: Vec<Field>,
    pub field_index: HashMap<String, usize>,
    /// The implicit messages this class has (get_all, get_record, create, ...).
    pub implicit: Vec<String>,
    pub setters: Vec<String>,
    pub map_ops: Vec<String>,
    pub set_ops: Vec<String>,
    pub messages: Vec<Message>,
    /// False for classes whose objects never appear in `event.from` / `event.next` (xapi's
    /// `gen_events:false`): sessions carry the refs that authenticate their holder, so no other
    /// caller may ever be sent one.
    pub gen_events: bool,
}

impl Class {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.field_index.get(name).map(|&i| &self.fields[i])
    }
    pub fn field_pos(&self, name: &str) -> Option<usize> {
        self.field_index.get(name).copied()
    }
    pub fn has_implicit(&self, name: &str) -> bool {
        self.implicit.iter().any(|m| m == name)
    }
    /// Whether objects of this class live in the store (everything but `event`).
    pub fn is_stored(&self) -> bool {
        self.name != "event"
    }
    /// Whether changes to objects of this class are delivered as events.
    pub fn has_events(&self) -> bool {
        self.is_stored() && self.gen_events
    }
    pub fn message(&self, name: &str) -> Option<&Message> {
        self.messages.iter().find(|m| m.name == name)
    }
    /// The field a declared message stores as a plain setter: `set_<field>(self, value)` with a
    /// value of the field's own type. The dispatcher serves such a message generically (unless
    /// an api module binds it to something with checks), so the generator gives it no trait
    /// method; both ask here.
    pub fn plain_setter_field(&self, m: &Message) -> Option<usize> {
        let pos = self.field_pos(m.name.strip_prefix("set_")?)?;
        match m.params.as_slice() {
            [this, value] if this.ty == Type::Ref(self.name.clone()) && value.ty == self.fields[pos].ty => Some(pos),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ErrorDecl {
    pub code: String,
    pub params: Vec<String>,
}

#[derive(Debug)]
pub struct Model {
    pub classes: Vec<Class>,
    class_index: HashMap<String, usize>,
    /// Lower-cased class name → class name (refs and event class names are case-insensitive).
    class_lower: HashMap<String, usize>,
    pub enums: HashMap<String, Vec<String>>,
    pub errors: Vec<ErrorDecl>,
    error_index: HashMap<String, usize>,
}

impl Model {
    pub fn class(&self, name: &str) -> Option<&Class> {
        self.class_index.get(name).map(|&i| &self.classes[i])
    }
    pub fn class_pos(&self, name: &str) -> Option<usize> {
        self.class_index.get(name).copied()
    }
    pub fn class_by_lower(&self, lower: &str) -> Option<&Class> {
        self.class_lower.get(&lower.to_ascii_lowercase()).map(|&i| &self.classes[i])
    }
    pub fn error(&self, code: &str) -> Option<&ErrorDecl> {
        self.error_index.get(code).map(|&i| &self.errors[i])
    }
    pub fn stored_classes(&self) -> impl Iterator<Item = &Class> {
        self.classes.iter().filter(|c| c.is_stored())
    }
}

/// The model, parsed on first use. A parse error is a bug in the checked-in text files, caught by
/// the unit tests, so it panics with the line at fault.
pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| match parse::parse(DATAMODEL_TXT, ERRORS_TXT) {
        Ok(m) => m,
        Err(e) => panic!("model/datamodel.txt or errors.txt is invalid: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_parses_with_all_core_classes() {
        let m = model();
        for c in [
            "session", "task", "event", "pool", "host", "host_cpu", "host_metrics", "VM", "VM_metrics",
            "VM_guest_metrics", "console", "VBD", "VBD_metrics", "VIF", "VIF_metrics", "VDI", "SR", "PBD",
            "network", "PIF", "PIF_metrics", "crashdump", "user", "message",
        ] {
            assert!(m.class(c).is_some(), "class {c} missing");
        }
    }

    #[test]
    fn vm_fields_have_types_qualifiers_and_defaults() {
        let vm = model().class("VM").unwrap();
        let f = vm.field("power_state").unwrap();
        assert_eq!(f.qualifier, Qualifier::RoConstructor);
        assert_eq!(f.ty, Type::Enum("vm_power_state".into()));
        assert_eq!(f.default, Some(crate::Value::String("Halted".into())));
        let f = vm.field("memory_static_max").unwrap();
        assert!(f.required);
        assert_eq!(f.ty, Type::Int);
        let f = vm.field("blocked_operations").unwrap();
        assert_eq!(
            f.ty,
            Type::Map(Box::new(Type::Enum("vm_operations".into())), Box::new(Type::String))
        );
        assert_eq!(vm.field("VCPUs_params").unwrap().qualifier, Qualifier::Rw);
        assert!(vm.has_implicit("create") && vm.has_implicit("get_by_name_label"));
        assert_eq!(model().enums["vm_power_state"], ["Halted", "Paused", "Running", "Suspended"]);
    }

    #[test]
    fn setters_listed_by_the_model_are_rw_fields_or_custom_messages() {
        for c in model().stored_classes() {
            for s in &c.setters {
                let f = c.field(s).unwrap_or_else(|| panic!("{}.{s} not a field", c.name));
                assert_eq!(f.qualifier, Qualifier::Rw, "{}.{s}", c.name);
            }
            for s in c.map_ops.iter() {
                assert!(matches!(c.field(s).unwrap().ty, Type::Map(..)), "{}.{s}", c.name);
            }
            for s in c.set_ops.iter() {
                assert!(matches!(c.field(s).unwrap().ty, Type::Set(..)), "{}.{s}", c.name);
            }
        }
    }

    #[test]
    fn login_has_defaulted_trailing_params() {
        let login = model().class("session").unwrap().message("login_with_password").unwrap();
        assert!(!login.needs_session);
        assert_eq!(login.params.len(), 4);
        assert_eq!(login.required_params(), 2);
    }

    #[test]
    fn credential_classes_make_no_events_and_local_root_messages_need_pool_admin() {
        let m = model();
        assert!(!m.class("session").unwrap().has_events());
        assert!(!m.class("user").unwrap().has_events());
        assert!(m.class("VM").unwrap().has_events() && m.class("task").unwrap().has_events());
        assert!(!m.class("event").unwrap().has_events());
        let host = m.class("host").unwrap();
        for msg in ["set_uefi_certificates", "set_sched_gran", "emergency_reset_server_certificate"] {
            assert_eq!(host.message(msg).unwrap().role, Role::PoolAdmin, "{msg}");
        }
        assert_eq!(m.class("session").unwrap().message("change_password").unwrap().role, Role::PoolAdmin);
        assert!(parse::parse("class x bogus_flag\n", "").is_err());
    }

    #[test]
    fn errors_have_parameter_names() {
        let e = model().error("VM_BAD_POWER_STATE").unwrap();
        assert_eq!(e.params, ["vm", "expected", "actual"]);
        assert_eq!(model().error("HANDLE_INVALID").unwrap().params, ["class", "handle"]);
    }

    #[test]
    fn every_error_a_message_declares_is_known_or_listed() {
        // Messages may name errors this server never raises; those stay declarations only.
        let m = model();
        let known: usize = m.classes.iter().flat_map(|c| &c.messages).flat_map(|x| &x.errors)
            .filter(|e| m.error(e).is_some()).count();
        assert!(known > 50);
    }
}

//! Reading the IPARAMVALUEs of an intrinsic call.

use crate::cimxml;
use crate::error::{CimError, CimResult};
use crate::model::ObjectPath;
use crate::xml::Element;

/// Case-insensitive access to the IPARAMVALUEs of one call.
pub struct Params<'a> {
    list: &'a [(String, Element)],
}

fn ivalue_text(el: &Element) -> Option<&str> {
    el.child("VALUE").map(|v| v.text.as_str())
}

impl<'a> Params<'a> {
    pub fn new(list: &'a [(String, Element)]) -> Self {
        Params { list }
    }
    pub(crate) fn get(&self, name: &str) -> Option<&'a Element> {
        self.list.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, e)| e)
    }
    /// Unknown parameter names are INVALID_PARAMETER (DSP0200 5.3.1).
    pub(crate) fn check(&self, allowed: &[&str]) -> CimResult<()> {
        for (n, _) in self.list {
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(n)) {
                return Err(CimError::invalid_parameter(format!("unknown parameter {n}")));
            }
        }
        Ok(())
    }
    pub(crate) fn bool(&self, name: &str, default: bool) -> CimResult<bool> {
        match self.get(name).and_then(ivalue_text) {
            None => Ok(default),
            Some(t) => match t.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(CimError::invalid_parameter(format!("{name}: '{t}' is not a boolean"))),
            },
        }
    }
    pub(crate) fn string(&self, name: &str) -> CimResult<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(e) if e.children.is_empty() => Ok(None),
            Some(e) => match ivalue_text(e) {
                Some(t) => Ok(Some(t.to_string())),
                None => Err(CimError::invalid_parameter(format!("{name}: expected a VALUE"))),
            },
        }
    }
    pub(crate) fn u32(&self, name: &str) -> CimResult<Option<u32>> {
        match self.string(name)? {
            None => Ok(None),
            Some(t) => t
                .trim()
                .parse::<u32>()
                .map(Some)
                .map_err(|_| CimError::invalid_parameter(format!("{name}: '{t}' is not a uint32"))),
        }
    }
    pub(crate) fn class_name(&self, name: &str) -> CimResult<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(e) if e.children.is_empty() => Ok(None),
            Some(e) => match e.child("CLASSNAME").and_then(|c| c.attr("NAME")) {
                Some(n) => Ok(Some(n.to_string())),
                None => Err(CimError::invalid_parameter(format!("{name}: expected a CLASSNAME"))),
            },
        }
    }
    pub(crate) fn required<T>(v: Option<T>, name: &str) -> CimResult<T> {
        v.ok_or_else(|| CimError::invalid_parameter(format!("parameter {name} is required")))
    }
    pub(crate) fn instance_name(&self, name: &str) -> CimResult<Option<ObjectPath>> {
        match self.get(name) {
            None => Ok(None),
            Some(e) => match e.child("INSTANCENAME") {
                Some(i) => cimxml::decode_instance_name(i).map(Some),
                None => Err(CimError::invalid_parameter(format!("{name}: expected an INSTANCENAME"))),
            },
        }
    }
    /// ObjectName: a CLASSNAME or an INSTANCENAME. Returns (path, is_class).
    pub(crate) fn object_name(&self, name: &str) -> CimResult<Option<(ObjectPath, bool)>> {
        match self.get(name) {
            None => Ok(None),
            Some(e) => {
                if let Some(c) = e.child("CLASSNAME").and_then(|c| c.attr("NAME")) {
                    Ok(Some((ObjectPath::new(c), true)))
                } else if let Some(i) = e.child("INSTANCENAME") {
                    Ok(Some((cimxml::decode_instance_name(i)?, false)))
                } else {
                    Err(CimError::invalid_parameter(format!("{name}: expected a CLASSNAME or INSTANCENAME")))
                }
            }
        }
    }
    pub(crate) fn property_list(&self) -> CimResult<Option<Vec<String>>> {
        match self.get("PropertyList") {
            None => Ok(None),
            Some(e) if e.children.is_empty() => Ok(None),
            Some(e) => match e.child("VALUE.ARRAY") {
                Some(a) => Ok(Some(a.children_named("VALUE").map(|v| v.text.trim().to_string()).collect())),
                None => Err(CimError::invalid_parameter("PropertyList: expected a VALUE.ARRAY")),
            },
        }
    }
}


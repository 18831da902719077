//! Extrinsic method calls (METHODCALL on an instance or class path).
//!
//! ```text
//! <METHODCALL NAME="Bump"><LOCALINSTANCEPATH>..</LOCALINSTANCEPATH>
//!   <PARAMVALUE NAME="By" PARAMTYPE="uint32"><VALUE>3</VALUE></PARAMVALUE></METHODCALL>
//! ```


use super::Broker;
use crate::cimxml::{self};
use crate::error::{self, CimError, CimResult};
use crate::model::*;
use crate::provider::{guarded, Caller, Context};
use crate::xml::XmlOut;
use crate::provider::ParamValue;
use crate::xml::Element;

impl Broker {
    /// Runs an extrinsic method call; returns the METHODRESPONSE content.
    pub fn extrinsic(
        &self,
        method: &str,
        namespace: &str,
        target: &ObjectPath,
        params: &[(String, Element)],
        caller: Option<&Caller>,
    ) -> CimResult<String> {
        let ctx = Context::of(crate::repo::normalize_ns(namespace), caller);
        let class = self.class(&ctx.namespace, &target.class_name)?;
        let m = class
            .method(method)
            .ok_or_else(|| CimError::new(error::METHOD_NOT_FOUND, format!("class {} has no method {method}", class.name)))?
            .clone();
        let mut inputs: Vec<ParamValue> = Vec::new();
        for (name, el) in params {
            let def = m
                .parameters
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| CimError::invalid_parameter(format!("method {} has no parameter {name}", m.name)))?;
            let raw = cimxml::raw_value(el)?;
            if let Some(t) = el.attr("PARAMTYPE").and_then(CimType::parse) {
                if t != def.ty {
                    return Err(CimError::invalid_parameter(format!("parameter {}: sent as {t}, declared {}", def.name, def.ty)));
                }
            }
            let v = cimxml::type_raw(&raw, def.ty, def.is_array, &format!("parameter {}", def.name))?;
            inputs.push(PropertyValue { name: def.name.clone(), ty: def.ty, is_array: def.is_array, reference_class: def.reference_class.clone(), value: v });
        }
        let prov = self
            .registered_provider_for(&ctx.namespace, &class)
            .ok_or_else(|| CimError::not_supported(format!("no provider serves methods of {}", class.name)))?;
        let mut tp = target.clone();
        tp.namespace = Some(ctx.namespace.clone());
        let res = guarded("InvokeMethod", || prov.invoke_method(&ctx, &class, &tp, &m, inputs))?;
        let mut o = XmlOut::new();
        if let Some(v) = &res.return_value {
            o.open("RETURNVALUE", &[("PARAMTYPE", m.return_type.as_str())]);
            cimxml::write_value(&mut o, v);
            o.close("RETURNVALUE");
        }
        for op in &res.out_params {
            let ty = m.parameters.iter().find(|p| p.name.eq_ignore_ascii_case(&op.name)).map(|p| p.ty).unwrap_or(op.ty);
            o.open("PARAMVALUE", &[("NAME", &op.name), ("PARAMTYPE", ty.as_str())]);
            if let Some(v) = &op.value {
                cimxml::write_value(&mut o, v);
            }
            o.close("PARAMVALUE");
        }
        Ok(o.buf)
    }
}

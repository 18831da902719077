//! Instance operations: GetInstance, EnumerateInstances(+Names),
//! CreateInstance, ModifyInstance, DeleteInstance, GetProperty, SetProperty.
//!
//! ```text
//! <IMETHODCALL NAME="GetInstance">..<IPARAMVALUE NAME="InstanceName"><INSTANCENAME CLASSNAME="X">..
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use super::{prune, Broker, Params};
use crate::cimxml::{self, ObjectFilter};
use crate::error::{self, CimError, CimResult};
use crate::model::*;
use crate::provider::{guarded, Context};
use crate::xml::XmlOut;

impl Broker {
    pub(crate) fn get_instance(&self, ctx: &Context, p: &Params, o: &mut XmlOut) -> CimResult<()> {
        p.check(&["InstanceName", "LocalOnly", "IncludeQualifiers", "IncludeClassOrigin", "PropertyList"])?;
        let path = Params::required(p.instance_name("InstanceName")?, "InstanceName")?;
        let plist = p.property_list()?;
        let include_qualifiers = p.bool("IncludeQualifiers", false)?;
        let include_class_origin = p.bool("IncludeClassOrigin", false)?;
        p.bool("LocalOnly", false)?;
        let (class, mut inst) = self.get_instance_routed(ctx, &path)?;
        prune(&mut inst, plist.as_deref(), None);
        let ic = self.class(&ctx.namespace, &inst.class_name).unwrap_or(class);
        let f = ObjectFilter { local_only: false, include_qualifiers, include_class_origin, property_list: None };
        cimxml::write_instance(o, &inst, Some(&ic), &f);
        Ok(())
    }

    pub(crate) fn enumerate_instances(&self, ctx: &Context, p: &Params, o: &mut XmlOut, names_only: bool) -> CimResult<()> {
        if names_only {
            p.check(&["ClassName"])?;
        } else {
            p.check(&["ClassName", "LocalOnly", "DeepInheritance", "IncludeQualifiers", "IncludeClassOrigin", "PropertyList"])?;
        }
        let cn = Params::required(p.class_name("ClassName")?, "ClassName")?;
        let deep = p.bool("DeepInheritance", true)?;
        let plist = p.property_list()?;
        let include_qualifiers = p.bool("IncludeQualifiers", false)?;
        let include_class_origin = p.bool("IncludeClassOrigin", false)?;
        // LocalOnly is deprecated (DSP0200 5.3.2.11); servers treat it as false.
        p.bool("LocalOnly", true)?;
        let requested = self.class(&ctx.namespace, &cn)?;
        if names_only {
            for mut path in self.enumerate_names(ctx, &cn)? {
                path.namespace = None;
                cimxml::write_instance_name(o, &path);
            }
            return Ok(());
        }
        let items = self.enumerate(ctx, &cn, true)?;
        let f = ObjectFilter { local_only: false, include_qualifiers, include_class_origin, property_list: None };
        let mut class_cache: HashMap<String, Arc<Class>> = HashMap::new();
        for (mut path, mut inst) in items {
            prune(&mut inst, plist.as_deref(), if deep { None } else { Some(&requested) });
            let ic = class_cache
                .entry(inst.class_name.to_ascii_lowercase())
                .or_insert_with(|| self.class(&ctx.namespace, &inst.class_name).unwrap_or(requested.clone()))
                .clone();
            path.namespace = None;
            o.open("VALUE.NAMEDINSTANCE", &[]);
            cimxml::write_instance_name(o, &path);
            cimxml::write_instance(o, &inst, Some(&ic), &f);
            o.close("VALUE.NAMEDINSTANCE");
        }
        Ok(())
    }

    pub(crate) fn create_instance(&self, ctx: &Context, p: &Params, o: &mut XmlOut) -> CimResult<()> {
        p.check(&["NewInstance"])?;
        let el = p.get("NewInstance").and_then(|e| e.child("INSTANCE")).ok_or_else(|| CimError::invalid_parameter("NewInstance: expected an INSTANCE"))?;
        let raw = cimxml::decode_instance(el)?;
        let class = self.class(&ctx.namespace, &raw.class_name)?;
        if class.is_abstract() {
            return Err(CimError::invalid_parameter(format!("class {} is abstract", class.name)));
        }
        let inst = cimxml::type_instance(&raw, &class)?;
        let subscription = self.indications.is_subscription_class(self, &ctx.namespace, &class.name);
        if subscription {
            self.indications.validate(self, &class, &inst, ctx.principal.as_deref())?;
        }
        let prov = self.provider_for(&ctx.namespace, &class);
        let mut path = guarded("CreateInstance", || prov.create_instance(ctx, &class, inst))?;
        if subscription {
            self.indications.refresh(self);
        }
        path.namespace = None;
        path.host = None;
        cimxml::write_instance_name(o, &path);
        Ok(())
    }

    pub(crate) fn modify_instance(&self, ctx: &Context, p: &Params) -> CimResult<()> {
        p.check(&["ModifiedInstance", "IncludeQualifiers", "PropertyList"])?;
        let ni = p
            .get("ModifiedInstance")
            .and_then(|e| e.child("VALUE.NAMEDINSTANCE"))
            .ok_or_else(|| CimError::invalid_parameter("ModifiedInstance: expected a VALUE.NAMEDINSTANCE"))?;
        let path = cimxml::decode_instance_name(ni.child("INSTANCENAME").ok_or_else(|| CimError::invalid_parameter("ModifiedInstance: INSTANCENAME missing"))?)?;
        let raw = cimxml::decode_instance(ni.child("INSTANCE").ok_or_else(|| CimError::invalid_parameter("ModifiedInstance: INSTANCE missing"))?)?;
        p.bool("IncludeQualifiers", true)?;
        let plist = p.property_list()?;
        let class = self.class(&ctx.namespace, &path.class_name)?;
        if let Some(l) = &plist {
            for n in l {
                if class.property(n).is_none() {
                    return Err(CimError::invalid_parameter(format!("PropertyList names unknown property {n}")));
                }
            }
        }
        let mut inst = cimxml::type_instance(&raw, &class)?;
        prune(&mut inst, plist.as_deref(), None);
        let prov = self.provider_for(&ctx.namespace, &class);
        guarded("ModifyInstance", || prov.modify_instance(ctx, &class, &path, inst))?;
        self.subscription_changed(ctx, &class.name);
        Ok(())
    }

    /// DeleteInstance(InstanceName)
    pub(crate) fn delete_instance(&self, ctx: &Context, p: &Params) -> CimResult<()> {
        p.check(&["InstanceName"])?;
        let path = Params::required(p.instance_name("InstanceName")?, "InstanceName")?;
        let class = self.class(&ctx.namespace, &path.class_name)?;
        let prov = self.provider_for(&ctx.namespace, &class);
        guarded("DeleteInstance", || prov.delete_instance(ctx, &class, &path))?;
        self.subscription_changed(ctx, &class.name);
        Ok(())
    }

    /// GetProperty(InstanceName, PropertyName): `<VALUE>` or nothing for NULL.
    pub(crate) fn get_property(&self, ctx: &Context, p: &Params, o: &mut XmlOut) -> CimResult<()> {
        p.check(&["InstanceName", "PropertyName"])?;
        let path = Params::required(p.instance_name("InstanceName")?, "InstanceName")?;
        let pn = Params::required(p.string("PropertyName")?, "PropertyName")?;
        let (class, inst) = self.get_instance_routed(ctx, &path)?;
        if class.property(&pn).is_none() {
            return Err(CimError::new(error::NO_SUCH_PROPERTY, format!("class {} has no property {pn}", class.name)));
        }
        if let Some(v) = inst.get_value(&pn) {
            cimxml::write_value(o, v);
        }
        Ok(())
    }

    /// SetProperty(InstanceName, PropertyName, NewValue): a ModifyInstance of one property.
    pub(crate) fn set_property(&self, ctx: &Context, p: &Params) -> CimResult<()> {
        p.check(&["InstanceName", "PropertyName", "NewValue"])?;
        let path = Params::required(p.instance_name("InstanceName")?, "InstanceName")?;
        let pn = Params::required(p.string("PropertyName")?, "PropertyName")?;
        let class = self.class(&ctx.namespace, &path.class_name)?;
        let def = class
            .property(&pn)
            .ok_or_else(|| CimError::new(error::NO_SUCH_PROPERTY, format!("class {} has no property {pn}", class.name)))?;
        let raw = match p.get("NewValue") {
            Some(e) => cimxml::raw_value(e)?,
            None => cimxml::RawValue::Null,
        };
        let v = cimxml::type_raw(&raw, def.ty, def.is_array, &format!("NewValue for {pn}"))?;
        let mut mi = Instance::new(class.name.clone());
        mi.properties.push(PropertyValue { name: def.name.clone(), ty: def.ty, is_array: def.is_array, reference_class: def.reference_class.clone(), value: v });
        let prov = self.provider_for(&ctx.namespace, &class);
        guarded("SetProperty", || prov.modify_instance(ctx, &class, &path, mi))?;
        self.subscription_changed(ctx, &class.name);
        Ok(())
    }
}

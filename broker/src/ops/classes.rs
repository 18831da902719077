//! Class and qualifier operations: GetClass, EnumerateClasses,
//! EnumerateClassNames, EnumerateQualifiers, GetQualifier.
//!
//! ```text
//! <IMETHODCALL NAME="GetClass">..<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="CIM_System"/></IPARAMVALUE>
//! ```


use super::{Broker, Params};
use crate::cimxml::{self, ObjectFilter};
use crate::error::{CimError, CimResult};
use crate::provider::Context;
use crate::xml::XmlOut;

impl Broker {
    pub(crate) fn get_class(&self, ctx: &Context, p: &Params, o: &mut XmlOut) -> CimResult<()> {
        p.check(&["ClassName", "LocalOnly", "IncludeQualifiers", "IncludeClassOrigin", "PropertyList"])?;
        let cn = Params::required(p.class_name("ClassName")?, "ClassName")?;
        let plist = p.property_list()?;
        let f = ObjectFilter {
            local_only: p.bool("LocalOnly", true)?,
            include_qualifiers: p.bool("IncludeQualifiers", true)?,
            include_class_origin: p.bool("IncludeClassOrigin", false)?,
            property_list: plist.as_deref(),
        };
        let c = self.class(&ctx.namespace, &cn).map_err(|_| CimError::not_found(format!("class {cn} does not exist")))?;
        cimxml::write_class(o, &c, &f);
        Ok(())
    }

    pub(crate) fn enumerate_classes(&self, ctx: &Context, p: &Params, o: &mut XmlOut, names_only: bool) -> CimResult<()> {
        if names_only {
            p.check(&["ClassName", "DeepInheritance"])?;
        } else {
            p.check(&["ClassName", "DeepInheritance", "LocalOnly", "IncludeQualifiers", "IncludeClassOrigin"])?;
        }
        let cn = p.class_name("ClassName")?;
        let deep = p.bool("DeepInheritance", false)?;
        let f = ObjectFilter {
            local_only: p.bool("LocalOnly", true)?,
            include_qualifiers: p.bool("IncludeQualifiers", true)?,
            include_class_origin: p.bool("IncludeClassOrigin", false)?,
            property_list: None,
        };
        self.with_ns(&ctx.namespace, |n| {
            if let Some(c) = &cn {
                if n.class(c).is_none() {
                    return Err(CimError::invalid_class(c));
                }
            }
            let names: Vec<String> = if deep { n.all_subclasses(cn.as_deref()) } else { n.direct_subclasses(cn.as_deref()).to_vec() };
            for name in names {
                if names_only {
                    o.empty("CLASSNAME", &[("NAME", &name)]);
                } else if let Some(c) = n.class(&name) {
                    cimxml::write_class(o, c, &f);
                }
            }
            Ok(())
        })
    }

    /// EnumerateQualifiers(): every QUALIFIER.DECLARATION of the namespace.
    pub(crate) fn enumerate_qualifiers(&self, ctx: &Context, p: &Params, o: &mut XmlOut) -> CimResult<()> {
        p.check(&[])?;
        self.with_ns(&ctx.namespace, |n| {
            n.qualifier_decls().for_each(|d| cimxml::write_qualifier_decl(o, d));
            Ok(())
        })
    }

    /// GetQualifier(QualifierName)
    pub(crate) fn get_qualifier(&self, ctx: &Context, p: &Params, o: &mut XmlOut) -> CimResult<()> {
        p.check(&["QualifierName"])?;
        let qn = Params::required(p.string("QualifierName")?, "QualifierName")?;
        self.with_ns(&ctx.namespace, |n| {
            let d = n.qualifier_decl(&qn).ok_or_else(|| CimError::not_found(format!("qualifier {qn} is not declared")))?;
            cimxml::write_qualifier_decl(o, d);
            Ok(())
        })
    }
}

//! ExecQuery (WQL), also used by OpenQueryInstances.
//!
//! ```text
//! <IPARAMVALUE NAME="QueryLanguage"><VALUE>WQL</VALUE></IPARAMVALUE>
//! <IPARAMVALUE NAME="Query"><VALUE>SELECT * FROM X WHERE N &gt; 1</VALUE></IPARAMVALUE>
//! ```


use std::sync::PoisonError;

use super::{prune, Broker, Params};
use crate::cimxml::ObjectFilter;
use crate::error::{self, CimError, CimResult};
use crate::model::*;
use crate::provider::Context;
use crate::xml::XmlOut;

impl Broker {
    pub(crate) fn exec_query(&self, ctx: &Context, p: &Params, o: &mut XmlOut) -> CimResult<()> {
        p.check(&["QueryLanguage", "Query"])?;
        let lang = Params::required(p.string("QueryLanguage")?, "QueryLanguage")?;
        let qtext = Params::required(p.string("Query")?, "Query")?;
        let f = ObjectFilter::default();
        for (path, inst) in self.query(ctx, &lang, &qtext)? {
            self.write_object(o, &ctx.namespace, path, Some(inst), false, &f);
        }
        Ok(())
    }

    /// Runs a WQL query: the instances selected, with the selected properties.
    pub fn query(&self, ctx: &Context, lang: &str, qtext: &str) -> CimResult<Vec<(ObjectPath, Instance)>> {
        if !lang.eq_ignore_ascii_case("WQL") && !lang.eq_ignore_ascii_case("DMTF:CQL") {
            return Err(CimError::new(error::QUERY_LANGUAGE_NOT_SUPPORTED, format!("query language {lang} is not supported")));
        }
        let q = crate::wql::parse(qtext).map_err(|e| CimError::new(error::INVALID_QUERY, e))?;
        let class = self.class(&ctx.namespace, &q.class).map_err(|_| CimError::new(error::INVALID_QUERY, format!("class {} does not exist", q.class)))?;
        if let Some(props) = &q.properties {
            for pn in props {
                if class.property(pn).is_none() {
                    return Err(CimError::new(error::INVALID_QUERY, format!("class {} has no property {pn}", class.name)));
                }
            }
        }
        let items = self.enumerate(ctx, &q.class, true)?;
        let repo = self.repo.read().unwrap_or_else(PoisonError::into_inner);
        let n = repo.namespace(&ctx.namespace).ok_or_else(|| CimError::invalid_namespace(&ctx.namespace))?;
        let isa = |c: &str, a: &str| n.is_subclass_of(c, a);
        let mut matched = Vec::new();
        for (path, mut inst) in items {
            if let Some(c) = &q.condition {
                if !crate::wql::eval(c, &inst, &isa) {
                    continue;
                }
            }
            prune(&mut inst, q.properties.as_deref(), None);
            matched.push((path, inst));
        }
        Ok(matched)
    }
}

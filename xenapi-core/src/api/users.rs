//! Local users: a `user` object in the API plus a credential (name, role, password hash) that
//! only the store sees. `root` is created on first start; more users come from `xencim user add`.

use crate::error::ApiError;
use crate::model::{model, Role};
use crate::store::{new_ref, new_uuid, Credential, Record, Store};
use crate::value::Value;

/// Creates a user, or resets the password and role of an existing one.
pub fn put_user(store: &Store, name: &str, fullname: &str, role: Role, password: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::new("INVALID_VALUE", ["name", name]));
    }
    let hash = crate::auth::hash_password(password).map_err(ApiError::internal)?;
    let user_ref = match store.credential(name)? {
        Some(c) if store.read().get("user", &c.user_ref).is_some() => c.user_ref,
        _ => {
            let c = model().class("user").unwrap();
            let mut rec = Record::new_default(c);
            rec.set(c, "uuid", Value::str(new_uuid()));
            rec.set(c, "short_name", Value::str(name));
            rec.set(c, "fullname", Value::str(fullname));
            let r = new_ref();
            store.write(|tx| {
                tx.put("user", &r, rec);
                Ok(())
            })?;
            r
        }
    };
    store.put_credential(&Credential {
        name: name.to_string(),
        user_ref,
        role: role.wire_name().to_string(),
        password_hash: hash,
    })
}

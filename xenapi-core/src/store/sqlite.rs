//! The SQLite side of the store: one table per stored class of the model
//! (`obj_<class>(ref PRIMARY KEY, uuid, name_label, record JSON)`, indexed by uuid and
//! name_label), a `meta` table with the schema version and the change generation, and the
//! credentials of local users (never exposed through the API).

use super::{Record, Staged, Table, Tables};
use crate::model::{model, Class};
use crate::rpc::WireValue;
use crate::value::Value;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Arc;

/// Bumped whenever the on-disk layout changes in a way older code cannot read.
pub const SCHEMA_VERSION: i64 = 1;

pub struct Db {
    conn: Connection,
}

/// A local user's login secret: an argon2 PHC string, never the password itself.
#[derive(Debug, Clone)]
pub struct Credential {
    pub name: String,
    pub user_ref: String,
    pub role: String,
    pub password_hash: String,
}

fn table_name(c: &Class) -> String {
    format!("\"obj_{}\"", c.name)
}

impl Db {
    pub fn open(path: &Path) -> Result<Db, String> {
        // Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files it makes the
        // database file's mode, so all three stay private whatever the umask (see state_dir).
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(crate::state_dir::FILE_MODE)
                .open(path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        }
        let conn = Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        // WAL: readers do not block the writer; synchronous=FULL: a commit is on disk before the
        // reply, so an acknowledged change survives a crash of the process or of the machine.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS credentials (
                 name TEXT PRIMARY KEY, user_ref TEXT NOT NULL, role TEXT NOT NULL,
                 password_hash TEXT NOT NULL);",
        )
        .map_err(|e| format!("cannot initialise {}: {e}", path.display()))?;
        let version: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key='schema_version'", [], |r| r.get(0))
            .optional()
            .map_err(|e| e.to_string())?;
        match version.as_deref().map(str::parse::<i64>) {
            None => {
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema_version', ?1), ('generation', '0')",
                    params![SCHEMA_VERSION.to_string()],
                )
                .map_err(|e| e.to_string())?;
            }
            Some(Ok(v)) if v == SCHEMA_VERSION => {}
            Some(v) => {
                return Err(format!(
                    "{} has schema version {v:?}; this xencim understands version {SCHEMA_VERSION}",
                    path.display()
                ))
            }
        }
        for c in model().stored_classes() {
            let t = table_name(c);
            conn.execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS {t} (ref TEXT PRIMARY KEY, uuid TEXT, name_label TEXT, record TEXT NOT NULL);
                 CREATE INDEX IF NOT EXISTS \"idx_{n}_uuid\" ON {t}(uuid);
                 CREATE INDEX IF NOT EXISTS \"idx_{n}_name\" ON {t}(name_label);",
                n = c.name
            ))
            .map_err(|e| format!("cannot create table for {}: {e}", c.name))?;
        }
        Ok(Db { conn })
    }

    /// Every object of every class, and the last change generation.
    pub fn load_all(&self) -> Result<(Tables, u64), String> {
        let mut tables = Vec::new();
        for c in &model().classes {
            let mut table = Table::default();
            if c.is_stored() {
                let mut stmt = self
                    .conn
                    .prepare(&format!("SELECT ref, record FROM {}", table_name(c)))
                    .map_err(|e| e.to_string())?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                    .map_err(|e| e.to_string())?;
                for row in rows {
                    let (r, json) = row.map_err(|e| e.to_string())?;
                    let rec = decode_record(c, &json).map_err(|e| format!("{} {r}: {e}", c.name))?;
                    table.index(c, &r, &rec);
                    table.objects.insert(r, Arc::new(rec));
                }
            }
            tables.push(table);
        }
        let generation: String = self
            .conn
            .query_row("SELECT value FROM meta WHERE key='generation'", [], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        Ok((Tables { tables }, generation.parse().map_err(|_| "bad generation in meta")?))
    }

    pub(super) fn commit(&mut self, staged: &[Staged], generation: u64) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        for s in staged {
            let c = &model().classes[s.class];
            match &s.record {
                Some(rec) => {
                    let uuid = c.field_pos("uuid").map(|_| rec.str(c, "uuid").to_string());
                    let name = c.field_pos("name_label").map(|_| rec.str(c, "name_label").to_string());
                    tx.prepare_cached(&format!(
                        "INSERT OR REPLACE INTO {}(ref, uuid, name_label, record) VALUES (?1, ?2, ?3, ?4)",
                        table_name(c)
                    ))?
                    .execute(params![s.obj_ref, uuid, name, encode_record(c, rec)])?;
                }
                None => {
                    tx.prepare_cached(&format!("DELETE FROM {} WHERE ref = ?1", table_name(c)))?
                        .execute(params![s.obj_ref])?;
                }
            }
        }
        tx.execute("UPDATE meta SET value = ?1 WHERE key = 'generation'", params![generation.to_string()])?;
        tx.commit()
    }

    pub fn credential(&self, name: &str) -> Result<Option<Credential>, String> {
        self.conn
            .query_row(
                "SELECT name, user_ref, role, password_hash FROM credentials WHERE name = ?1",
                params![name],
                |r| Ok(Credential { name: r.get(0)?, user_ref: r.get(1)?, role: r.get(2)?, password_hash: r.get(3)? }),
            )
            .optional()
            .map_err(|e| e.to_string())
    }

    pub fn put_credential(&self, c: &Credential) -> Result<(), String> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO credentials(name, user_ref, role, password_hash) VALUES (?1, ?2, ?3, ?4)",
                params![c.name, c.user_ref, c.role, c.password_hash],
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// A record as a JSON object of its fields, in the JSON-RPC encoding.
fn encode_record(c: &Class, rec: &Record) -> String {
    let obj: serde_json::Map<String, serde_json::Value> = c
        .fields
        .iter()
        .zip(&rec.fields)
        .map(|(f, v)| (f.name.clone(), crate::rpc::jsonrpc::to_json(v)))
        .collect();
    serde_json::Value::Object(obj).to_string()
}

/// The inverse of `encode_record`. Fields added to the model since the row was written take
/// their defaults; fields no longer in the model are dropped.
fn decode_record(c: &Class, json: &str) -> Result<Record, String> {
    let j: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let obj = j.as_object().ok_or("record is not an object")?;
    let mut rec = Record::new_default(c);
    for (i, f) in c.fields.iter().enumerate() {
        if let Some(v) = obj.get(&f.name) {
            let wire = crate::rpc::jsonrpc::to_wire(v, 0).map_err(|e| e.0)?;
            rec.fields[i] = Value::from_stored(wire, &f.ty, &f.name).map_err(|e| format!("field {}: {e}", f.name))?;
        }
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// The database and the -wal and -shm files SQLite makes beside it are private even when the
    /// process's umask would let others read new files.
    #[test]
    fn database_files_are_private_whatever_the_umask() {
        // SAFETY: umask only sets the mask; a looser one for the rest of this test process only
        // widens what other tests create, which none of them checks.
        let old = unsafe { libc::umask(0o022) };
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("xapi.db");
        let mut db = Db::open(&path).unwrap();
        db.commit(&[], 1).unwrap();
        for name in ["xapi.db", "xapi.db-wal", "xapi.db-shm"] {
            let mode = std::fs::metadata(t.path().join(name)).unwrap().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name} has mode {mode:o}");
        }
        unsafe { libc::umask(old) };
    }
}

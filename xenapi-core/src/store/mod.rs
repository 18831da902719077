//! The object store: every object of every stored class, by class and ref.
//!
//! Reads are served from memory. Writes run in a [`Tx`] (one per API call): changes are staged,
//! committed to SQLite in one transaction, and only then applied to memory and published to the
//! change feed, so an acknowledged change is durable and readers never see a change that could
//! still be lost. Writers are serialised; readers never wait for the disk.

mod repair;
mod sqlite;

pub use repair::repair_unreadable_strings;

use crate::error::ApiError;
use crate::model::{model, Class, Qualifier};
use crate::value::Value;
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

pub use sqlite::Credential;

/// The row type lives in the model crate (a `Value::Record` holds one); the store's API keeps it.
pub use crate::value::Record;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Mod,
    Del,
}

impl Op {
    pub fn wire_name(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Mod => "mod",
            Op::Del => "del",
        }
    }
}

/// One committed change, in commit order; `generation` increases by one per changed object and
/// never goes back, across restarts too.
#[derive(Debug, Clone)]
pub struct Change {
    pub generation: u64,
    pub class: usize,
    pub obj_ref: String,
    pub op: Op,
    /// The record after the change: none for `Del`, and none once the change is older than
    /// the snapshot window (then the current record stands for it).
    pub snapshot: Option<Arc<Record>>,
}

#[derive(Default)]
pub struct Table {
    pub objects: HashMap<String, Arc<Record>>,
    by_uuid: HashMap<String, String>,
    by_name: HashMap<String, Vec<String>>,
}

impl Table {
    pub fn by_uuid(&self, uuid: &str) -> Option<&str> {
        self.by_uuid.get(uuid).map(String::as_str)
    }
    pub fn by_name_label(&self, name: &str) -> &[String] {
        self.by_name.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
    fn index(&mut self, class: &Class, r: &str, rec: &Record) {
        if class.field_pos("uuid").is_some() {
            self.by_uuid.insert(rec.str(class, "uuid").to_string(), r.to_string());
        }
        if class.field_pos("name_label").is_some() {
            self.by_name.entry(rec.str(class, "name_label").to_string()).or_default().push(r.to_string());
        }
    }
    fn unindex(&mut self, class: &Class, r: &str, rec: &Record) {
        if class.field_pos("uuid").is_some() {
            self.by_uuid.remove(rec.str(class, "uuid"));
        }
        if class.field_pos("name_label").is_some() {
            let name = rec.str(class, "name_label");
            if let Some(v) = self.by_name.get_mut(name) {
                v.retain(|x| x != r);
                if v.is_empty() {
                    self.by_name.remove(name);
                }
            }
        }
    }
}

/// Every table, indexed like `model().classes`.
pub struct Tables {
    pub tables: Vec<Table>,
}

impl Tables {
    pub fn table(&self, class: &str) -> &Table {
        &self.tables[model().class_pos(class).unwrap_or_else(|| panic!("no class {class}"))]
    }
    pub fn get(&self, class: &str, r: &str) -> Option<&Arc<Record>> {
        self.table(class).objects.get(r)
    }
}

/// How many committed changes the feed keeps for event readers that fall behind.
const FEED_CAPACITY: usize = 100_000;
/// How many of the newest changes keep the record as it was after them. Older ones let go of it
/// (readers then see the current record), so memory does not grow with churn.
const SNAPSHOT_WINDOW: usize = 4096;

pub struct Feed {
    pub changes: VecDeque<Change>,
    /// Generation when the store was opened: changes up to it are not in `changes`.
    pub base: u64,
    /// Generation of the last committed change.
    pub generation: u64,
}

pub struct Store {
    tables: RwLock<Tables>,
    db: Mutex<sqlite::Db>,
    feed: Mutex<Feed>,
    /// Woken after every commit (event.from long-polls wait on it).
    pub committed: tokio::sync::Notify,
    /// Bumped by every change of a credential, so that what was derived from one (the CIM
    /// broker's record of checked passwords) can tell it is stale without reading the database.
    credentials_changed: std::sync::atomic::AtomicU64,
}

impl Store {
    /// Opens (creating if needed) the store under `dir`, and loads every object into memory.
    pub fn open(dir: &Path) -> Result<Store, String> {
        let db = sqlite::Db::open(&dir.join("xapi.db"))?;
        let (tables, generation) = db.load_all()?;
        Ok(Store {
            tables: RwLock::new(tables),
            db: Mutex::new(db),
            feed: Mutex::new(Feed { changes: VecDeque::new(), base: generation, generation }),
            committed: tokio::sync::Notify::new(),
            credentials_changed: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Read access to the current committed state.
    pub fn read(&self) -> RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn feed(&self) -> std::sync::MutexGuard<'_, Feed> {
        self.feed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` as one transaction. Its changes are committed to disk before this returns `Ok`;
    /// on `Err` nothing is changed.
    pub fn write<R>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<R, ApiError>) -> Result<R, ApiError> {
        let mut db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        let (result, staged) = {
            let base = self.read();
            let mut tx = Tx { base: &base, staged: Vec::new(), pos: HashMap::new() };
            let r = f(&mut tx)?;
            (r, tx.staged)
        };
        if staged.is_empty() {
            return Ok(result);
        }
        let start_gen = self.feed().generation;
        let end_gen = start_gen + staged.len() as u64;
        db.commit(&staged, end_gen)
            .map_err(|e| ApiError::internal(format!("database write failed: {e}")))?;
        let mut tables = self.tables.write().unwrap_or_else(|p| p.into_inner());
        let mut feed = self.feed();
        for (i, s) in staged.into_iter().enumerate() {
            let class = &model().classes[s.class];
            let table = &mut tables.tables[s.class];
            let old = table.objects.remove(&s.obj_ref);
            if let Some(old) = &old {
                table.unindex(class, &s.obj_ref, old);
            }
            let op = match (&old, &s.record) {
                (None, Some(_)) => Op::Add,
                (Some(_), Some(_)) => Op::Mod,
                (_, None) => Op::Del,
            };
            if let Some(rec) = &s.record {
                table.index(class, &s.obj_ref, rec);
                table.objects.insert(s.obj_ref.clone(), rec.clone());
            }
            let change = Change {
                generation: start_gen + 1 + i as u64,
                class: s.class,
                obj_ref: s.obj_ref,
                op,
                snapshot: s.record,
            };
            if feed.changes.len() == FEED_CAPACITY {
                feed.changes.pop_front();
            }
            feed.changes.push_back(change);
            let len = feed.changes.len();
            if len > SNAPSHOT_WINDOW {
                feed.changes[len - SNAPSHOT_WINDOW - 1].snapshot = None;
            }
        }
        feed.generation = end_gen;
        drop(feed);
        drop(tables);
        self.committed.notify_waiters();
        Ok(result)
    }

    pub fn credential(&self, name: &str) -> Result<Option<Credential>, ApiError> {
        self.db.lock().unwrap_or_else(|p| p.into_inner()).credential(name).map_err(ApiError::internal)
    }

    pub fn put_credential(&self, c: &Credential) -> Result<(), ApiError> {
        let r = self.db.lock().unwrap_or_else(|p| p.into_inner()).put_credential(c).map_err(ApiError::internal);
        self.credentials_changed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        r
    }

    /// Changes with every [`Store::put_credential`] (a password or role set) in this process.
    pub fn credentials_generation(&self) -> u64 {
        self.credentials_changed.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A staged write: the new record of an object, or `None` to delete it.
pub(crate) struct Staged {
    class: usize,
    obj_ref: String,
    record: Option<Arc<Record>>,
}

/// A transaction: reads see the committed state plus this transaction's own changes.
pub struct Tx<'a> {
    base: &'a Tables,
    staged: Vec<Staged>,
    /// (class, ref) → index into `staged`.
    pos: HashMap<(usize, String), usize>,
}

impl Tx<'_> {
    fn class_pos(class: &str) -> usize {
        model().class_pos(class).unwrap_or_else(|| panic!("no class {class}"))
    }

    pub fn get(&self, class: &str, r: &str) -> Option<Arc<Record>> {
        let c = Self::class_pos(class);
        match self.pos.get(&(c, r.to_string())) {
            Some(&i) => self.staged[i].record.clone(),
            None => self.base.tables[c].objects.get(r).cloned(),
        }
    }

    /// The record, or `HANDLE_INVALID [class, ref]`.
    pub fn must_get(&self, class: &str, r: &str) -> Result<Arc<Record>, ApiError> {
        self.get(class, r).ok_or_else(|| ApiError::handle_invalid(class, r))
    }

    pub fn exists(&self, class: &str, r: &str) -> bool {
        self.get(class, r).is_some()
    }

    /// Refs of every object of `class`, this transaction's changes included.
    pub fn all_refs(&self, class: &str) -> Vec<String> {
        let c = Self::class_pos(class);
        let mut refs: Vec<String> = self.base.tables[c]
            .objects
            .keys()
            .filter(|r| !self.pos.contains_key(&(c, (*r).clone())))
            .cloned()
            .collect();
        for s in &self.staged {
            if s.class == c && s.record.is_some() {
                refs.push(s.obj_ref.clone());
            }
        }
        refs
    }

    pub fn put(&mut self, class: &str, r: &str, rec: Record) {
        let c = Self::class_pos(class);
        let key = (c, r.to_string());
        let rec = Some(Arc::new(rec));
        match self.pos.get(&key) {
            Some(&i) => self.staged[i].record = rec,
            None => {
                self.pos.insert(key, self.staged.len());
                self.staged.push(Staged { class: c, obj_ref: r.to_string(), record: rec });
            }
        }
    }

    /// Applies `f` to a copy of the record and stages it; `HANDLE_INVALID` if absent.
    pub fn update<R>(
        &mut self,
        class: &str,
        r: &str,
        f: impl FnOnce(&mut Record) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let mut rec = (*self.must_get(class, r)?).clone();
        let out = f(&mut rec)?;
        self.put(class, r, rec);
        Ok(out)
    }

    pub fn delete(&mut self, class: &str, r: &str) {
        let c = Self::class_pos(class);
        let key = (c, r.to_string());
        match self.pos.get(&key) {
            Some(&i) => self.staged[i].record = None,
            None => {
                self.pos.insert(key, self.staged.len());
                self.staged.push(Staged { class: c, obj_ref: r.to_string(), record: None });
            }
        }
    }

    /// Adds `member` to the set field `field` of `class/r` (used to keep reverse references, such
    /// as `VM.VBDs`, in step with the objects that point back).
    pub fn add_to_set(&mut self, class: &str, r: &str, field: &str, member: &str) -> Result<(), ApiError> {
        let c = model().class(class).expect("class in model");
        self.update(class, r, |rec| {
            if let Value::Set(items) = &mut rec.fields[c.field_pos(field).expect("field in model")] {
                if !items.iter().any(|v| v.as_str() == Some(member)) {
                    items.push(Value::str(member));
                }
            }
            Ok(())
        })
    }

    pub fn remove_from_set(&mut self, class: &str, r: &str, field: &str, member: &str) -> Result<(), ApiError> {
        let c = model().class(class).expect("class in model");
        if !self.exists(class, r) {
            return Ok(());
        }
        self.update(class, r, |rec| {
            if let Value::Set(items) = &mut rec.fields[c.field_pos(field).expect("field in model")] {
                items.retain(|v| v.as_str() != Some(member));
            }
            Ok(())
        })
    }
}

/// A fresh object reference, `OpaqueRef:<uuid>`.
pub fn new_ref() -> String {
    format!("OpaqueRef:{}", uuid::Uuid::new_v4())
}

pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Whether a field may be given in a `create` record.
pub fn is_constructor_field(q: Qualifier) -> bool {
    matches!(q, Qualifier::Rw | Qualifier::RoConstructor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm_record(name: &str) -> Record {
        let c = model().class("VM").unwrap();
        let mut r = Record::new_default(c);
        r.set(c, "uuid", Value::str(new_uuid()));
        r.set(c, "name_label", Value::str(name));
        r
    }

    #[test]
    fn committed_writes_survive_reopen_and_failed_ones_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let r = new_ref();
        {
            let s = Store::open(dir.path()).unwrap();
            s.write(|tx| {
                tx.put("VM", &r, vm_record("a"));
                Ok(())
            })
            .unwrap();
            let e = s.write(|tx| -> Result<(), ApiError> {
                tx.put("VM", &new_ref(), vm_record("b"));
                Err(ApiError::internal("abort"))
            });
            assert!(e.is_err());
            assert_eq!(s.read().table("VM").objects.len(), 1);
            assert_eq!(s.feed().generation, 1);
        }
        let s = Store::open(dir.path()).unwrap();
        let t = s.read();
        assert_eq!(t.table("VM").by_name_label("a"), [r.clone()]);
        assert!(t.table("VM").by_name_label("b").is_empty());
        drop(t);
        assert_eq!(s.feed().generation, 1, "generation persists");
    }

    #[test]
    fn tx_sees_its_own_changes_and_indexes_follow_updates() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let r = new_ref();
        s.write(|tx| {
            tx.put("VM", &r, vm_record("old"));
            assert!(tx.exists("VM", &r));
            tx.update("VM", &r, |rec| {
                rec.set(model().class("VM").unwrap(), "name_label", Value::str("new"));
                Ok(())
            })
        })
        .unwrap();
        let t = s.read();
        assert!(t.table("VM").by_name_label("old").is_empty());
        assert_eq!(t.table("VM").by_name_label("new").len(), 1);
        drop(t);
        s.write(|tx| {
            tx.delete("VM", &r);
            Ok(())
        })
        .unwrap();
        assert!(s.read().table("VM").by_name_label("new").is_empty());
        let feed = s.feed();
        let ops: Vec<Op> = feed.changes.iter().map(|c| c.op).collect();
        assert_eq!(ops, [Op::Add, Op::Del]);
    }
}

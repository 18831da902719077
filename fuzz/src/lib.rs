//! Fuzzing of every parser that reads what a client sends: the XenAPI's XML-RPC and JSON-RPC
//! decoders (and the client's reply decoder), the CIM-XML request decoder, the WQL parser, the
//! MOF compiler and the providers' embedded-instance readers.
//!
//! Why not cargo-fuzz or AFL: both need a nightly compiler or an instrumenting toolchain the
//! project's machines do not have, and CI must run the same harness. This is a seeded,
//! structure-aware mutator on stable Rust: it starts from valid inputs (`fuzz/seeds/<target>/`),
//! applies the mutations that found the parser bugs seen so far (splices of markup, deep nesting,
//! cut and doubled ranges, odd characters and character references, huge numbers), and checks
//! that each target answers — Ok or Err — without panicking and within a time bound. Every input
//! that ever failed is kept in `fuzz/regressions/<target>/` and replayed first.
//!
//! `cargo test -p xencim-fuzz` runs a short, fixed-seed round of every target (in the test
//! command); `cargo run -p xencim-fuzz --release -- <target|all> --seconds N [--seed S]` runs a
//! long one and prints executions per second (see `fuzz/README.md`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One parser under test.
pub struct Target {
    pub name: &'static str,
    /// Parses the input; the result itself does not matter, only that it returns.
    pub run: fn(&[u8]),
}

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Every target, by name.
pub const TARGETS: &[Target] = &[
    Target { name: "xmlrpc_call", run: |d| drop(xenapi_wire::xmlrpc::decode_call(d)) },
    Target { name: "xmlrpc_reply", run: |d| drop(xenapi_wire::xmlrpc::decode_response(d)) },
    Target { name: "xmlrpc_records", run: records_agree },
    Target { name: "jsonrpc_request", run: |d| drop(xenapi_wire::jsonrpc::decode_request(d)) },
    Target { name: "cimxml_request", run: |d| drop(xencim_broker::cimxml::decode_request(d)) },
    Target { name: "wql", run: |d| drop(xencim_broker::wql::parse(&text(d))) },
    Target {
        name: "mof",
        run: |d| {
            let mut repo = xencim_broker::repo::Repository::default();
            drop(xencim_broker::mof::compile_str(&mut repo, "root/fuzz", "fuzz.mof", &text(d)));
        },
    },
    Target { name: "embedded_mof", run: |d| drop(xen_cim_providers::embedded::parse_mof(&text(d))) },
    Target { name: "embedded_cimxml", run: |d| drop(xen_cim_providers::embedded::parse_cimxml(&text(d))) },
];

/// The client's fast reader of `get_all_records` answers (`xmlrpc::records`) on `d`, and the
/// property it rests on: when it accepts a body, the general reader (`decode_response`, then
/// typing by the model) accepts it too, with the same records. A difference panics (a failure).
fn records_agree(d: &[u8]) {
    use xenapi_wire::{Wire, WireValue};
    let Some(vm) = xenapi_model::model::model().class("VM") else { return };
    let Some(fast) = xenapi_wire::xmlrpc::records::decode_all_records(d, vm) else { return };
    let general = match xenapi_wire::xmlrpc::decode_response(d) {
        Ok(Ok(Wire::Struct(members))) => members,
        other => panic!("the fast reader accepted what the general one reads as {other:?}"),
    };
    assert_eq!(fast.len(), general.len(), "number of records");
    for ((r, fields), (gr, grec)) in fast.into_iter().zip(general) {
        assert_eq!(r, gr);
        let Wire::Struct(gfields) = grec else { panic!("record {gr} is not a struct for the general reader") };
        assert_eq!(fields.len(), gfields.len(), "fields of {r}");
        for ((k, v), (gk, gw)) in fields.into_iter().zip(gfields) {
            assert_eq!(k, gk);
            let gv = match vm.field(&gk) {
                Some(f) => Value::from_wire(gw, &f.ty, &gk).expect("the general reader refuses the field"),
                None => Value::from_untyped(gw),
            };
            assert_eq!(v, gv, "{r}.{k}");
        }
    }
}

use xenapi_model::Value;

pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// A small, fast, seedable generator (xorshift64*): runs are reproducible from their seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Fragments that change what a parser sees: markup, escapes, characters XML cannot carry,
/// numbers at the edges of their types, and the separators of MOF and WQL.
const TOKENS: &[&str] = &[
    "<", ">", "</", "/>", "<value>", "</value>", "<struct>", "<member>", "<name>", "<array><data>", "<i4>", "<int>",
    "<double>", "<boolean>", "<base64>", "<dateTime.iso8601>", "<VALUE>", "<INSTANCE CLASSNAME=\"X\">",
    "<PROPERTY NAME=\"A\" TYPE=\"string\">", "<PROPERTY.ARRAY", "<VALUE.ARRAY>", "<KEYBINDING NAME=\"k\">",
    "<IPARAMVALUE NAME=\"x\">", "<![CDATA[", "]]>", "<!--", "-->", "<?xml", "&amp;", "&lt;", "&#65535;", "&#0;",
    "&#x110000;", "&#xD800;", "&unknown;", "&", "\"", "'", "\\", "\\\"", "\u{FFFF}", "\u{0}", "\u{1}", "é", "日",
    "\u{10FFFF}", "{", "}", "[", "]", ",", ":", ";", "=", "(", ")", "\"jsonrpc\":\"2.0\"", "\"method\":", "\"params\":",
    "\"id\":", "null", "true", "-1", "0", "9223372036854775807", "-9223372036854775808", "170141183460469231731687303768211456",
    "1e308", "1e-400", "NaN", "-", "--", "0x", "SELECT", " FROM ", " WHERE ", " AND ", " OR ", " NOT ", " ISA ",
    "SourceInstance.", "class ", "instance of ", "#pragma ", "[Key]", "string ", "uint32 ", "ref ", "\n", "\r\n", "\t",
    " ",
];

/// One mutation of `input` (several are applied per execution).
fn mutate_once(rng: &mut Rng, input: &mut Vec<u8>, max_len: usize) {
    let len = input.len();
    match rng.below(9) {
        // Flip a byte.
        0 if len > 0 => {
            let i = rng.below(len);
            input[i] ^= 1 << rng.below(8);
        }
        // Insert a token.
        1 | 2 => {
            let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
            let at = rng.below(len + 1);
            input.splice(at..at, t.iter().copied());
        }
        // Delete a range.
        3 if len > 0 => {
            let a = rng.below(len);
            let b = (a + 1 + rng.below(16)).min(len);
            input.drain(a..b);
        }
        // Duplicate a range (repeated elements, long names).
        4 if len > 0 => {
            let a = rng.below(len);
            let b = (a + 1 + rng.below(64)).min(len);
            let chunk: Vec<u8> = input[a..b].to_vec();
            let times = 1 + rng.below(8);
            let at = rng.below(input.len() + 1);
            for _ in 0..times {
                input.splice(at..at, chunk.iter().copied());
            }
        }
        // Deep nesting: the same opening token many times.
        5 => {
            let t = ["<value><array><data>", "(", "[", "{\"a\":", "NOT ", "<VALUE.ARRAY>", "<INSTANCE CLASSNAME=\"X\">"]
                [rng.below(7)];
            let times = 1 + rng.below(3000);
            let at = rng.below(len + 1);
            let deep = t.repeat(times);
            input.splice(at..at, deep.bytes());
        }
        // Cut the input short.
        6 if len > 1 => input.truncate(rng.below(len)),
        // Replace a byte by one of the interesting ones.
        7 if len > 0 => {
            let i = rng.below(len);
            input[i] = [0u8, 0xFF, 0xC0, 0x80, b'<', b'&', b'"', b'\\', b'\n'][rng.below(9)];
        }
        // Swap two halves.
        _ if len > 2 => {
            let m = rng.below(len);
            input.rotate_left(m);
        }
        _ => input.extend_from_slice(TOKENS[rng.below(TOKENS.len())].as_bytes()),
    }
    input.truncate(max_len);
}

/// A mutated copy of one of `seeds`.
pub fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    let mut input = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(6) {
        mutate_once(rng, &mut input, max_len);
    }
    input
}

/// The files of a directory (none when it is absent), sorted so runs are reproducible.
pub fn read_dir_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .filter_map(|e| std::fs::read(e.path()).ok().map(|d| (e.path(), d)))
        .collect();
    out.sort();
    out
}

pub fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// What went wrong with one input.
#[derive(Debug)]
pub struct Finding {
    pub target: &'static str,
    pub input: Vec<u8>,
    pub what: String,
}

/// Runs one input; a panic or a run longer than `slow` is a finding.
pub fn check(t: &Target, input: &[u8], slow: Duration) -> Result<(), Finding> {
    let start = Instant::now();
    let r = catch_unwind(AssertUnwindSafe(|| (t.run)(input)));
    let took = start.elapsed();
    match r {
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
            Err(Finding { target: t.name, input: input.to_vec(), what: format!("panic: {}", msg.unwrap_or_default()) })
        }
        Ok(()) if took > slow => {
            Err(Finding { target: t.name, input: input.to_vec(), what: format!("took {took:?} (limit {slow:?})") })
        }
        Ok(()) => Ok(()),
    }
}

/// Figures of one run.
#[derive(Debug, Default)]
pub struct Stats {
    pub executions: u64,
    pub elapsed: Duration,
}

/// Replays the target's regressions, then runs mutated seeds until `iterations` or `budget` is
/// reached, whichever first. Stops at the first finding.
pub fn run(t: &'static Target, seed: u64, iterations: u64, budget: Duration, slow: Duration) -> Result<Stats, Finding> {
    let dir = fuzz_dir();
    for (_, input) in read_dir_files(&dir.join("regressions").join(t.name)) {
        check(t, &input, slow)?;
    }
    let seeds: Vec<Vec<u8>> = read_dir_files(&dir.join("seeds").join(t.name)).into_iter().map(|(_, d)| d).collect();
    let seeds = if seeds.is_empty() { vec![Vec::new()] } else { seeds };
    for s in &seeds {
        check(t, s, slow)?;
    }
    let mut rng = Rng::new(seed ^ t.name.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)));
    let start = Instant::now();
    let mut executions = 0;
    while executions < iterations && start.elapsed() < budget {
        let input = mutate(&mut rng, &seeds, 256 * 1024);
        check(t, &input, slow)?;
        executions += 1;
    }
    Ok(Stats { executions, elapsed: start.elapsed() })
}

/// Keeps a finding as a regression input (named by a hash of its bytes), returns its path.
pub fn keep(f: &Finding) -> std::io::Result<PathBuf> {
    let dir = fuzz_dir().join("regressions").join(f.target);
    std::fs::create_dir_all(&dir)?;
    let hash = f.input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100_0000_01b3));
    let path = dir.join(format!("{hash:016x}"));
    std::fs::write(&path, &f.input)?;
    Ok(path)
}

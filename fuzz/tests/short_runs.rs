//! A short fixed-seed round of every fuzz target, in the test command: the regressions, the
//! seeds, then mutated seeds. A panic or a slow parse fails the test with the input.

use std::time::Duration;
use xencim_fuzz::{run, TARGETS};

/// Executions per target: a few seconds of all targets together in a debug build.
const ITERATIONS: u64 = 3_000;

#[test]
fn every_parser_survives_a_short_fuzz_round() {
    std::panic::set_hook(Box::new(|_| {}));
    let mut report = Vec::new();
    for t in TARGETS {
        match run(t, 0x5EED, ITERATIONS, Duration::from_secs(60), Duration::from_secs(5)) {
            Ok(s) => report.push(format!("{}: {} executions in {:?}", t.name, s.executions, s.elapsed)),
            Err(f) => {
                let _ = std::panic::take_hook();
                panic!("{}: {} on input {:?}", f.target, f.what, String::from_utf8_lossy(&f.input[..f.input.len().min(2000)]));
            }
        }
    }
    let _ = std::panic::take_hook();
    println!("{}", report.join("\n"));
}

#[test]
fn every_target_has_seeds() {
    for t in TARGETS {
        let seeds = xencim_fuzz::read_dir_files(&xencim_fuzz::fuzz_dir().join("seeds").join(t.name));
        assert!(!seeds.is_empty(), "fuzz/seeds/{} has no seed input", t.name);
    }
}

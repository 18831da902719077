//! Long fuzz runs: `cargo run -p xencim-fuzz --release -- <target|all> [--seconds N] [--seed S]`.
//! Prints executions per second per target; a finding is saved under fuzz/regressions/ and the
//! run exits non-zero.

use std::time::Duration;
use xencim_fuzz::{keep, run, target, TARGETS};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse::<u64>().ok());
    let seconds = flag("--seconds").unwrap_or(60);
    let seed = flag("--seed").unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    });
    let which = args.first().map(String::as_str).unwrap_or("all");
    let targets: Vec<_> = if which == "all" {
        TARGETS.iter().collect()
    } else {
        match target(which) {
            Some(t) => vec![t],
            None => {
                let names: Vec<_> = TARGETS.iter().map(|t| t.name).collect();
                eprintln!("unknown target {which}; targets: all, {}", names.join(", "));
                std::process::exit(2);
            }
        }
    };
    // Panics are findings, reported below; the default hook would print each one twice.
    std::panic::set_hook(Box::new(|_| {}));
    let per_target = Duration::from_secs(seconds) / targets.len() as u32;
    println!("seed {seed}, {per_target:?} per target");
    let mut failed = false;
    for t in targets {
        match run(t, seed, u64::MAX, per_target, Duration::from_secs(2)) {
            Ok(s) => println!(
                "{:<18} {:>10} executions in {:>6.1} s: {:>9.0} /s",
                t.name,
                s.executions,
                s.elapsed.as_secs_f64(),
                s.executions as f64 / s.elapsed.as_secs_f64().max(1e-9)
            ),
            Err(f) => {
                failed = true;
                let path = keep(&f).map(|p| p.display().to_string()).unwrap_or_else(|e| format!("(not saved: {e})"));
                println!("{:<18} FINDING: {} — input kept in {path}", t.name, f.what);
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}

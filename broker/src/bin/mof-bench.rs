//! Prints the time to compile a MOF file (by default the DMTF schema found
//! through CIM_SCHEMA_DIR) into a fresh repository.
//!
//! `mof-bench [FILE.mof]`
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let path = match std::env::args().nth(1) {
        Some(p) => PathBuf::from(p),
        None => match std::env::var_os("CIM_SCHEMA_DIR") {
            Some(d) => PathBuf::from(d).join("cim_schema_2.41.0.mof"),
            None => {
                eprintln!("usage: mof-bench FILE.mof (or set CIM_SCHEMA_DIR)");
                std::process::exit(2);
            }
        },
    };
    let mut best = f64::MAX;
    for run in 1..=3 {
        let mut repo = xencim_broker::repo::Repository::new();
        let t = Instant::now();
        let stats = match xencim_broker::mof::compile_file(&mut repo, "root/cimv2", &path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        };
        let secs = t.elapsed().as_secs_f64();
        best = best.min(secs);
        println!(
            "run {run}: compiled {} files, {} qualifier types, {} classes, {} instances in {:.3} s",
            stats.files, stats.qualifiers, stats.classes, stats.instances, secs
        );
    }
    println!("best: {best:.3} s");
}

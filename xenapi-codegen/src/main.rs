//! `cargo run -p xenapi-codegen`: rewrites the generated code (`xenapi-core/src/generated/`,
//! `xenapi-model/src/generated/`, `xenapi-client/src/generated/`) from the data model.
//! `--check`: only says which files are stale (exit status 1 if any).

fn main() {
    let root = xenapi_codegen::workspace_root();
    let check = std::env::args().any(|a| a == "--check");
    let result = if check {
        xenapi_codegen::stale(&root).map(|stale| {
            for f in &stale {
                println!("stale: {f}");
            }
            stale.is_empty()
        })
    } else {
        xenapi_codegen::generate(&root).and_then(|files| {
            for f in files {
                let path = root.join(&f.path);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
                }
                if std::fs::read_to_string(&path).ok().as_deref() != Some(f.text.as_str()) {
                    std::fs::write(&path, &f.text).map_err(|e| format!("{}: {e}", f.path))?;
                    println!("wrote {}", f.path);
                }
            }
            Ok(true)
        })
    };
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("xenapi-codegen: {e}");
            std::process::exit(2);
        }
    }
}

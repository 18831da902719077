//! The checked-in generated code is what the generator makes from the model now.

#[test]
fn generated_code_is_up_to_date() {
    let root = xenapi_codegen::workspace_root();
    let stale = xenapi_codegen::stale(&root).unwrap_or_else(|e| panic!("the generator failed: {e}"));
    assert!(
        stale.is_empty(),
        "generated files are stale: {stale:?}\nthe data model, model/unimplemented.txt or async_handlers.txt changed; \
         refresh them with `cargo run -p xenapi-codegen` and commit the result"
    );
}

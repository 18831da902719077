//! With the `xen` feature, generates the raw libxl bindings (bindgen over Debian's libxen-dev
//! headers, allow-listed to what `backend/xen` uses) and links libxenlight and libxentoollog.
//! Without it there is nothing to do: the default build needs neither the headers nor libclang.

fn main() {
    // Without this, cargo would rerun the script (and rebuild the crate) whenever any file of
    // the package changes.
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "xen")]
    xen::generate();
}

#[cfg(feature = "xen")]
mod xen {
    use std::path::PathBuf;

    const HEADER: &str = "src/backend/xen/wrapper.h";

    /// Functions of libxl (and libc's vsnprintf, to format the messages libxl logs through its
    /// va_list callback) that the safe layer calls.
    const FUNCTIONS: &[&str] = &[
        "libxl_ctx_alloc",
        "libxl_ctx_free",
        "libxl_childproc_setmode",
        "libxl_domain_config_init",
        "libxl_domain_config_dispose",
        "libxl_domain_config_to_json",
        "libxl_domain_config_from_json",
        "libxl_domain_build_info_init_type",
        "libxl_domain_create_restore",
        "libxl_domain_create_new",
        "libxl_domain_restore_params_init",
        "libxl_domain_restore_params_dispose",
        "libxl_domain_destroy",
        "libxl_domain_pause",
        "libxl_domain_unpause",
        "libxl_domain_shutdown",
        "libxl_domain_reboot",
        "libxl_domain_suspend",
        "libxl_set_memory_target",
        "libxl_set_vcpuonline",
        "libxl_send_sysrq",
        "libxl_device_disk_init",
        "libxl_device_disk_dispose",
        "libxl_device_disk_add",
        "libxl_device_disk_remove",
        "libxl_device_nic_init",
        "libxl_device_nic_dispose",
        "libxl_device_nic_add",
        "libxl_device_nic_remove",
        "libxl_list_domain",
        "libxl_dominfo_list_free",
        "libxl_list_vcpu",
        "libxl_vcpuinfo_list_free",
        "libxl_get_physinfo",
        "libxl_physinfo_init",
        "libxl_physinfo_dispose",
        "libxl_bitmap_init",
        "libxl_evenable_domain_death",
        "libxl_evdisable_domain_death",
        "libxl_event_wait",
        "libxl_event_free",
        "libxl_retrieve_domain_configuration",
        "libxl_userdata_store",
        "libxl_userdata_retrieve",
        "libxl_uuid_from_string",
        "libxl_uuid_is_nil",
        "vsnprintf",
    ];

    const TYPES: &[&str] = &["xentoollog_logger", "libxl_domain_config", "libxl_event", "libxl_dominfo", "libxl_vcpuinfo", "libxl_physinfo", "libxl_error"];

    const VARS: &[&str] = &["LIBXL_VERSION"];

    pub fn generate() {
        println!("cargo:rerun-if-changed={HEADER}");
        let mut b = bindgen::Builder::default()
            .header(HEADER)
            .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
            // libxl's enums are plain C ints whose values the code compares and stores.
            .default_enum_style(bindgen::EnumVariation::Consts)
            .prepend_enum_name(false)
            .derive_default(true)
            .layout_tests(true);
        for f in FUNCTIONS {
            b = b.allowlist_function(f);
        }
        for t in TYPES {
            b = b.allowlist_type(t);
        }
        for v in VARS {
            b = b.allowlist_var(v);
        }
        let bindings = b.generate().unwrap_or_else(|e| {
            panic!("bindgen could not read {HEADER} ({e}); the `xen` feature needs libxen-dev (Xen 4.17 headers) and libclang-dev")
        });
        let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR set by cargo")).join("libxl_bindings.rs");
        bindings.write_to_file(&out).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
        println!("cargo:rustc-link-lib=xenlight");
        println!("cargo:rustc-link-lib=xentoollog");
    }
}

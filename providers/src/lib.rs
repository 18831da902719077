//! Xen_* CMPI providers: the DMTF System Virtualization model over XenAPI.
//!
//! Empty on purpose: the providers issue fills this crate. It exists so the workspace layout is
//! the final one from the start.

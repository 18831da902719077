//! Xen_* CMPI providers: the DMTF System Virtualization model (DSP1042, DSP1057) over XenAPI,
//! following the xs-cim class model (`xs-cim-model.md`).
//!
//! One shared library (`libxen_cim_providers.so`), one module per CIM class, one provider name
//! per class (the SFCB registrations in `registration/` name them):
//!
//! | provider name | class | MI types |
//! | --- | --- | --- |
//! | `Xen_ComputerSystem` | guest VMs | instance, method (`RequestStateChange`) |
//! | `Xen_HostComputerSystem` | hosts | instance |
//! | `Xen_ComputerSystemSettingData` | VM settings (VSSD, state only) | instance |
//!
//! The providers are XenAPI clients ([`xenapi_conn`]): one service-account session per process,
//! and an `event.from`-driven [`cache`] that answers enumerations without XenAPI calls. The XenAPI
//! client is async; a private tokio runtime ([`backend`]) runs it while CMPI calls wait.

pub mod backend;
pub mod cache;
pub mod util;
pub mod xen_computer_system;
pub mod xen_computer_system_setting_data;
pub mod xen_host_computer_system;
pub mod xenapi_conn;

/// The provider names this library exports (`<Name>_Create_<Type>MI`), one per class.
pub const PROVIDER_NAMES: &[&str] = &["Xen_ComputerSystem", "Xen_HostComputerSystem", "Xen_ComputerSystemSettingData"];

use cmpi_shim::provider::{Broker, Context};
use cmpi_shim::CmpiError;

cmpi_shim::export_providers! {
    Xen_ComputerSystem => |_b: Broker, _c: &Context| -> Result<xen_computer_system::ComputerSystemProvider, CmpiError> {
        Ok(xen_computer_system::ComputerSystemProvider::new())
    },
    Xen_HostComputerSystem => |_b: Broker, _c: &Context| -> Result<xen_host_computer_system::HostComputerSystemProvider, CmpiError> {
        Ok(xen_host_computer_system::HostComputerSystemProvider::new())
    },
    Xen_ComputerSystemSettingData => |_b: Broker, _c: &Context| -> Result<xen_computer_system_setting_data::SettingDataProvider, CmpiError> {
        Ok(xen_computer_system_setting_data::SettingDataProvider::new())
    },
}

//! Xen_* CMPI providers: the DMTF System Virtualization model (DSP1042, DSP1057) over XenAPI,
//! following the xs-cim class model (`xs-cim-model.md`).
//!
//! One shared library (`libxen_cim_providers.so`), one module per CIM class, one provider name
//! per class (the SFCB registrations in `registration/` name them):
//!
//! | provider name | class | MI types |
//! | --- | --- | --- |
//! | `Xen_ComputerSystem` | guest VMs | instance, method (`RequestStateChange`) |
//! | `Xen_HostComputerSystem` | hosts | instance, method (`RequestStateChange`: maintenance) |
//! | `Xen_ComputerSystemSettingData`, `Xen_ComputerSystemTemplate`, `Xen_ComputerSystemSnapshot` | VSSDs of guest VMs, templates and snapshots | instance |
//! | `Xen_SystemStateChangeJob` | XenAPI tasks of RequestStateChange | instance, method (`KillJob`, `RequestStateChange`, `GetError`) |
//! | `Xen_VirtualSystemManagementService` | VSMS, one per host | instance, method (`DefineSystem`, `DestroySystem`, `AddResourceSettings`, `ModifyResourceSettings`, `RemoveResourceSettings`, `ModifySystemSettings`, `CopySystem`) |
//! | `Xen_ProcessorSettingData`, `Xen_MemorySettingData` | VM processor / memory RASDs | instance |
//! | `Xen_DiskSettingData`, `Xen_NetworkPortSettingData` | VBD / VIF RASDs of every VM record ([`xen_device_rasd`]) | instance |
//! | `Xen_VirtualSystemSettingDataComponent`, `Xen_DeviceSettingsDefineState`, `Xen_DeviceElementSettingData`, `Xen_ResourceAllocationFromPool` | RASD associations ([`associations`]) | instance, association |
//! | `Xen_Processor`, `Xen_Memory`, `Xen_Disk`, `Xen_NetworkPort` | VM devices ([`xen_device`]) | instance |
//! | `Xen_ProcessorPool`, `Xen_MemoryPool`, `Xen_StoragePool`, `Xen_NetworkConnectionPool` | primordial resource pools ([`xen_resource_pool`]) | instance |
//! | `Xen_RegisteredProfile` | DMTF profiles, root/interop | instance |
//! | `Xen_ComputerSystemCreation`, `Xen_ComputerSystemDeletion`, `Xen_ComputerSystemModification` | lifecycle indications of the VMs ([`xen_computer_system_indication`]) | indication |
//! | `Xen_HostedComputerSystem`, `Xen_SystemDevice`, `Xen_ComputerSystemSettingsDefineState`, `Xen_ComputerSystemElementSettingData`, `Xen_ElementConformsToProfile`, `Xen_HostedResourcePool`, `Xen_ElementAllocatedFromPool` | associations ([`associations`]) | instance, association |
//! | `Xen_VirtualSystemManagementCapabilities`, `Xen_ComputerSystemCapabilities`, `Xen_HostComputerSystemCapabilities`, `Xen_{Processor,Memory,Storage,NetworkConnection}AllocationCapabilities` | capabilities ([`xen_capabilities`]) | instance |
//! | `Xen_HostPool` | the XenAPI pool ([`xen_host_pool`]) | instance |
//! | `Xen_DiskDrive` | VM CD drives ([`xen_device`]) | instance |
//! | `Xen_DiskImage` | VDIs ([`xen_disk_image`]) | instance |
//! | `Xen_HostProcessor`, `Xen_HostMemory`, `Xen_HostNetworkPort` | host devices ([`xen_host_device`]) | instance |
//! | `Xen_ReferencedProfile` | DSP1042 → the Xen profiles, and the broker's DSP1054 ([`xen_referenced_profile`]) | instance, association |
//! | `Xen_AffectedJobElement`, `Xen_OwningJobElement` | job ↔ its VM ([`xen_job_links`]) | instance, association |
//! | `Xen_ElementCapabilities`, `Xen_HostedService`, `Xen_ServiceAffectsElement`, `Xen_MemberOfCollection`, `Xen_ReferencedProfile` (root/interop), `Xen_ConcreteComponent`, `Xen_BasedOn` | associations ([`associations`]) | instance, association |
//!
//! The providers are XenAPI clients ([`xenapi_conn`]): one service-account session per process,
//! and an `event.from`-driven [`cache`] that answers enumerations without XenAPI calls. The XenAPI
//! client is async; a private tokio runtime ([`backend`]) runs it while CMPI calls wait.

pub mod access;
pub mod associations;
pub mod backend;
pub mod cache;
pub mod embedded;
pub mod util;
pub mod xen_computer_system;
pub mod xen_computer_system_indication;
pub mod xen_computer_system_setting_data;
pub mod xen_device;
pub mod xen_device_rasd;
pub mod xen_host_computer_system;
pub mod xen_job;
pub mod xen_job_links;
pub mod xen_rasd;
pub mod xen_vsms;
pub mod xen_registered_profile;
pub mod xen_referenced_profile;
pub mod xen_resource_pool;
pub mod xenapi_conn;
pub mod xen_capabilities;
pub mod xen_disk_image;
pub mod xen_host_device;
pub mod xen_host_pool;
pub mod xen_capabilities_setting_data;
pub mod requested_state;

/// The provider names this library exports (`<Name>_Create_<Type>MI`), one per class.
pub const PROVIDER_NAMES: &[&str] = &["Xen_ComputerSystem", "Xen_HostComputerSystem", "Xen_ComputerSystemSettingData", "Xen_SystemStateChangeJob", "Xen_VirtualSystemManagementService", "Xen_ProcessorSettingData", "Xen_MemorySettingData",
    // Devices, registered profiles and associations (associations.rs, xen_device.rs, xen_registered_profile.rs).
    "Xen_Processor",
    "Xen_Memory",
    "Xen_Disk",
    "Xen_NetworkPort",
    "Xen_RegisteredProfile",
    "Xen_HostedComputerSystem",
    "Xen_SystemDevice",
    "Xen_ComputerSystemSettingsDefineState",
    "Xen_ComputerSystemElementSettingData",
    "Xen_ElementConformsToProfile",
    "Xen_ProcessorPool",
    "Xen_MemoryPool",
    "Xen_StoragePool",
    "Xen_NetworkConnectionPool",
    "Xen_HostedResourcePool",
    "Xen_ElementAllocatedFromPool",
    // Capabilities, host pool, CD drives, disk images, host devices and their associations.
    "Xen_VirtualSystemManagementCapabilities",
    "Xen_ComputerSystemCapabilities",
    "Xen_ProcessorAllocationCapabilities",
    "Xen_MemoryAllocationCapabilities",
    "Xen_StorageAllocationCapabilities",
    "Xen_NetworkConnectionAllocationCapabilities",
    "Xen_HostPool",
    "Xen_DiskDrive",
    "Xen_DiskImage",
    "Xen_HostProcessor",
    "Xen_HostMemory",
    "Xen_HostNetworkPort",
    "Xen_ElementCapabilities",
    "Xen_HostedService",
    "Xen_ServiceAffectsElement",
    "Xen_MemberOfCollection",
    "Xen_ReferencedProfile",
    "Xen_ConcreteComponent",
    "Xen_BasedOn",
    // Disk and NIC RASDs and their associations (xen_device_rasd.rs, associations.rs).
    "Xen_DiskSettingData",
    "Xen_NetworkPortSettingData",
    "Xen_VirtualSystemSettingDataComponent",
    "Xen_DeviceSettingsDefineState",
    "Xen_DeviceElementSettingData",
    "Xen_ResourceAllocationFromPool",
    // VSSDs of templates and snapshots (xen_computer_system_setting_data.rs).
    "Xen_ComputerSystemTemplate",
    "Xen_ComputerSystemSnapshot",
    // Lifecycle indications of the VMs (xen_computer_system_indication.rs).
    "Xen_ComputerSystemCreation",
    "Xen_ComputerSystemDeletion",
    "Xen_ComputerSystemModification",
    // DSP1043 capabilities setting data and their association (xen_capabilities_setting_data.rs).
    "Xen_ProcessorCapabilitiesSettingData",
    "Xen_MemoryCapabilitiesSettingData",
    "Xen_StorageCapabilitiesSettingData",
    "Xen_NetworkConnectionCapabilitiesSettingData",
    "Xen_SettingsDefineCapabilities",
    // The state capabilities of the hosts (xen_capabilities.rs).
    "Xen_HostComputerSystemCapabilities",
    // Job associations (xen_job_links.rs).
    "Xen_AffectedJobElement",
    "Xen_OwningJobElement",
];

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
        Ok(xen_computer_system_setting_data::SettingDataProvider::new(xen_computer_system_setting_data::VssdKind::System))
    },
    Xen_SystemStateChangeJob => |_b: Broker, _c: &Context| -> Result<xen_job::JobProvider, CmpiError> {
        Ok(xen_job::JobProvider::new(xen_job::STATE_CHANGE_JOB))
    },
    Xen_VirtualSystemManagementService => |_b: Broker, _c: &Context| -> Result<xen_vsms::VsmsProvider, CmpiError> {
        Ok(xen_vsms::VsmsProvider::new())
    },
    Xen_ProcessorSettingData => |_b: Broker, _c: &Context| -> Result<xen_rasd::RasdProvider, CmpiError> {
        Ok(xen_rasd::RasdProvider::new(xen_rasd::Kind::Processor))
    },
    Xen_MemorySettingData => |_b: Broker, _c: &Context| -> Result<xen_rasd::RasdProvider, CmpiError> {
        Ok(xen_rasd::RasdProvider::new(xen_rasd::Kind::Memory))
    },
    Xen_Processor => |_b: Broker, _c: &Context| -> Result<xen_device::DeviceProvider, CmpiError> { Ok(xen_device::DeviceProvider::new(xen_device::Kind::Processor)) },
    Xen_Memory => |_b: Broker, _c: &Context| -> Result<xen_device::DeviceProvider, CmpiError> { Ok(xen_device::DeviceProvider::new(xen_device::Kind::Memory)) },
    Xen_Disk => |_b: Broker, _c: &Context| -> Result<xen_device::DeviceProvider, CmpiError> { Ok(xen_device::DeviceProvider::new(xen_device::Kind::Disk)) },
    Xen_NetworkPort => |_b: Broker, _c: &Context| -> Result<xen_device::DeviceProvider, CmpiError> { Ok(xen_device::DeviceProvider::new(xen_device::Kind::NetworkPort)) },
    Xen_RegisteredProfile => |_b: Broker, _c: &Context| -> Result<xen_registered_profile::RegisteredProfileProvider, CmpiError> { Ok(xen_registered_profile::RegisteredProfileProvider) },
    Xen_HostedComputerSystem => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::HostedComputerSystem)) },
    Xen_SystemDevice => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::SystemDevice)) },
    Xen_ComputerSystemSettingsDefineState => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::SettingsDefineState)) },
    Xen_ComputerSystemElementSettingData => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::ElementSettingData)) },
    Xen_ElementConformsToProfile => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::ConformsToProfile)) },
    Xen_ProcessorPool => |_b: Broker, _c: &Context| -> Result<xen_resource_pool::PoolProvider, CmpiError> { Ok(xen_resource_pool::PoolProvider::new(xen_resource_pool::PoolKind::Processor)) },
    Xen_MemoryPool => |_b: Broker, _c: &Context| -> Result<xen_resource_pool::PoolProvider, CmpiError> { Ok(xen_resource_pool::PoolProvider::new(xen_resource_pool::PoolKind::Memory)) },
    Xen_StoragePool => |_b: Broker, _c: &Context| -> Result<xen_resource_pool::PoolProvider, CmpiError> { Ok(xen_resource_pool::PoolProvider::new(xen_resource_pool::PoolKind::Storage)) },
    Xen_NetworkConnectionPool => |_b: Broker, _c: &Context| -> Result<xen_resource_pool::PoolProvider, CmpiError> { Ok(xen_resource_pool::PoolProvider::new(xen_resource_pool::PoolKind::NetworkConnection)) },
    Xen_HostedResourcePool => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::HostedResourcePool)) },
    Xen_ElementAllocatedFromPool => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::AllocatedFromPool)) },
    Xen_VirtualSystemManagementCapabilities => |_b: Broker, _c: &Context| -> Result<xen_capabilities::CapabilitiesProvider, CmpiError> { Ok(xen_capabilities::CapabilitiesProvider::new(xen_capabilities::CapKind::Vsms)) },
    Xen_ComputerSystemCapabilities => |_b: Broker, _c: &Context| -> Result<xen_capabilities::CapabilitiesProvider, CmpiError> { Ok(xen_capabilities::CapabilitiesProvider::new(xen_capabilities::CapKind::ComputerSystem)) },
    Xen_ProcessorAllocationCapabilities => |_b: Broker, _c: &Context| -> Result<xen_capabilities::CapabilitiesProvider, CmpiError> { Ok(xen_capabilities::CapabilitiesProvider::new(xen_capabilities::CapKind::Allocation(xen_resource_pool::PoolKind::Processor))) },
    Xen_MemoryAllocationCapabilities => |_b: Broker, _c: &Context| -> Result<xen_capabilities::CapabilitiesProvider, CmpiError> { Ok(xen_capabilities::CapabilitiesProvider::new(xen_capabilities::CapKind::Allocation(xen_resource_pool::PoolKind::Memory))) },
    Xen_StorageAllocationCapabilities => |_b: Broker, _c: &Context| -> Result<xen_capabilities::CapabilitiesProvider, CmpiError> { Ok(xen_capabilities::CapabilitiesProvider::new(xen_capabilities::CapKind::Allocation(xen_resource_pool::PoolKind::Storage))) },
    Xen_NetworkConnectionAllocationCapabilities => |_b: Broker, _c: &Context| -> Result<xen_capabilities::CapabilitiesProvider, CmpiError> { Ok(xen_capabilities::CapabilitiesProvider::new(xen_capabilities::CapKind::Allocation(xen_resource_pool::PoolKind::NetworkConnection))) },
    Xen_HostPool => |_b: Broker, _c: &Context| -> Result<xen_host_pool::HostPoolProvider, CmpiError> { Ok(xen_host_pool::HostPoolProvider::new()) },
    Xen_DiskDrive => |_b: Broker, _c: &Context| -> Result<xen_device::DeviceProvider, CmpiError> { Ok(xen_device::DeviceProvider::new(xen_device::Kind::DiskDrive)) },
    Xen_DiskImage => |_b: Broker, _c: &Context| -> Result<xen_disk_image::DiskImageProvider, CmpiError> { Ok(xen_disk_image::DiskImageProvider::new()) },
    Xen_HostProcessor => |_b: Broker, _c: &Context| -> Result<xen_host_device::HostDeviceProvider, CmpiError> { Ok(xen_host_device::HostDeviceProvider::new(xen_host_device::HostKind::Processor)) },
    Xen_HostMemory => |_b: Broker, _c: &Context| -> Result<xen_host_device::HostDeviceProvider, CmpiError> { Ok(xen_host_device::HostDeviceProvider::new(xen_host_device::HostKind::Memory)) },
    Xen_HostNetworkPort => |_b: Broker, _c: &Context| -> Result<xen_host_device::HostDeviceProvider, CmpiError> { Ok(xen_host_device::HostDeviceProvider::new(xen_host_device::HostKind::NetworkPort)) },
    Xen_ElementCapabilities => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::ElementCapabilities)) },
    Xen_HostedService => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::HostedService)) },
    Xen_ServiceAffectsElement => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::ServiceAffectsElement)) },
    Xen_MemberOfCollection => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::MemberOfCollection)) },
    Xen_ReferencedProfile => |b: Broker, _c: &Context| -> Result<xen_referenced_profile::ReferencedProfileProvider, CmpiError> { Ok(xen_referenced_profile::ReferencedProfileProvider::new(b)) },
    Xen_ConcreteComponent => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::ConcreteComponent)) },
    Xen_BasedOn => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::BasedOn)) },
    Xen_DiskSettingData => |_b: Broker, _c: &Context| -> Result<xen_device_rasd::DeviceRasdProvider, CmpiError> { Ok(xen_device_rasd::DeviceRasdProvider::new(xen_device_rasd::Kind::Disk)) },
    Xen_NetworkPortSettingData => |_b: Broker, _c: &Context| -> Result<xen_device_rasd::DeviceRasdProvider, CmpiError> { Ok(xen_device_rasd::DeviceRasdProvider::new(xen_device_rasd::Kind::Nic)) },
    Xen_VirtualSystemSettingDataComponent => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::VssdComponent)) },
    Xen_DeviceSettingsDefineState => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::DeviceSettingsDefineState)) },
    Xen_DeviceElementSettingData => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::DeviceElementSettingData)) },
    Xen_ResourceAllocationFromPool => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::ResourceAllocationFromPool)) },
    Xen_ComputerSystemCreation => |b: Broker, _c: &Context| -> Result<xen_computer_system_indication::IndicationClassProvider, CmpiError> { Ok(xen_computer_system_indication::IndicationClassProvider::new(xen_computer_system_indication::Kind::Creation, b)) },
    Xen_ComputerSystemDeletion => |b: Broker, _c: &Context| -> Result<xen_computer_system_indication::IndicationClassProvider, CmpiError> { Ok(xen_computer_system_indication::IndicationClassProvider::new(xen_computer_system_indication::Kind::Deletion, b)) },
    Xen_ComputerSystemModification => |b: Broker, _c: &Context| -> Result<xen_computer_system_indication::IndicationClassProvider, CmpiError> { Ok(xen_computer_system_indication::IndicationClassProvider::new(xen_computer_system_indication::Kind::Modification, b)) },
    Xen_ComputerSystemTemplate => |_b: Broker, _c: &Context| -> Result<xen_computer_system_setting_data::SettingDataProvider, CmpiError> { Ok(xen_computer_system_setting_data::SettingDataProvider::new(xen_computer_system_setting_data::VssdKind::Template)) },
    Xen_ComputerSystemSnapshot => |_b: Broker, _c: &Context| -> Result<xen_computer_system_setting_data::SettingDataProvider, CmpiError> { Ok(xen_computer_system_setting_data::SettingDataProvider::new(xen_computer_system_setting_data::VssdKind::Snapshot)) },
    Xen_ProcessorCapabilitiesSettingData => |_b: Broker, _c: &Context| -> Result<xen_capabilities_setting_data::CapabilitiesSettingDataProvider, CmpiError> { Ok(xen_capabilities_setting_data::CapabilitiesSettingDataProvider::new(xen_resource_pool::PoolKind::Processor)) },
    Xen_MemoryCapabilitiesSettingData => |_b: Broker, _c: &Context| -> Result<xen_capabilities_setting_data::CapabilitiesSettingDataProvider, CmpiError> { Ok(xen_capabilities_setting_data::CapabilitiesSettingDataProvider::new(xen_resource_pool::PoolKind::Memory)) },
    Xen_StorageCapabilitiesSettingData => |_b: Broker, _c: &Context| -> Result<xen_capabilities_setting_data::CapabilitiesSettingDataProvider, CmpiError> { Ok(xen_capabilities_setting_data::CapabilitiesSettingDataProvider::new(xen_resource_pool::PoolKind::Storage)) },
    Xen_NetworkConnectionCapabilitiesSettingData => |_b: Broker, _c: &Context| -> Result<xen_capabilities_setting_data::CapabilitiesSettingDataProvider, CmpiError> { Ok(xen_capabilities_setting_data::CapabilitiesSettingDataProvider::new(xen_resource_pool::PoolKind::NetworkConnection)) },
    Xen_SettingsDefineCapabilities => |_b: Broker, _c: &Context| -> Result<associations::AssocProvider, CmpiError> { Ok(associations::AssocProvider::new(associations::Assoc::SettingsDefineCapabilities)) },
    Xen_HostComputerSystemCapabilities => |_b: Broker, _c: &Context| -> Result<xen_capabilities::CapabilitiesProvider, CmpiError> { Ok(xen_capabilities::CapabilitiesProvider::new(xen_capabilities::CapKind::HostComputerSystem)) },
    Xen_AffectedJobElement => |_b: Broker, _c: &Context| -> Result<xen_job_links::JobLinkProvider, CmpiError> { Ok(xen_job_links::JobLinkProvider::new(xen_job_links::JobLink::Affected)) },
    Xen_OwningJobElement => |_b: Broker, _c: &Context| -> Result<xen_job_links::JobLinkProvider, CmpiError> { Ok(xen_job_links::JobLinkProvider::new(xen_job_links::JobLink::Owning)) },
}

//! The data model: objects, the inventory, environments and workload access.

pub mod environment;
pub mod image;
pub mod image_scan;
pub mod inventory;
pub mod kinds;
pub mod object;
pub mod pod_security;
pub mod quantity;
pub mod spans;
pub mod value;
pub mod workload;

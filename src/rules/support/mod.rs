//! Facts several rules share, computed once per inventory.

pub mod cron;
pub mod limit_range;
pub mod network;
pub mod pod_security;
pub mod rbac;
pub mod secret_values;
pub mod secret_writers;
pub mod secrets;
pub mod selector;
pub mod service_dns;
#[cfg(test)]
pub(crate) mod testing;
pub mod velero;

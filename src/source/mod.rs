//! Where documents come from: files (and stdin) or a live cluster.

pub mod cluster;
pub mod files;
pub mod redact;
pub mod render;
pub mod spans;
pub mod yaml;

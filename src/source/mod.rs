//! Where documents come from: files (and stdin) or a live cluster.

pub mod cluster;
pub mod files;
pub mod origin;
pub mod redact;
pub mod render;
pub mod yaml;

/// Spans belong to the model now; the old path keeps working.
pub use crate::model::spans;

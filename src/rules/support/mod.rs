//! Facts several rules share, computed once per inventory.

pub mod limit_range;
#[cfg(test)]
pub(crate) mod testing;

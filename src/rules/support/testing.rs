//! Unit-test helper: run one rule over a YAML stream with the default configuration.

use crate::config::Config;
use crate::model::environment::Environments;
use crate::model::inventory::Inventory;
use crate::rules::{Context, Rule, Violation};
use crate::source::files::load_bytes;

/// The violations `rule` reports on every object of `yaml` in its scope, in document order.
pub(crate) fn violations(rule: &dyn Rule, yaml: &str) -> Vec<Violation> {
    let loaded = load_bytes("test.yaml", yaml.as_bytes());
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let inventory = Inventory::new(loaded.objects);
    let config = Config::default();
    let environments = Environments::new(&config.environments).expect("no globs to compile");
    let ctx = Context::new(
        &inventory,
        &config,
        &environments,
        jiff::Timestamp::UNIX_EPOCH,
    );
    let mut out = Vec::new();
    let scope = &rule.meta().scope;
    for object in inventory.objects().iter().filter(|o| scope.covers(o)) {
        rule.check(object, &ctx, &mut out);
    }
    out
}

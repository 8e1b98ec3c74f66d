//! Pod Security Standards controls: the level a rule checks (from its `pss-baseline` /
//! `pss-restricted` tag), what a namespace holds pods to (its Pod Security admission labels,
//! else `pod_security:` in `tollgate.yaml`), and how a control's violations are reported then.
//!
//! A violation of a level the namespace enforces is not hygiene: the API server rejects the Pod
//! (and a controller fails to create the pods of a Deployment, Job…). Those violations are
//! **high**, evaluated with the namespace's `enforce-version`, and say so. `warn` and `audit`
//! labels only add a note. Without an `enforce` label, `pod_security: {level, envs}` holds the
//! namespaces of those environments to `level` in the same way.

use std::collections::HashMap;

use crate::model::value::Value;

use crate::finding::Severity;
use crate::model::kinds::Kind;
use crate::model::object::Object;
use crate::model::pod_security::{Level, Mode, ModeLabel, Version, mode_label};
use crate::model::workload::{Container, PodSpec, pod_spec};
use crate::rules::{Context, RuleMeta, Violation};

/// What [`Admission::of`] reads: the Pod Security labels of Namespace objects.
pub const READS: &[Kind] = &[Kind::new("", "Namespace")];

/// Tag naming a rule's Pod Security Standards level.
pub const BASELINE_TAG: &str = "pss-baseline";
pub const RESTRICTED_TAG: &str = "pss-restricted";

/// The Pod Security Standards level a rule checks, from its tags.
pub fn rule_level(meta: &RuleMeta) -> Option<Level> {
    if meta.tags.contains(&RESTRICTED_TAG) {
        Some(Level::Restricted)
    } else if meta.tags.contains(&BASELINE_TAG) {
        Some(Level::Baseline)
    } else {
        None
    }
}

/// How a control is evaluated on one pod spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    /// The version of the standards: the namespace's `enforce-version`, else the latest.
    pub version: Version,
    /// True when the namespace is held to the control's level (admission or `pod_security:`):
    /// rules that are looser than the standard by default apply it exactly then.
    pub held: bool,
}

impl Evaluation {
    pub const LATEST: Evaluation = Evaluation {
        version: Version::LATEST,
        held: false,
    };

    /// True when a Linux-only control does not apply: since v1.25 the standards exempt pods
    /// that declare `spec.os.name: windows` from them.
    pub fn exempts_windows(&self, spec: &PodSpec<'_>) -> bool {
        self.version.at_least(25) && is_windows(spec)
    }
}

/// A pod that declares it runs on Windows nodes (`spec.os.name: windows`).
pub fn is_windows(spec: &PodSpec<'_>) -> bool {
    spec.get("os")
        .and_then(|os| os.get("name"))
        .and_then(Value::as_str)
        == Some("windows")
}

/// The Pod Security admission labels of every Namespace object of the inventory.
#[derive(Debug, Default)]
struct NamespaceLabels(HashMap<String, [Option<ModeLabel>; 3]>);

fn namespace_labels(ctx: &Context<'_>) -> std::sync::Arc<NamespaceLabels> {
    ctx.memo(|| {
        let mut out = HashMap::new();
        for namespace in ctx.inventory.of_kind("Namespace") {
            if !namespace.group().is_empty() {
                continue;
            }
            let Some(labels) = namespace.labels() else {
                continue;
            };
            let modes = Mode::ALL.map(|mode| mode_label(labels, mode));
            if modes.iter().any(Option::is_some) {
                out.entry(namespace.name.to_string()).or_insert(modes);
            }
        }
        NamespaceLabels(out)
    })
}

/// What holds an object's pods to a level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// The namespace's `pod-security.kubernetes.io/enforce` label.
    Admission { namespace: String, label: ModeLabel },
    /// `pod_security:` in `tollgate.yaml`, for a namespace without an `enforce` label.
    Config {
        namespace: Option<String>,
        env: String,
        level: Level,
    },
}

impl Hold {
    pub fn level(&self) -> Level {
        match self {
            Hold::Admission { label, .. } => label.level,
            Hold::Config { level, .. } => *level,
        }
    }

    pub fn version(&self) -> Version {
        match self {
            Hold::Admission { label, .. } => label.version,
            Hold::Config { .. } => Version::LATEST,
        }
    }

    /// Why the violation matters, appended to the message.
    fn explain(&self, object: &Object) -> String {
        match self {
            Hold::Admission { namespace, label } => {
                let rejected = format!(
                    "rejected by Pod Security admission in namespace {namespace} ({})",
                    label.describe()
                );
                if object.is("", "Pod") {
                    rejected
                } else {
                    format!(
                        "its pods are {rejected}, so the {} cannot create them",
                        object.kind
                    )
                }
            }
            Hold::Config {
                namespace,
                env,
                level,
            } => {
                let unlabeled = namespace.as_ref().map_or_else(
                    || "the object has no namespace".to_string(),
                    |ns| {
                        format!("namespace {ns} has no `pod-security.kubernetes.io/enforce` label")
                    },
                );
                format!(
                    "environment {env} is held to the {level} level by `pod_security` in tollgate.yaml ({unlabeled})"
                )
            }
        }
    }
}

/// What a namespace's labels and the configuration say about one object's pods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admission {
    pub hold: Option<Hold>,
    /// `warn` and `audit` labels, for the note.
    pub watch: Vec<(String, ModeLabel)>,
}

impl Admission {
    /// The admission facts of `object`'s namespace.
    pub fn of(object: &Object, ctx: &Context<'_>) -> Admission {
        let labels = namespace_labels(ctx);
        let namespace = object.namespace.as_deref();
        let modes = namespace.and_then(|ns| labels.0.get(ns));
        let mut admission = Admission::default();
        if let (Some(ns), Some(modes)) = (namespace, modes) {
            let [enforce, warn, audit] = modes;
            if let Some(label) = enforce {
                admission.hold = Some(Hold::Admission {
                    namespace: ns.to_string(),
                    label: label.clone(),
                });
            }
            for label in [warn, audit].into_iter().flatten() {
                admission.watch.push((ns.to_string(), label.clone()));
            }
        }
        if admission.hold.is_none()
            && let Some(level) = ctx.config.pod_security.level
        {
            let env = match namespace {
                Some(ns) => ctx.namespace_env(ns),
                None => object.environment(),
            };
            if let Some(env) = env
                && ctx.config.pod_security.envs.iter().any(|e| e == env)
            {
                admission.hold = Some(Hold::Config {
                    namespace: namespace.map(str::to_string),
                    env: env.to_string(),
                    level,
                });
            }
        }
        admission
    }

    /// The hold that covers a control of `level`, if the namespace is held that high.
    pub fn holding(&self, level: Level) -> Option<&Hold> {
        self.hold.as_ref().filter(|h| h.level() >= level)
    }

    /// `Pod Security admission in namespace X warns (warn=restricted)`, for a control of
    /// `level`, when a warn or audit label covers it.
    fn note(&self, level: Level) -> Option<String> {
        let covering: Vec<&(String, ModeLabel)> = self
            .watch
            .iter()
            .filter(|(_, l)| l.level >= level)
            .collect();
        let (namespace, _) = covering.first()?;
        let verbs: Vec<&str> = covering
            .iter()
            .map(|(_, l)| match l.mode {
                Mode::Warn => "warns",
                _ => "audits",
            })
            .collect();
        let labels: Vec<String> = covering.iter().map(|(_, l)| l.describe()).collect();
        Some(format!(
            "Pod Security admission in namespace {namespace} {} ({})",
            verbs.join(" and "),
            labels.join(", ")
        ))
    }
}

/// Runs one Pod Security Standards control on `object` and reports its violations the way the
/// namespace holds the pods: `check` is given the pod spec and the evaluation (version, and
/// whether the level is held).
pub fn check_control(
    meta: &RuleMeta,
    object: &Object,
    ctx: &Context<'_>,
    out: &mut Vec<Violation>,
    check: impl Fn(&PodSpec<'_>, Evaluation, &mut Vec<Violation>),
) {
    let Some(spec) = pod_spec(object) else {
        return;
    };
    let level = rule_level(meta).unwrap_or(Level::Baseline);
    let admission = Admission::of(object, ctx);
    let Some(hold) = admission.holding(level) else {
        let start = out.len();
        check(&spec, Evaluation::LATEST, out);
        if let Some(note) = admission.note(level) {
            for v in &mut out[start..] {
                v.message = format!("{}; {note}", v.message);
            }
        }
        return;
    };
    let version = hold.version();
    let mut held = Vec::new();
    check(
        &spec,
        Evaluation {
            version,
            held: true,
        },
        &mut held,
    );
    let explanation = hold.explain(object);
    let mut reported: Vec<String> = Vec::with_capacity(held.len());
    for mut v in held {
        v.message = format!("{}: {explanation}", v.message);
        v.severity = Some(Severity::High);
        reported.push(v.pointer.clone());
        out.push(v);
    }
    // A pinned older version may allow what the current standard forbids: still worth
    // knowing, at the rule's own severity.
    if version != Version::LATEST {
        let mut current = Vec::new();
        check(&spec, Evaluation::LATEST, &mut current);
        for mut v in current {
            if reported.contains(&v.pointer) {
                continue;
            }
            if let Hold::Admission { label, .. } = hold {
                v.message = format!(
                    "{} (admitted only because of {}-version={})",
                    v.message,
                    label.mode.as_str(),
                    label.written_version.as_deref().unwrap_or("latest")
                );
            }
            out.push(v);
        }
    }
}

/// [`check_control`] for controls judged one container at a time (init, main, then ephemeral
/// containers): `check` is given the pod spec, the container and the evaluation.
pub fn check_containers(
    meta: &RuleMeta,
    object: &Object,
    ctx: &Context<'_>,
    out: &mut Vec<Violation>,
    check: impl Fn(&PodSpec<'_>, Container<'_>, Evaluation, &mut Vec<Violation>),
) {
    check_control(meta, object, ctx, out, |spec, evaluation, out| {
        for container in spec.containers() {
            check(spec, container, evaluation, out);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::environment::Environments;
    use crate::model::inventory::Inventory;
    use crate::rules::Context;
    use crate::source::files::load_bytes;

    fn admission_of(yaml: &str, config: &Config) -> Admission {
        let loaded = load_bytes("test.yaml", yaml.as_bytes());
        let inventory = Inventory::new(loaded.objects);
        let environments = Environments::new(&config.environments).unwrap();
        let ctx = Context::new(
            &inventory,
            config,
            &environments,
            jiff::Timestamp::UNIX_EPOCH,
        );
        let pod = inventory.of_kind("Pod").next().unwrap();
        Admission::of(pod, &ctx)
    }

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop-prod}\nspec: {containers: [{name: c}]}\n";

    #[test]
    fn enforce_label_holds_the_namespace() {
        let yaml = format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop-prod\n  labels:\n    pod-security.kubernetes.io/enforce: baseline\n    pod-security.kubernetes.io/warn: restricted\n---\n{POD}"
        );
        let admission = admission_of(&yaml, &Config::default());
        assert_eq!(admission.hold.as_ref().unwrap().level(), Level::Baseline);
        assert!(admission.holding(Level::Restricted).is_none());
        assert_eq!(
            admission.note(Level::Restricted).unwrap(),
            "Pod Security admission in namespace shop-prod warns (warn=restricted)"
        );
    }

    #[test]
    fn config_holds_unlabeled_namespaces_of_its_envs() {
        let mut config = Config::default();
        config.pod_security.level = Some(Level::Restricted);
        config.pod_security.envs = vec!["prod".into()];
        let admission = admission_of(POD, &config);
        assert!(matches!(
            admission.holding(Level::Restricted),
            Some(Hold::Config { env, .. }) if env == "prod"
        ));
        config.pod_security.envs = vec!["staging".into()];
        assert_eq!(admission_of(POD, &config).hold, None);
    }
}

//! Agreement with peer tools: kube-linter, kube-score and Polaris fixtures (copied with their
//! licences under `tests/peers/`), each with the outcome its own test suite asserts, run
//! through tollgate's library with the tollgate rule that corresponds to the peer check.
//!
//! A case is one (fixture, peer check, peer configuration): the peer says `fail` (kube-score
//! `warn` counts as a finding too) or `pass`; tollgate fails the case when the mapped rules
//! report anything on the file. For kube-linter, whose fixtures mix good and bad objects, the
//! number of findings is also compared with the number of violations it asserts.
//!
//! Differences that follow from a deliberate scope decision are listed in [`BY_DESIGN`] and
//! [`COUNT_BY_DESIGN`] with the reason (the rule docs explain them under "Compared with other
//! tools"); fixtures that cannot be compared are in [`NOT_COMPARED`]. The test prints the
//! per-rule table and fails when, in any family, agreement on the cases whose scope matches
//! drops below 95%, when a kube-linter count differs without a listed reason, or when a listed
//! difference no longer occurs (so the list cannot go stale).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tollgate::scan::{RunOptions, ScanOptions, scan};

const PEERS: &str = "tests/peers";

/// A peer check and the tollgate rules that cover the same ground.
struct Mapping {
    /// Focus area, as `tests/peers/*/expectations.json` groups the checks.
    family: &'static str,
    tool: &'static str,
    check: &'static str,
    rules: &'static [&'static str],
    /// Only findings whose message contains this count: the peer check covers one resource
    /// or one flag of what the tollgate rule reports.
    message: Option<&'static str>,
}

const fn map(
    family: &'static str,
    tool: &'static str,
    check: &'static str,
    rules: &'static [&'static str],
    message: Option<&'static str>,
) -> Mapping {
    Mapping {
        family,
        tool,
        check,
        rules,
        message,
    }
}

const KL: &str = "kube-linter";
const KS: &str = "kube-score";
const PO: &str = "polaris";

const MAPPINGS: &[Mapping] = &[
    // Requests and limits. kube-linter's `unset-memory-requirements` checks the memory limit.
    map(
        "requests_limits",
        KL,
        "unset-cpu-requirements",
        &["resource-requests"],
        Some("no cpu request"),
    ),
    map(
        "requests_limits",
        KL,
        "unset-memory-requirements",
        &["resource-limits"],
        Some("no memory limit"),
    ),
    map(
        "requests_limits",
        KS,
        "Container Resources",
        &["resource-requests", "resource-limits"],
        None,
    ),
    map(
        "requests_limits",
        PO,
        "cpuRequestsMissing",
        &["resource-requests"],
        Some("no cpu request"),
    ),
    map(
        "requests_limits",
        PO,
        "memoryRequestsMissing",
        &["resource-requests"],
        Some("no memory request"),
    ),
    map(
        "requests_limits",
        PO,
        "cpuLimitsMissing",
        &["resource-limits"],
        Some("no cpu limit"),
    ),
    map(
        "requests_limits",
        PO,
        "memoryLimitsMissing",
        &["resource-limits"],
        Some("no memory limit"),
    ),
    // Image tags.
    map("image_tag", KL, "latest-tag", &["image-pinned"], None),
    map(
        "image_tag",
        KS,
        "Container Image Tag",
        &["image-pinned"],
        None,
    ),
    map("image_tag", PO, "tagNotSpecified", &["image-pinned"], None),
    // Privileged containers and privilege escalation.
    map(
        "privileged",
        KL,
        "privileged-container",
        &["privileged-container"],
        None,
    ),
    map(
        "privileged",
        KL,
        "privilege-escalation-container",
        &["privilege-escalation"],
        None,
    ),
    map(
        "privileged",
        KS,
        "Container Security Context Privileged",
        &["privileged-container"],
        None,
    ),
    map(
        "privileged",
        PO,
        "runAsPrivileged",
        &["privileged-container"],
        None,
    ),
    map(
        "privileged",
        PO,
        "privilegeEscalationAllowed",
        &["privilege-escalation"],
        None,
    ),
    // Non-root users.
    map(
        "run_as_non_root",
        KL,
        "run-as-non-root",
        &["run-as-non-root"],
        None,
    ),
    map(
        "run_as_non_root",
        KS,
        "Container Security Context User Group ID",
        &["run-as-non-root"],
        None,
    ),
    map(
        "run_as_non_root",
        PO,
        "runAsRootAllowed",
        &["run-as-non-root"],
        None,
    ),
    // Read-only root filesystems.
    map(
        "read_only_rootfs",
        KL,
        "no-read-only-root-fs",
        &["read-only-root-fs"],
        None,
    ),
    map(
        "read_only_rootfs",
        KS,
        "Container Security Context ReadOnlyRootFilesystem",
        &["read-only-root-fs"],
        None,
    ),
    map(
        "read_only_rootfs",
        PO,
        "notReadOnlyRootFilesystem",
        &["read-only-root-fs"],
        None,
    ),
    // Host namespaces and host paths.
    map(
        "host_access",
        KL,
        "host-network",
        &["host-namespaces"],
        Some("hostNetwork"),
    ),
    map(
        "host_access",
        KL,
        "host-pid",
        &["host-namespaces"],
        Some("hostPID"),
    ),
    map(
        "host_access",
        KL,
        "host-ipc",
        &["host-namespaces"],
        Some("hostIPC"),
    ),
    map(
        "host_access",
        KL,
        "sensitive-host-mounts",
        &["host-path-volume"],
        None,
    ),
    map(
        "host_access",
        KL,
        "docker-sock",
        &["host-path-volume"],
        None,
    ),
    map(
        "host_access",
        KL,
        "writable-host-mount",
        &["host-path-volume"],
        None,
    ),
    map(
        "host_access",
        PO,
        "hostNetworkSet",
        &["host-namespaces"],
        Some("hostNetwork"),
    ),
    map(
        "host_access",
        PO,
        "hostPIDSet",
        &["host-namespaces"],
        Some("hostPID"),
    ),
    map(
        "host_access",
        PO,
        "hostIPCSet",
        &["host-namespaces"],
        Some("hostIPC"),
    ),
    map(
        "host_access",
        PO,
        "hostPathSet",
        &["host-path-volume"],
        None,
    ),
    // Pod Security Standards controls beyond the ones above.
    map(
        "pod_security",
        KL,
        "drop-net-raw-capability",
        &["pss-capabilities-restricted", "pss-capabilities-baseline"],
        None,
    ),
    map(
        "pod_security",
        PO,
        "dangerousCapabilities",
        &["pss-capabilities-baseline"],
        None,
    ),
    map(
        "pod_security",
        PO,
        "insecureCapabilities",
        &["pss-capabilities-restricted"],
        None,
    ),
    map("pod_security", PO, "hostPortSet", &["pss-host-ports"], None),
    map(
        "pod_security",
        PO,
        "hostProcess",
        &["pss-host-process"],
        None,
    ),
    map("pod_security", PO, "procMount", &["pss-proc-mount"], None),
    map(
        "pod_security",
        KL,
        "unsafe-proc-mount",
        &["pss-proc-mount"],
        None,
    ),
    map("pod_security", KL, "unsafe-sysctls", &["pss-sysctls"], None),
    map(
        "pod_security",
        KS,
        "Container Seccomp Profile",
        &["pss-seccomp-restricted"],
        None,
    ),
    // RBAC. Polaris's exec/attach checks count wildcard grants, which tollgate reports as
    // `rbac-wildcard`; explicit grants are `rbac-escalation`; its binding variants also fail a
    // binding to a role granting everything, `rbac-cluster-admin-binding`.
    map("rbac", KL, "wildcard-in-rules", &["rbac-wildcard"], None),
    map(
        "rbac",
        KL,
        "cluster-admin-role-binding",
        &["rbac-cluster-admin-binding"],
        None,
    ),
    map("rbac", KL, "access-to-secrets", &["rbac-secret-read"], None),
    map(
        "rbac",
        KL,
        "access-to-create-pods",
        &["rbac-escalation"],
        None,
    ),
    map(
        "rbac",
        PO,
        "clusterrolePodExecAttach",
        &["rbac-escalation", "rbac-wildcard"],
        None,
    ),
    map(
        "rbac",
        PO,
        "rolePodExecAttach",
        &["rbac-escalation", "rbac-wildcard"],
        None,
    ),
    map(
        "rbac",
        PO,
        "clusterrolebindingPodExecAttach",
        &[
            "rbac-escalation",
            "rbac-wildcard",
            "rbac-cluster-admin-binding",
        ],
        None,
    ),
    map(
        "rbac",
        PO,
        "rolebindingClusterRolePodExecAttach",
        &[
            "rbac-escalation",
            "rbac-wildcard",
            "rbac-cluster-admin-binding",
        ],
        None,
    ),
    map(
        "rbac",
        PO,
        "rolebindingRolePodExecAttach",
        &[
            "rbac-escalation",
            "rbac-wildcard",
            "rbac-cluster-admin-binding",
        ],
        None,
    ),
    map(
        "rbac",
        PO,
        "clusterrolebindingClusterAdmin",
        &["rbac-cluster-admin-binding"],
        None,
    ),
    map(
        "rbac",
        PO,
        "rolebindingClusterAdminClusterRole",
        &["rbac-cluster-admin-binding"],
        None,
    ),
    map(
        "rbac",
        PO,
        "rolebindingClusterAdminRole",
        &["rbac-cluster-admin-binding"],
        None,
    ),
    map(
        "rbac",
        PO,
        "automountServiceAccountToken",
        &["service-account-token-automount"],
        None,
    ),
    // Probes. kube-score's `Pod Probes` covers liveness and readiness together.
    map("probes", KL, "no-liveness-probe", &["liveness-probe"], None),
    map(
        "probes",
        KL,
        "no-readiness-probe",
        &["readiness-probe"],
        None,
    ),
    map(
        "probes",
        KS,
        "Pod Probes",
        &["liveness-probe", "readiness-probe"],
        None,
    ),
    map(
        "probes",
        PO,
        "livenessProbeMissing",
        &["liveness-probe"],
        None,
    ),
    map(
        "probes",
        PO,
        "readinessProbeMissing",
        &["readiness-probe"],
        None,
    ),
];

// Reasons shared by several Pod Security and RBAC differences.
const WHY_ANNOT: &str = "the seccomp.security.alpha.kubernetes.io annotations were never a pod setting the standard accepts (the kubelet ignores them since v1.27); only seccompProfile counts";
const WHY_SAME_NS: &str = "tollgate reports Secret read access only where it crosses a namespace (ClusterRoleBinding) or an environment; a namespaced RoleBinding within one environment is the normal way to grant it";
const WHY_DROP_ALL: &str = "the restricted standard requires `drop: [ALL]`; dropping a list of named capabilities leaves the ones not listed (and future ones)";
const WHY_GCE: &str = "Polaris exempts GKE add-on roles and bindings by name; tollgate exempts only Kubernetes' own (bootstrapping label, `system:` ClusterRoles, kube-system subjects) and reports a wildcard role whatever its name";
const WHY_NAME: &str = "Polaris exempts bindings by their name (`system:…`, `cluster-admin`); tollgate judges the subject, since anyone can name a binding";
const WHY_MISSING: &str = "the binding's role is not in the inventory: tollgate cannot judge what it grants and reports nothing rather than guess";
const WHY_PODS: &str = "the role grants `create` on pods in a namespace Pod Security admission does not hold to baseline, which rbac-escalation reports (a privileged pod is the node)";
const WHY_WILD: &str = "the RoleBinding binds a ClusterRole granting everything; tollgate reports the role (rbac-wildcard) and the binding (rbac-cluster-admin-binding) whichever kind of role it is";

/// Outcome differences that follow from a deliberate decision: (tool, fixture, check, why).
const BY_DESIGN: &[(&str, &str, &str, &str)] = &[
    (
        KS,
        "score/testdata/pod-security-context-low-group-id.yaml",
        "Container Security Context User Group ID",
        "runAsGroup 0 is not reported: the Pod Security Standards restrict the user only, and group 0 is how images support arbitrary UIDs",
    ),
    (
        KS,
        "score/testdata/pod-probes-not-targeted-by-service.yaml",
        "Pod Probes",
        "kube-score checks probes only on pods a Service selects; tollgate on every long-running workload (readiness paces rollouts and PDBs, the Service may live elsewhere)",
    ),
    (
        KS,
        "score/testdata/pod-probes-not-targeted-by-service-multi-labels.yaml",
        "Pod Probes",
        "kube-score checks probes only on pods a Service selects; tollgate on every long-running workload",
    ),
    (
        KS,
        "score/testdata/pod-probes-targeted-by-service-different-namespace.yaml",
        "Pod Probes",
        "kube-score checks probes only on pods a Service selects; tollgate on every long-running workload",
    ),
    (
        KS,
        "score/testdata/pod-probes-on-different-containers.yaml",
        "Pod Probes",
        "kube-score is satisfied by a liveness probe on any container; the kubelet restarts each container on its own probe only, so tollgate checks each long-running container",
    ),
    (
        KL,
        "tests/checks/access-to-secrets.yml",
        "access-to-secrets",
        WHY_SAME_NS,
    ),
    (
        KS,
        "score/testdata/pod-seccomp-annotated-annotation-optional.yaml",
        "Container Seccomp Profile",
        WHY_ANNOT,
    ),
    (
        KS,
        "score/testdata/pod-seccomp-annotated.yaml",
        "Container Seccomp Profile",
        WHY_ANNOT,
    ),
    (
        PO,
        "test/checks/clusterrolePodExecAttach/success.gce_calico_clusterrole.yaml",
        "clusterrolePodExecAttach",
        WHY_GCE,
    ),
    (
        PO,
        "test/checks/clusterrolebindingClusterAdmin/success.gce_calico_binding.yaml",
        "clusterrolebindingClusterAdmin",
        WHY_GCE,
    ),
    (
        PO,
        "test/checks/clusterrolebindingClusterAdmin/success.system_prefix_binding.yaml",
        "clusterrolebindingClusterAdmin",
        WHY_NAME,
    ),
    (
        PO,
        "test/checks/clusterrolebindingPodExecAttach/failure.binding_points_to_missing_ref.yaml",
        "clusterrolebindingPodExecAttach",
        WHY_MISSING,
    ),
    (
        PO,
        "test/checks/clusterrolebindingPodExecAttach/success.defaultclusterrolebinding_clusteradmin.yaml",
        "clusterrolebindingPodExecAttach",
        WHY_NAME,
    ),
    (
        PO,
        "test/checks/clusterrolebindingPodExecAttach/success.gce_calico_binding.yaml",
        "clusterrolebindingPodExecAttach",
        WHY_GCE,
    ),
    (
        PO,
        "test/checks/clusterrolebindingPodExecAttach/success.system_prefix_binding.yaml",
        "clusterrolebindingPodExecAttach",
        WHY_NAME,
    ),
    (
        PO,
        "test/checks/insecureCapabilities/success.case.yaml",
        "insecureCapabilities",
        WHY_DROP_ALL,
    ),
    (
        PO,
        "test/checks/insecureCapabilities/success.pod.yaml",
        "insecureCapabilities",
        WHY_DROP_ALL,
    ),
    (
        PO,
        "test/checks/insecureCapabilities/success.yaml",
        "insecureCapabilities",
        WHY_DROP_ALL,
    ),
    (
        PO,
        "test/checks/rolePodExecAttach/success.allow_unrelated_perms.yaml",
        "rolePodExecAttach",
        WHY_PODS,
    ),
    (
        PO,
        "test/checks/rolePodExecAttach/success.gce_calico_binding.yaml",
        "rolePodExecAttach",
        WHY_GCE,
    ),
    (
        PO,
        "test/checks/rolebindingClusterAdminClusterRole/success.gce_calico_binding.yaml",
        "rolebindingClusterAdminClusterRole",
        WHY_GCE,
    ),
    (
        PO,
        "test/checks/rolebindingClusterAdminClusterRole/success.system_prefix_binding.yaml",
        "rolebindingClusterAdminClusterRole",
        WHY_NAME,
    ),
    (
        PO,
        "test/checks/rolebindingClusterAdminRole/success.gce_calico_binding.yaml",
        "rolebindingClusterAdminRole",
        WHY_GCE,
    ),
    (
        PO,
        "test/checks/rolebindingClusterAdminRole/success.system_prefix_binding.yaml",
        "rolebindingClusterAdminRole",
        WHY_NAME,
    ),
    (
        PO,
        "test/checks/rolebindingClusterRolePodExecAttach/failure.binding_points_to_missing_ref.yaml",
        "rolebindingClusterRolePodExecAttach",
        WHY_MISSING,
    ),
    (
        PO,
        "test/checks/rolebindingClusterRolePodExecAttach/success.binding_references_role.yaml",
        "rolebindingClusterRolePodExecAttach",
        WHY_PODS,
    ),
    (
        PO,
        "test/checks/rolebindingClusterRolePodExecAttach/success.gce_calico_binding.yaml",
        "rolebindingClusterRolePodExecAttach",
        WHY_GCE,
    ),
    (
        PO,
        "test/checks/rolebindingClusterRolePodExecAttach/success.system_prefix_binding.yaml",
        "rolebindingClusterRolePodExecAttach",
        WHY_NAME,
    ),
    (
        PO,
        "test/checks/rolebindingRolePodExecAttach/failure.binding_points_to_missing_ref.yaml",
        "rolebindingRolePodExecAttach",
        WHY_MISSING,
    ),
    (
        PO,
        "test/checks/rolebindingRolePodExecAttach/success.allow_unrelated_perms.yaml",
        "rolebindingRolePodExecAttach",
        WHY_PODS,
    ),
    (
        PO,
        "test/checks/rolebindingRolePodExecAttach/success.binding_references_role.yaml",
        "rolebindingRolePodExecAttach",
        WHY_PODS,
    ),
    (
        PO,
        "test/checks/rolebindingRolePodExecAttach/success.gce_calico_binding.yaml",
        "rolebindingRolePodExecAttach",
        WHY_GCE,
    ),
    (
        PO,
        "test/checks/rolebindingRolePodExecAttach/success.role_binding_cluster_role_binding.yaml",
        "rolebindingRolePodExecAttach",
        WHY_WILD,
    ),
    (
        PO,
        "test/checks/rolebindingRolePodExecAttach/success.system_prefix_binding.yaml",
        "rolebindingRolePodExecAttach",
        WHY_NAME,
    ),
];

/// kube-linter violation counts tollgate differs from on purpose: (fixture, check, why).
const COUNT_BY_DESIGN: &[(&str, &str, &str)] = &[
    (
        "tests/checks/access-to-secrets.yml",
        "access-to-secrets",
        "its violation is a namespaced RoleBinding within one environment, which tollgate does not report (see BY_DESIGN)",
    ),
    (
        "tests/checks/drop-net-raw-capability.yml",
        "drop-net-raw-capability",
        "tollgate reports the missing `drop: [ALL]` of each container and, separately, each added NET_RAW (a baseline violation)",
    ),
    (
        "tests/checks/run-as-non-root.yml",
        "run-as-non-root",
        "two of its violations are `runAsGroup: 0` with a non-root user, which tollgate does not report",
    ),
    (
        "tests/checks/docker-sock.yml",
        "docker-sock",
        "tollgate reports every hostPath volume; the fixture's compliant objects mount /var/run/thing.sock",
    ),
];

/// Fixtures whose objects tollgate does not evaluate, with the reason: (tool, fixture, why).
const NOT_COMPARED: &[(&str, &str, &str)] = &[
    (
        PO,
        "test/checks/runAsRootAllowed/failure.yaml",
        "declares `apiVersion: v1` for a Deployment, which the API server rejects; tollgate does not treat it as a workload",
    ),
    (
        PO,
        "test/checks/runAsRootAllowed/success.yaml",
        "declares `apiVersion: v1` for a Deployment, which the API server rejects; tollgate does not treat it as a workload",
    ),
];

/// One comparison.
struct Case {
    mapping: &'static Mapping,
    fixture: String,
    config: String,
    peer_fails: bool,
    tollgate_fails: bool,
    /// The mapped rules that reported something.
    fired: Vec<&'static str>,
    peer_count: Option<u64>,
    tollgate_count: usize,
}

/// tollgate configuration equivalent to a kube-score run configuration. Unknown ones fail the
/// test, so that no case is compared under the wrong settings.
fn kube_score_config(config: &str) -> String {
    let ignore_cpu = config.contains("IgnoreContainerCpuLimitRequirement: true");
    let ignore_memory = config.contains("IgnoreContainerMemoryLimitRequirement: true");
    match (ignore_cpu, ignore_memory) {
        // No limit required at all: `resource-limits` has nothing left to check.
        (true, true) => "rules:\n  disable: [resource-limits]\n".to_string(),
        (true, false) => "resources:\n  require_cpu_limit: false\n".to_string(),
        (false, true) => panic!("no tollgate equivalent for kube-score config {config}"),
        (false, false) => {
            let known = config.contains("(testExpectedScore default)")
                || config.contains("EnabledOptionalTests")
                || config.contains("UseOptionalChecksAnnotation: true")
                || config.contains("IgnoreContainerCpuLimitRequirement: false");
            assert!(known, "unknown kube-score config: {config}");
            String::new()
        }
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `(rule, message)` of the findings of `rules` on `fixture` under `config` whose message
/// passes the mapping's filter.
fn tollgate_findings(
    fixture: &Path,
    rules: &[&'static str],
    message: Option<&str>,
    config: &Path,
) -> Vec<(&'static str, String)> {
    let options = ScanOptions {
        paths: vec![fixture.to_path_buf()],
        run: RunOptions {
            config: Some(config.to_path_buf()),
            select: rules.iter().map(|r| r.to_string()).collect(),
            jobs: Some(1),
            ..Default::default()
        },
        ..Default::default()
    };
    let outcome =
        scan(&options, Vec::new()).unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
    assert!(
        !outcome.has_errors(),
        "{}: {:?}",
        fixture.display(),
        outcome.notices
    );
    outcome
        .findings
        .iter()
        .filter(|f| message.is_none_or(|m| f.message.contains(m)))
        .filter_map(|f| {
            let rule = rules.iter().find(|r| **r == f.rule)?;
            Some((*rule, f.message.clone()))
        })
        .collect()
}

/// Peer expectations as (fixture, expected outcome, config, violation count).
fn expectations(tool: &str, check: &str) -> Vec<(String, String, String, Option<u64>)> {
    let json = read_json(&Path::new(PEERS).join(tool).join("expectations.json"));
    let mut out = Vec::new();
    for (fixture, checks) in json["fixtures"].as_object().expect("fixtures") {
        let Some(entry) = checks.get(check) else {
            continue;
        };
        let entries = match entry {
            Value::Array(list) => list.clone(),
            one => vec![one.clone()],
        };
        for e in entries {
            let expected = e["expected"].as_str().expect("expected").to_string();
            let config = e["config"].as_str().unwrap_or("").to_string();
            out.push((
                fixture.clone(),
                expected,
                config,
                e["violation_count"].as_u64(),
            ));
        }
    }
    out
}

fn run_cases(configs: &Path) -> Vec<Case> {
    let mut config_files: HashMap<String, PathBuf> = HashMap::new();
    let mut cases = Vec::new();
    for mapping in MAPPINGS {
        let entries = expectations(mapping.tool, mapping.check);
        assert!(
            !entries.is_empty(),
            "{} `{}` has no expectations",
            mapping.tool,
            mapping.check
        );
        for (fixture, expected, peer_config, peer_count) in entries {
            if NOT_COMPARED
                .iter()
                .any(|(t, f, _)| *t == mapping.tool && *f == fixture)
            {
                continue;
            }
            let config = if mapping.tool == KS {
                kube_score_config(&peer_config)
            } else {
                String::new()
            };
            let next = config_files.len();
            let config_path = config_files
                .entry(config.clone())
                .or_insert_with(|| {
                    let path = configs.join(format!("tollgate-{next}.yaml"));
                    std::fs::write(&path, &config).unwrap();
                    path
                })
                .clone();
            let path = Path::new(PEERS).join(mapping.tool).join(&fixture);
            let found = tollgate_findings(&path, mapping.rules, mapping.message, &config_path);
            let peer_fails = match expected.as_str() {
                "fail" | "warn" => true,
                "pass" => false,
                other => panic!("{fixture}: unexpected outcome {other}"),
            };
            cases.push(Case {
                mapping,
                fixture,
                config,
                peer_fails,
                tollgate_fails: !found.is_empty(),
                fired: mapping
                    .rules
                    .iter()
                    .copied()
                    .filter(|r| found.iter().any(|(rule, _)| rule == r))
                    .collect(),
                peer_count: if mapping.tool == KL { peer_count } else { None },
                tollgate_count: found.len(),
            });
        }
    }
    cases
}

fn by_design(case: &Case) -> Option<&'static str> {
    BY_DESIGN
        .iter()
        .find(|(tool, fixture, check, _)| {
            *tool == case.mapping.tool && *fixture == case.fixture && *check == case.mapping.check
        })
        .map(|(.., why)| *why)
}

fn count_by_design(case: &Case) -> Option<&'static str> {
    COUNT_BY_DESIGN
        .iter()
        .find(|(fixture, check, _)| *fixture == case.fixture && *check == case.mapping.check)
        .map(|(.., why)| *why)
}

#[derive(Default)]
struct Tally {
    cases: usize,
    agree: usize,
    by_design: usize,
    unexplained: usize,
    counts: usize,
    counts_equal: usize,
}

impl Tally {
    fn add(&mut self, case: &Case) {
        self.add_outcome(case, case.tollgate_fails);
    }

    /// Adds a case to one rule's tally. Where a peer check covers several rules (kube-score
    /// `Pod Probes`, `Container Resources`), a passing fixture must pass each rule, and a
    /// failing one counts for each rule by the combined outcome.
    fn add_for_rule(&mut self, case: &Case, rule: &str) {
        let fails = if case.peer_fails {
            case.tollgate_fails
        } else {
            case.fired.contains(&rule)
        };
        self.add_outcome(case, fails);
    }

    fn add_outcome(&mut self, case: &Case, tollgate_fails: bool) {
        self.cases += 1;
        if case.peer_fails == tollgate_fails {
            self.agree += 1;
        } else if by_design(case).is_some() {
            self.by_design += 1;
        } else {
            self.unexplained += 1;
        }
        if let Some(count) = case.peer_count {
            self.counts += 1;
            if count == case.tollgate_count as u64 {
                self.counts_equal += 1;
            }
        }
    }

    /// Agreement on the cases where tollgate and the peer mean to check the same thing.
    fn scoped(&self) -> f64 {
        let compared = self.cases - self.by_design;
        if compared == 0 {
            1.0
        } else {
            self.agree as f64 / compared as f64
        }
    }

    fn raw(&self) -> f64 {
        self.agree as f64 / self.cases.max(1) as f64
    }

    fn row(&self, labels: &[&str]) -> String {
        let counts = if self.counts == 0 {
            "-".to_string()
        } else {
            format!("{}/{}", self.counts_equal, self.counts)
        };
        format!(
            "| {} | {} | {}/{} ({:.0}%) | {} | {:.0}% | {counts} |\n",
            labels.join(" | "),
            self.cases,
            self.agree,
            self.cases,
            100.0 * self.raw(),
            self.by_design,
            100.0 * self.scoped()
        )
    }
}

fn header(labels: &[&str]) -> String {
    let columns = [
        "cases",
        "agree (raw)",
        "by design",
        "agree (same scope)",
        "kube-linter counts equal",
    ];
    let all: Vec<&str> = labels.iter().chain(&columns).copied().collect();
    format!("| {} |\n|{}\n", all.join(" | "), "---|".repeat(all.len()))
}

#[test]
fn workload_rules_agree_with_peer_tools() {
    let configs = tempfile::tempdir().unwrap();
    let cases = run_cases(configs.path());

    let mut report = String::new();
    let mut per_check: BTreeMap<(&str, String, &str, &str), Tally> = BTreeMap::new();
    let mut per_rule: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut per_family: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut total = Tally::default();
    let mut problems = Vec::new();
    for case in &cases {
        let m = case.mapping;
        per_check
            .entry((m.family, m.rules.join(" + "), m.tool, m.check))
            .or_default()
            .add(case);
        for rule in m.rules {
            per_rule.entry(rule).or_default().add_for_rule(case, rule);
        }
        per_family.entry(m.family).or_default().add(case);
        total.add(case);
        let outcome = |fails: bool| if fails { "fail" } else { "pass" };
        if case.peer_fails != case.tollgate_fails && by_design(case).is_none() {
            problems.push(format!(
                "unexplained: {} `{}` on {} (config {:?}): peer {}, tollgate {}",
                m.tool,
                m.check,
                case.fixture,
                case.config,
                outcome(case.peer_fails),
                outcome(case.tollgate_fails)
            ));
        }
        if let Some(count) = case.peer_count
            && count != case.tollgate_count as u64
            && count_by_design(case).is_none()
        {
            problems.push(format!(
                "unexplained count: kube-linter `{}` on {}: {count} violations, tollgate {}",
                m.check, case.fixture, case.tollgate_count
            ));
        }
    }

    report.push_str("\nAgreement per peer check\n\n");
    report.push_str(&header(&["family", "tollgate rule", "peer check"]));
    for ((family, rules, tool, check), tally) in &per_check {
        report.push_str(&tally.row(&[family, rules, &format!("{tool} `{check}`")]));
    }
    report.push_str(
        "\nAgreement per tollgate rule (all peers; a case of a peer check covering two rules counts for both)\n\n",
    );
    report.push_str(&header(&["rule"]));
    for (rule, tally) in &per_rule {
        report.push_str(&tally.row(&[rule]));
    }
    report.push_str("\nAgreement per family (all peers)\n\n");
    report.push_str(&header(&["family"]));
    for (family, tally) in &per_family {
        report.push_str(&tally.row(&[family]));
    }
    report.push_str(&total.row(&["**all**"]));

    report.push_str("\nDifferences by design\n\n");
    for (tool, fixture, check, why) in BY_DESIGN {
        writeln!(report, "- {tool} `{check}` on `{fixture}`: {why}").unwrap();
        let listed = cases.iter().filter(|c| {
            c.mapping.tool == *tool && c.fixture == *fixture && c.mapping.check == *check
        });
        let mut seen = false;
        for case in listed {
            seen = true;
            if case.peer_fails == case.tollgate_fails {
                problems.push(format!(
                    "stale BY_DESIGN entry: {tool} `{check}` on {fixture} now agrees"
                ));
            }
        }
        if !seen {
            problems.push(format!(
                "BY_DESIGN names no case: {tool} `{check}` on {fixture}"
            ));
        }
    }
    for (fixture, check, why) in COUNT_BY_DESIGN {
        let case = cases
            .iter()
            .find(|c| c.mapping.tool == KL && c.fixture == *fixture && c.mapping.check == *check);
        match case {
            Some(case) => {
                let peer = case.peer_count.unwrap_or_default();
                writeln!(
                    report,
                    "- kube-linter `{check}` on `{fixture}`: {peer} violations, tollgate {}: {why}",
                    case.tollgate_count
                )
                .unwrap();
                if peer == case.tollgate_count as u64 {
                    problems.push(format!(
                        "stale COUNT_BY_DESIGN entry: `{check}` on {fixture} now agrees"
                    ));
                }
            }
            None => problems.push(format!(
                "COUNT_BY_DESIGN names no case: `{check}` on {fixture}"
            )),
        }
    }
    report.push_str("\nNot compared\n\n");
    for (tool, fixture, why) in NOT_COMPARED {
        writeln!(report, "- {tool} `{fixture}`: {why}").unwrap();
    }
    println!("{report}");

    for (family, tally) in &per_family {
        if tally.scoped() < 0.95 {
            problems.push(format!(
                "{family}: {:.1}% agreement on cases of the same scope, below 95%",
                100.0 * tally.scoped()
            ));
        }
    }
    assert!(problems.is_empty(), "{report}\n{}", problems.join("\n"));
}

#[test]
fn every_compared_rule_documents_how_it_differs() {
    for mapping in MAPPINGS {
        for id in mapping.rules {
            let rule = tollgate::rules::find(id).unwrap_or_else(|| panic!("{id} is not a rule"));
            assert!(
                rule.meta().doc.contains("### Compared with other tools"),
                "{id}: docs lack `### Compared with other tools`"
            );
        }
    }
}

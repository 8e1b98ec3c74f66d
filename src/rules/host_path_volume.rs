//! `host-path-volume`: pod volumes that mount a directory or file of the node.

use crate::model::value::Value;
use crate::rules::Scope;
use crate::rules::support::pod_security;

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::flag;
use crate::rules::support::pod_security::check_control;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct HostPathVolume;

static META: RuleMeta = RuleMeta {
    id: "host-path-volume",
    title: "Pod mounts a path of the node (hostPath volume)",
    summary: "A hostPath volume (medium for non-system paths)",
    severity: Severity::High,
    tags: &["security", "pod-security", "pss-baseline", "host-access"],
    remediation: "Replace the `hostPath` volume with a PersistentVolumeClaim, `emptyDir`, ConfigMap or a CSI driver; if the node path is really needed, mount it `readOnly` and as narrowly as possible.",
    doc: r#"A workload with a `hostPath` volume, at the volume's `hostPath` line. Severity
depends on the path (after removing `.`/`..` and duplicate slashes):

- **high** for the node's root `/`, container runtime sockets (`docker.sock`,
  `containerd.sock`, `crio.sock`, `cri-dockerd.sock`, `podman.sock`) wherever they are, and
  anything at, under or above `/etc`, `/proc`, `/sys`, `/dev`, `/boot`, `/root`, `/run`,
  `/var/run`, `/usr`, `/lib`, `/bin`, `/sbin`, `/var/lib/kubelet`, `/var/lib/rancher` (K3s
  state and tokens), `/var/lib/docker`, `/var/lib/containerd` and `/var/lib/etcd` ("above"
  means mounting `/var` counts, because it contains `/var/run`);
- **medium** for any other path (`/var/log`, `/data`, `/mnt/disks/…`).

The message says which containers mount the volume and whether any mount is writable.

### Why

A `hostPath` volume bypasses every isolation the pod has: the container reads and, unless
the mount is read-only, writes the node's files. The runtime socket gives full control of
every container on the node (start a privileged one, read any secret); `/etc` holds the
node's users, kubelet and K3s configuration (`/etc/rancher/k3s/k3s.yaml` is a cluster-admin
kubeconfig); `/proc` and `/sys` expose and control the kernel; `/var/lib/rancher` holds the
K3s server token. A hostPath also ties the pod's data to one node. The Pod Security
Standards forbid hostPath volumes from the *baseline* profile up. Other paths are reported
as **medium**: the pod still reads or writes node files that nothing schedules or backs up.

Node agents (Cilium, Longhorn, CSI drivers, log shippers) need host paths by design; they
are still reported so that the exception is recorded — exempt them in `tollgate.yaml` or
with an `ignore.tollgate.dev/host-path-volume` annotation, with a reason.

### Failing example

```yaml
    spec:
      containers:
        - name: builder
          image: harbor.example.com/ci/builder:3.2.0
          volumeMounts:
            - name: docker
              mountPath: /var/run/docker.sock
      volumes:
        - name: docker
          hostPath:
            path: /var/run/docker.sock
```

### Passing example

```yaml
    spec:
      containers:
        - name: builder
          image: harbor.example.com/ci/builder:3.2.0
          volumeMounts:
            - name: work
              mountPath: /work
      volumes:
        - name: work
          emptyDir: {}
```

### Remediation

Use storage that Kubernetes manages: a PersistentVolumeClaim (Longhorn, local-path), an
`emptyDir`, a ConfigMap or Secret, or a CSI driver. Build images without the Docker socket
(BuildKit rootless, Kaniko). Where a node path is unavoidable, mount the narrowest path,
`readOnly: true`, and exempt that workload with a reason.

### Pod Security Standards

Level **baseline** (control *HostPath Volumes*). In a namespace labelled
`pod-security.kubernetes.io/enforce: baseline` or `restricted`, or held to one of them by
`pod_security:` in `tollgate.yaml`, every finding is **high** and says that admission rejects
the pod.

### Compared with other tools

Polaris `hostPathSet` reports every hostPath volume, like tollgate. kube-linter splits the
subject into narrower checks: `sensitive-host-mounts` (a list of system directories),
`docker-sock` (paths ending in `docker.sock`) and `writable-host-mount` (any path mounted
writable). tollgate agrees with each on whether a fixture has a problem, but reports every
hostPath, so where kube-linter's `docker-sock` fixture mounts another socket
(`/var/run/thing.sock`) tollgate reports it too (as high: it lies under `/var/run`) and the
violation counts differ on purpose.
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

/// Directories whose mount (or the mount of one of their parents) exposes the node.
const SENSITIVE_DIRS: [&str; 19] = [
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/run",
    "/var/run",
    "/usr",
    "/lib",
    "/bin",
    "/sbin",
    "/var/lib/kubelet",
    "/var/lib/rancher",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/etcd",
    "/var/lib/cri-o",
    "/var/lib/dockershim",
];

/// File names of container runtime sockets.
const RUNTIME_SOCKETS: [&str; 6] = [
    "docker.sock",
    "containerd.sock",
    "crio.sock",
    "cri-dockerd.sock",
    "podman.sock",
    "dockershim.sock",
];

/// Path components after removing empty parts, `.` and `..` (lexically).
fn components(path: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Why mounting `path` exposes the node, if it does.
pub(crate) fn sensitive_reason(path: &str) -> Option<String> {
    let parts = components(path);
    if parts.is_empty() {
        return Some("the node's root filesystem".to_string());
    }
    if let Some(last) = parts.last()
        && RUNTIME_SOCKETS.contains(last)
    {
        return Some(
            "a container runtime socket, which controls every container on the node".to_string(),
        );
    }
    for dir in SENSITIVE_DIRS {
        let dir_parts = components(dir);
        if parts.starts_with(&dir_parts) {
            return Some(format!("inside `{dir}` on the node"));
        }
        if dir_parts.starts_with(&parts) {
            return Some(format!("a parent of `{dir}` on the node"));
        }
    }
    None
}

impl Rule for HostPathVolume {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        check_control(&META, object, ctx, out, |spec, _, out| {
            let containers = spec.containers();
            for (pointer, volume) in spec.volumes() {
                let Some(host_path) = volume.get("hostPath").filter(|v| !v.is_null()) else {
                    continue;
                };
                // A missing path is invalid (the API server rejects it); it is not the root.
                let path = host_path
                    .get("path")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .trim();
                let name = volume.get("name").and_then(Value::as_str).unwrap_or("");
                let mut mounted_by = Vec::new();
                let mut writable = Vec::new();
                for container in &containers {
                    let mounts = container.get("volumeMounts").and_then(Value::as_array);
                    for mount in mounts.into_iter().flatten() {
                        if mount.get("name").and_then(Value::as_str) != Some(name) {
                            continue;
                        }
                        mounted_by.push(format!("`{}`", container.name));
                        if mount.get("readOnly").and_then(flag) != Some(true) {
                            writable.push(format!("`{}`", container.name));
                        }
                    }
                }
                mounted_by.dedup();
                writable.dedup();
                let usage = if !writable.is_empty() {
                    format!(", writable by {}", writable.join(", "))
                } else if !mounted_by.is_empty() {
                    format!(", read-only by {}", mounted_by.join(", "))
                } else {
                    String::new()
                };
                let subject = format!(
                    "{} mounts host path `{path}` (volume `{name}`{usage})",
                    object.display()
                );
                let reason = if path.is_empty() {
                    None
                } else {
                    sensitive_reason(path)
                };
                let violation = match reason {
                    Some(reason) => Violation::new(
                        format!("{pointer}/hostPath"),
                        format!("{subject}: {reason}"),
                    )
                    .with_severity(Severity::High),
                    None => Violation::new(format!("{pointer}/hostPath"), subject)
                        .with_severity(Severity::Medium),
                };
                out.push(violation);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        for high in [
            "/",
            "//",
            "/etc",
            "/etc/",
            "/etc/rancher/k3s",
            "/var/run/docker.sock",
            "/run/k3s/containerd/containerd.sock",
            "/var/../etc",
            "/var",
            "/var/lib",
            "/var/lib/rancher/k3s/server/token",
            "/proc",
            "/sys/fs/bpf",
            "/srv/docker.sock",
        ] {
            assert!(
                sensitive_reason(high).is_some(),
                "{high} should be sensitive"
            );
        }
        for medium in [
            "/var/log",
            "/data",
            "/mnt/disks/ssd0",
            "/etcd-data",
            "/var/lib/longhorn",
            "/opt/local-path-provisioner",
        ] {
            assert_eq!(sensitive_reason(medium), None, "{medium}");
        }
    }
}

#[cfg(test)]
mod severity_tests {
    use super::*;
    use crate::rules::support::testing::violations;

    #[test]
    fn severity_follows_the_path_and_the_message_says_who_writes() {
        let found = violations(
            &HostPathVolume,
            r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: shipper, namespace: logging}
spec:
  template:
    spec:
      containers:
        - name: shipper
          volumeMounts:
            - {name: logs, mountPath: /var/log, readOnly: true}
            - {name: sock, mountPath: /run/containerd/containerd.sock}
      volumes:
        - name: logs
          hostPath: {path: /var/log}
        - name: sock
          hostPath: {path: /run/containerd/containerd.sock}
"#,
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].severity, Some(Severity::Medium));
        assert_eq!(found[0].pointer, "/spec/template/spec/volumes/0/hostPath");
        assert!(
            found[0].message.contains("read-only by `shipper`"),
            "{}",
            found[0].message
        );
        assert_eq!(found[1].severity, Some(Severity::High));
        assert!(
            found[1].message.contains("writable by `shipper`"),
            "{}",
            found[1].message
        );
        assert!(
            found[1].message.contains("container runtime socket"),
            "{}",
            found[1].message
        );
    }

    #[test]
    fn a_hostpath_without_a_path_is_not_the_root() {
        let found = violations(
            &HostPathVolume,
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  volumes:\n    - {name: a, hostPath: {}}\n    - {name: b, hostPath: /etc}\n",
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|v| v.severity == Some(Severity::Medium)));
    }
}

//! `pss-volume-types`: volumes of types the restricted level forbids (Pod Security Standards).

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::Scope;
use crate::rules::support::pod_security;
use crate::rules::support::pod_security::check_control;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct PssVolumeTypes;

/// Volume sources the restricted level forbids, except `hostPath` (`host-path-volume`).
const FORBIDDEN: [&str; 20] = [
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "iscsi",
    "nfs",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
];

static META: RuleMeta = RuleMeta {
    id: "pss-volume-types",
    title: "Pod uses a volume type the restricted level forbids",
    summary: "A volume type the restricted level forbids (nfs, iscsi, gitRepo, cloud disks…)",
    severity: Severity::Low,
    tags: &["security", "pod-security", "pss-restricted"],
    remediation: "Mount storage through a PersistentVolumeClaim (or a CSI driver) instead of an inline volume source.",
    doc: r#"A workload with an inline volume of a type outside the restricted level's list
(`configMap`, `csi`, `downwardAPI`, `emptyDir`, `ephemeral`, `persistentVolumeClaim`,
`projected`, `secret`): `nfs`, `iscsi`, `rbd`, `cephfs`, `gitRepo`, the cloud disks and the
other in-tree sources. One finding per volume, at its source. This is the *Volume Types*
control of the Pod Security Standards, level **restricted**. `hostPath` is forbidden from
the baseline level up and is `host-path-volume`'s finding, not repeated here.

### Why

Inline volume sources let whoever writes the pod choose the server, share and credentials:
an NFS export of another team, an iSCSI target, a Ceph pool. Through a PersistentVolumeClaim
the cluster administrator decides what storage exists. `gitRepo` is deprecated and has run
`git` as root on the node. Severity is **low**.

### Failing example

```yaml
      volumes:
        - name: shared
          nfs:
            server: nas.example.com
            path: /exports/shop
```

### Passing example

```yaml
      volumes:
        - name: shared
          persistentVolumeClaim:
            claimName: shop-shared
```

### Remediation

Create a PersistentVolume (or a StorageClass with a CSI driver) for the storage and claim it
with a PersistentVolumeClaim; replace `gitRepo` with an init container that clones into an
`emptyDir`.

### Pod Security Standards

Level **restricted** (control *Volume Types*). In a namespace labelled
`pod-security.kubernetes.io/enforce: restricted`, or held to it by `pod_security:` in
`tollgate.yaml`, findings are **high** and say that admission rejects the pod.

### Compared with other tools

kube-linter, kube-score and Polaris have no check of volume types besides hostPath.
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

impl Rule for PssVolumeTypes {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        check_control(&META, object, ctx, out, |spec, _, out| {
            for (pointer, volume) in spec.volumes() {
                let name = volume.get("name").and_then(|n| n.as_str()).unwrap_or("");
                for source in FORBIDDEN {
                    if volume.get(source).is_some_and(|v| !v.is_null()) {
                        out.push(Violation::new(
                            format!("{pointer}/{source}"),
                            format!(
                                "{} mounts volume `{name}` of type `{source}`, which the restricted level does not allow",
                                object.display()
                            ),
                        ));
                    }
                }
            }
        });
    }
}

//! Rendered kustomize objects back at the lines they were written on (`--kustomize`).
//!
//! kustomize only says where an object came from when the kustomization being built asks
//! (`buildMetadata: [originAnnotations]`), and tollgate never writes into the user's tree. So
//! the overlay is built through a wrapper kustomization in a temporary folder outside the tree,
//! which includes the overlay and asks for the annotations ([`Wrapper`]). Every rendered object
//! then carries `config.kubernetes.io/origin`, with paths relative to the wrapper's folder:
//!
//! - `path`: the file the object was read from. The document is the one of the same kind in
//!   that file whose name the rendered name contains (kustomize names only grow, by
//!   `namePrefix`/`nameSuffix`); every node of the rendered value takes the position of the
//!   same node there (items of lists matched by `name`), a node the file does not have takes
//!   its nearest parent's;
//! - `configuredIn` + `configuredBy` (ConfigMapGenerator, SecretGenerator): the generator's
//!   entry in that kustomization, keys at their literal or env-file lines;
//! - `repo`/`ref`: a remote base, no file of the scanned tree: the object stays at the rendered
//!   stream, as do objects of other generators (Helm charts) and files outside the scan root,
//!   which are never read.
//!
//! Values the kustomizations between the overlay and the file produced point at the build-file
//! line, as in the static model (DESIGN §13): the `namespace:` line, the `images:` entry, and
//! fields a patch sets (the patch's line; an inline patch's entry). A Secret's fields never
//! point into a patch, whose values would then be quoted.
//!
//! The annotation is taken off every object before anything else sees it: rules, policies and
//! fingerprints see what a plain `kustomize build` gives.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use crate::model::value::Value;
use serde::Deserialize;

use crate::gitops::kustomize::{self, Kustomization};
use crate::gitops::paths::{is_remote, join};
use crate::model::object::{Object, Origin};
use crate::model::spans::{Pos, SpanNode, SpanTree};
use crate::source::files::{self, Capped};
use crate::source::yaml::parse_stream;

mod patches;
mod project;

use self::patches::{Patch, PatchWalk, names_object, patches_of};
pub use self::project::project;
use self::project::{all_nodes, child_slices, same_object};

/// The annotation kustomize writes with `buildMetadata: [originAnnotations]`.
pub const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";

/// A rendered object's place in the sources, replacing its place in the rendered stream.
#[derive(Debug, Clone)]
pub struct Relocated {
    pub origin: Origin,
    pub spans: SpanTree,
    /// Values a build file produced: `(JSON pointer, path, position)`.
    pub produced: Vec<(String, String, Pos)>,
    /// Made by a generator (no document of its own).
    pub generated: bool,
}

/// Rendered objects of one stream by `(document, item)`, where they were found in the sources.
pub type Relocations = HashMap<(usize, Option<usize>), Relocated>;

/// A temporary kustomization that includes the overlay and asks for origin annotations. The
/// folder is removed when the wrapper is dropped.
#[derive(Debug)]
pub struct Wrapper {
    /// The wrapper's folder, symlinks resolved: origin paths are relative to it.
    pub dir: PathBuf,
}

impl Wrapper {
    /// Writes the wrapper for `overlay` in a new folder of the system's temporary folder.
    pub fn new(overlay: &Path) -> std::io::Result<Wrapper> {
        let overlay = std::fs::canonicalize(overlay)?;
        let base = std::fs::canonicalize(std::env::temp_dir())?;
        let mut attempt = 0u32;
        let dir = loop {
            let candidate = base.join(format!(
                "tollgate-kustomize-{}-{}-{attempt}",
                std::process::id(),
                unique()
            ));
            match std::fs::create_dir(&candidate) {
                Ok(()) => break candidate,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        let wrapper = Wrapper { dir };
        let relative = relative_path(&wrapper.dir, &overlay).ok_or_else(|| {
            std::io::Error::other("the overlay and the temporary folder share no root")
        })?;
        // kustomize refuses absolute resources; a JSON string is a YAML string.
        let entry = serde_json::to_string(&relative).map_err(std::io::Error::other)?;
        std::fs::write(
            wrapper.dir.join("kustomization.yaml"),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {entry}\nbuildMetadata: [originAnnotations]\n"
            ),
        )?;
        Ok(wrapper)
    }
}

impl Drop for Wrapper {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A number that differs between wrappers of one process (renders run in parallel).
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `to` relative to `from` (both absolute, symlinks resolved), `/`-separated.
fn relative_path(from: &Path, to: &Path) -> Option<String> {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    if from.first() != to.first() {
        return None;
    }
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    Some(if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    })
}

/// Takes kustomize's origin annotation off `object` (and the `annotations` map it leaves
/// empty), keeping the spans aligned with the value. Returns the annotation's text.
pub fn take_origin(object: &mut Object) -> Option<String> {
    let before = object.value.clone();
    let metadata = object.value.get_mut("metadata")?.as_object_mut()?;
    let annotations = metadata.get_mut("annotations")?.as_object_mut()?;
    let text = annotations.shift_remove(ORIGIN_ANNOTATION)?;
    if annotations.is_empty() {
        metadata.shift_remove("annotations");
    }
    object.spans = project(&object.value, &before, &object.spans);
    Some(text.as_str().unwrap_or_default().to_string())
}

/// Blanks the lines of origin annotations in a rendered stream (line numbers kept), so that a
/// snippet of the stream never shows one.
pub fn blank_origin_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut block_indent: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let content = line.trim();
        if let Some(at) = block_indent {
            if content.is_empty() || indent > at {
                out.push_str(if line.ends_with('\n') { "\n" } else { "" });
                continue;
            }
            block_indent = None;
        }
        if content.starts_with(&format!("{ORIGIN_ANNOTATION}:")) {
            block_indent = Some(indent);
            out.push_str(if line.ends_with('\n') { "\n" } else { "" });
            continue;
        }
        out.push_str(line);
    }
    out
}

/// What the origin annotation says.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Declared {
    path: Option<String>,
    repo: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<String>,
    configured_in: Option<String>,
    configured_by: Option<ConfiguredBy>,
}

#[derive(Debug, Default, Deserialize)]
struct ConfiguredBy {
    kind: Option<String>,
}

/// A kustomization as the mapping needs it.
#[derive(Debug, Clone)]
struct Build {
    k: Kustomization,
    patches: Vec<Patch>,
}

/// Maps the objects of one rendered overlay to their sources.
pub struct Mapper {
    /// The scan root, symlinks resolved: nothing outside it is read.
    root: PathBuf,
    /// The wrapper's folder: origin paths are relative to it.
    build_dir: PathBuf,
    /// The overlay's folder, as a display path (`""` for the root).
    overlay: String,
    files: HashMap<String, Option<Vec<Object>>>,
    builds: HashMap<String, Option<Rc<Build>>>,
    chains: HashMap<String, Vec<String>>,
}

impl Mapper {
    pub fn new(root: &Path, build_dir: &Path, overlay_display: &str) -> Option<Mapper> {
        Some(Mapper {
            root: std::fs::canonicalize(root).ok()?,
            build_dir: build_dir.to_path_buf(),
            overlay: if overlay_display == "." {
                String::new()
            } else {
                overlay_display.trim_end_matches('/').to_string()
            },
            files: HashMap::new(),
            builds: HashMap::new(),
            chains: HashMap::new(),
        })
    }

    /// Where `object` (its annotation taken off, `declared` its text) was written, or why
    /// that cannot be said.
    pub fn map(&mut self, object: &Object, declared: &str) -> Result<Relocated, String> {
        let declared: Declared = yaml_serde::from_str(declared)
            .map_err(|_| "its origin annotation could not be read".to_string())?;
        if let Some(repo) = &declared.repo {
            let at = declared
                .reference
                .as_deref()
                .map_or(String::new(), |r| format!("?ref={r}"));
            return Err(format!(
                "it comes from the remote base {repo}{at}, not from a file of the scanned tree"
            ));
        }
        if let Some(path) = &declared.path {
            return self.map_file(object, path);
        }
        let kind = declared
            .configured_by
            .as_ref()
            .and_then(|c| c.kind.as_deref())
            .unwrap_or("a generator");
        match (&declared.configured_in, kind) {
            (Some(file), "ConfigMapGenerator" | "SecretGenerator") => {
                self.map_generated(object, file, kind == "SecretGenerator")
            }
            (Some(file), _) => Err(format!(
                "it is made by {kind} ({}), which has no source line for it",
                self.display_of(file).unwrap_or_else(|_| file.clone())
            )),
            (None, _) => Err("its origin annotation names no source".to_string()),
        }
    }

    /// A path relative to the wrapper as a display path, when inside the scan root.
    fn display_of(&self, relative: &str) -> Result<String, String> {
        let absolute = files::normalize(&self.build_dir.join(relative));
        let inside = absolute
            .strip_prefix(&self.root)
            .map_err(|_| "its source is outside the scanned tree (not read)".to_string())?;
        let display = inside
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if display.is_empty() {
            return Err("its origin names the scan root, not a file".to_string());
        }
        Ok(display)
    }

    /// The text of a file of the scanned tree (never one a symlink leads out of).
    fn read(&self, display: &str) -> Option<String> {
        let path = self.root.join(display);
        let real = std::fs::canonicalize(&path).ok()?;
        if !real.starts_with(&self.root) {
            return None;
        }
        match files::read_capped(&real).ok()? {
            Capped::Bytes(bytes) => String::from_utf8(bytes).ok(),
            Capped::TooBig => None,
        }
    }

    fn source_objects(&mut self, display: &str) -> Option<&[Object]> {
        if !self.files.contains_key(display) {
            let objects = self
                .read(display)
                .map(|text| files::load_bytes(display, text.as_bytes()).objects);
            self.files.insert(display.to_string(), objects);
        }
        self.files.get(display)?.as_deref()
    }

    fn map_file(&mut self, object: &Object, relative: &str) -> Result<Relocated, String> {
        let display = self.display_of(relative)?;
        let objects = self
            .source_objects(&display)
            .ok_or_else(|| format!("`{display}` could not be read"))?;
        let source = same_object(objects, object)
            .ok_or_else(|| {
                format!(
                    "`{display}` has no {} whose name `{}` could come from",
                    object.kind, object.name
                )
            })?
            .clone();
        let spans = project(&object.value, &source.value, &source.spans);
        let produced = self.produced(object, &source, &display);
        Ok(Relocated {
            origin: source.origin.clone(),
            spans,
            produced,
            generated: false,
        })
    }

    fn map_generated(
        &mut self,
        object: &Object,
        relative: &str,
        secret: bool,
    ) -> Result<Relocated, String> {
        let display = self.display_of(relative)?;
        let build = self
            .build(&display)
            .ok_or_else(|| format!("`{display}` could not be read"))?;
        // The rendered name is the generator's, with prefixes, suffixes and the hash.
        let generator = build
            .k
            .generators
            .iter()
            .filter(|g| g.secret == secret && object.name.contains(&g.name))
            .max_by_key(|g| g.name.len())
            .ok_or_else(|| {
                format!(
                    "`{display}` has no generator whose name `{}` could come from",
                    object.name
                )
            })?;
        let made = generator
            .object(&build.k)
            .ok_or_else(|| "its generator makes no object".to_string())?;
        let produced = self.produced(object, &made, &display);
        Ok(Relocated {
            origin: made.origin.clone(),
            spans: SpanTree::default(),
            produced,
            generated: true,
        })
    }

    fn build(&mut self, display: &str) -> Option<Rc<Build>> {
        if let Some(found) = self.builds.get(display) {
            return found.clone();
        }
        let parsed = self.read(display).and_then(|text| {
            let read = |p: &str| self.read(p);
            let k = kustomize::parse(display, &text, &read, &mut Vec::new())?;
            let patches = patches_of(&k, &text);
            Some(Rc::new(Build { k, patches }))
        });
        self.builds.insert(display.to_string(), parsed.clone());
        parsed
    }

    /// The build file of a folder.
    fn build_in(&mut self, dir: &str) -> Option<String> {
        kustomize::FILE_NAMES.iter().find_map(|name| {
            let path = join(dir, name)?;
            self.root.join(&path).is_file().then_some(path)
        })
    }

    /// The build files from the overlay's down to the one that includes `target` (a file, or
    /// a build file itself), outermost first; empty when not found.
    fn chain(&mut self, target: &str) -> Vec<String> {
        if let Some(chain) = self.chains.get(target) {
            return chain.clone();
        }
        let mut stack = Vec::new();
        let found = match self.build_in(&self.overlay.clone()) {
            Some(top) => self.find(&top, target, &mut stack),
            None => false,
        };
        let chain = if found { stack } else { Vec::new() };
        self.chains.insert(target.to_string(), chain.clone());
        chain
    }

    fn find(&mut self, build_path: &str, target: &str, stack: &mut Vec<String>) -> bool {
        if stack.iter().any(|s| s == build_path) || stack.len() > 64 {
            return false;
        }
        stack.push(build_path.to_string());
        if build_path == target {
            return true;
        }
        let Some(build) = self.build(build_path) else {
            stack.pop();
            return false;
        };
        for entry in build.k.resources.iter().chain(&build.k.components) {
            if is_remote(&entry.target) {
                continue;
            }
            let Some(joined) = join(&build.k.dir, &entry.target) else {
                continue;
            };
            if joined == target {
                return true;
            }
            if let Some(sub) = self.build_in(&joined)
                && self.find(&sub, target, stack)
            {
                return true;
            }
        }
        stack.pop();
        false
    }

    /// What the build files between the overlay and `file` produced in `rendered`, applied to
    /// a copy of `source` innermost first (outer ones win), as the static model does.
    fn produced(
        &mut self,
        rendered: &Object,
        source: &Object,
        file: &str,
    ) -> Vec<(String, String, Pos)> {
        let chain = self.chain(file);
        let mut copy = source.clone();
        for build_path in chain.iter().rev() {
            let Some(build) = self.build(build_path) else {
                continue;
            };
            let mut layers = Vec::new();
            for entry in &build.k.components {
                if let Some(component) = join(&build.k.dir, &entry.target)
                    .and_then(|dir| self.build_in(&dir))
                    .filter(|c| !chain.contains(c))
                    .and_then(|c| self.build(&c))
                {
                    layers.push(component);
                }
            }
            layers.push(build);
            for layer in layers {
                if rendered.kind != "Secret" {
                    let mut found = Vec::new();
                    for patch in &layer.patches {
                        self.patch_fields(patch, rendered, source, &mut found);
                    }
                    copy.instance
                        .get_or_insert_with(Box::default)
                        .produced
                        .extend(found);
                }
                layer.k.apply(&mut copy);
            }
        }
        copy.instance.map(|i| i.produced).unwrap_or_default()
    }

    /// The fields `patch` sets in `rendered`, located in the patch.
    fn patch_fields(
        &mut self,
        patch: &Patch,
        rendered: &Object,
        source: &Object,
        out: &mut Vec<(String, String, Pos)>,
    ) {
        if let Some(target) = &patch.target
            && !target.selects(rendered, source)
        {
            return;
        }
        let (text, path) = match (&patch.file, &patch.inline) {
            (Some(file), _) => match self.read(file) {
                Some(text) => (text, file.clone()),
                None => return,
            },
            (None, Some(inline)) => (inline.clone(), patch.owner.clone()),
            (None, None) => return,
        };
        let inline = patch.file.is_none();
        for doc in parse_stream(&text).documents {
            let nodes = if inline {
                Vec::new()
            } else {
                all_nodes(&doc.spans)
            };
            let at = |nodes: &[SpanNode]| match nodes.first() {
                Some(n) if !inline => Pos {
                    line: n.line,
                    column: n.column,
                },
                _ => patch.pos,
            };
            match &doc.value {
                // JSON 6902: a list of operations.
                Value::Array(ops) => {
                    if patch.target.is_none() {
                        continue;
                    }
                    let children = child_slices(&nodes);
                    for (i, op) in ops.iter().enumerate() {
                        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
                        let Some(pointer) = op.get("path").and_then(Value::as_str) else {
                            continue;
                        };
                        if matches!(kind, "add" | "replace")
                            && !pointer.ends_with("/-")
                            && rendered.value.pointer(pointer).is_some()
                        {
                            let pos = at(children.get(i).copied().unwrap_or(&[]));
                            out.push((pointer.to_string(), path.clone(), pos));
                        }
                    }
                }
                // A strategic-merge patch: a partial object.
                Value::Object(map) => {
                    if patch.target.is_none() && !names_object(map, rendered, source) {
                        continue;
                    }
                    let mut walk = PatchWalk {
                        path: &path,
                        inline,
                        entry: patch.pos,
                        out,
                    };
                    walk.fields(
                        &doc.value,
                        &nodes,
                        Some(&rendered.value),
                        Some(&source.value),
                        &mut String::new(),
                    );
                }
                _ => {}
            }
        }
    }
}

/// The source files rendered objects now point at (for snippets).
pub fn relocate(
    objects: &mut [Object],
    relocations: &HashMap<String, Relocations>,
) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for object in objects {
        let Origin::File {
            path,
            document,
            item,
            ..
        } = &object.origin
        else {
            continue;
        };
        let Some(found) = relocations
            .get(&**path)
            .and_then(|r| r.get(&(*document, *item)))
        else {
            continue;
        };
        let stream = path.to_string();
        let found = found.clone();
        if let Origin::File { path, .. } = &found.origin {
            used.insert(path.to_string());
        }
        for (_, path, _) in &found.produced {
            used.insert(path.clone());
        }
        object.origin = found.origin;
        object.spans = found.spans;
        let instance = object.instance.get_or_insert_with(Box::default);
        // The rendered stream stays the first "build file": its folder places the object.
        instance.via.insert(0, stream);
        instance.produced.extend(found.produced);
        instance.generated |= found.generated;
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::files::load_bytes;

    fn object(text: &str) -> Object {
        load_bytes("x.yaml", text.as_bytes())
            .objects
            .into_iter()
            .next()
            .unwrap()
    }

    #[test]
    fn taking_the_annotation_keeps_every_line() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  annotations:\n    config.kubernetes.io/origin: |\n      path: base/cm.yaml\n  name: a\ndata:\n  k: v\n";
        let mut o = object(text);
        let taken = take_origin(&mut o).unwrap();
        assert_eq!(taken, "path: base/cm.yaml\n");
        assert!(o.value["metadata"].get("annotations").is_none());
        assert_eq!(o.locate("/metadata/name").line, 7);
        assert_eq!(o.locate("/data/k").line, 9);
        let blanked = blank_origin_lines(text);
        assert_eq!(blanked.lines().count(), text.lines().count());
        assert!(!blanked.contains("origin"), "{blanked}");
        assert!(blanked.contains("  name: a\n"));
    }

    #[test]
    fn projection_finds_named_items_and_falls_back_to_parents() {
        let source = object(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: side\n          image: a\n        - name: web\n          image: b\n",
        );
        let rendered = object(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: prod-web\n  namespace: shop\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - image: b\n        name: web\n      - image: a\n        name: side\n",
        );
        let spans = project(&rendered.value, &source.value, &source.spans);
        let mut moved = rendered.clone();
        moved.spans = spans;
        assert_eq!(
            moved.locate("/spec/template/spec/containers/0/image").line,
            12
        );
        assert_eq!(
            moved.locate("/spec/template/spec/containers/1/image").line,
            10
        );
        // Not in the source: the parent's line.
        assert_eq!(moved.locate("/spec/replicas").line, 5);
        assert_eq!(moved.locate("/metadata/namespace").line, 3);
    }

    #[test]
    fn patches_and_transformers_point_at_their_lines() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let write = |path: &str, text: &str| {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("base/kustomization.yaml", "resources: [dep.yaml]\n");
        write(
            "base/dep.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:1\n",
        );
        write(
            "overlay/kustomization.yaml",
            "namespace: prod\nresources:\n  - ../base\nimages:\n  - name: nginx\n    newTag: latest\npatches:\n  - path: ops.yaml\n    target: {kind: Deployment, name: web}\n  - patch: |-\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata: {name: web}\n      spec: {replicas: 4}\n",
        );
        write(
            "overlay/ops.yaml",
            "- op: add\n  path: /spec/template/spec/hostNetwork\n  value: true\n",
        );
        let rendered = object(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\nspec:\n  replicas: 4\n  template:\n    spec:\n      containers:\n      - image: nginx:latest\n        name: web\n      hostNetwork: true\n",
        );
        let mut mapper = Mapper::new(&root, &root.join("overlay"), "overlay").unwrap();
        let found = mapper.map(&rendered, "path: ../base/dep.yaml\n").unwrap();
        let mut moved = rendered.clone();
        moved.origin = found.origin;
        moved.spans = found.spans;
        moved.instance = Some(Box::new(crate::model::object::Instance {
            produced: found.produced,
            ..Default::default()
        }));
        let at = |pointer: &str| {
            let (path, pos) = moved.source_of(pointer).unwrap();
            (path.to_string(), pos.line)
        };
        let own = |path: &str, line: u32| (path.to_string(), line);
        assert_eq!(
            at("/spec/template/spec/containers/0/name"),
            own("base/dep.yaml", 9)
        );
        assert_eq!(
            at("/spec/template/spec/containers/0/image"),
            own("overlay/kustomization.yaml", 5)
        );
        assert_eq!(
            at("/metadata/namespace"),
            own("overlay/kustomization.yaml", 1)
        );
        // A JSON 6902 operation, and an inline patch (at its entry).
        assert_eq!(
            at("/spec/template/spec/hostNetwork"),
            own("overlay/ops.yaml", 1)
        );
        assert_eq!(at("/spec/replicas"), own("overlay/kustomization.yaml", 10));
        // Nothing outside the root is named.
        let outside = mapper.map(&rendered, "path: ../../../../../../etc/hostname\n");
        assert!(outside.unwrap_err().contains("outside the scanned tree"));
        let remote = mapper.map(
            &rendered,
            "path: a.yaml\nrepo: https://github.com/x/y\nref: v1\n",
        );
        assert!(
            remote
                .unwrap_err()
                .contains("https://github.com/x/y?ref=v1")
        );
    }

    #[test]
    fn relative_paths_climb_and_descend() {
        assert_eq!(
            relative_path(Path::new("/tmp/w"), Path::new("/work/repo/o")).unwrap(),
            "../../work/repo/o"
        );
        assert_eq!(
            relative_path(Path::new("/a/b"), Path::new("/a/b/c")).unwrap(),
            "c"
        );
    }
}

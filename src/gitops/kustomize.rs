//! kustomize build files (`Kustomization`, `Component`): read as instructions, never as
//! objects, and the changes they make to the objects they include, as kustomize makes them.

use crate::model::value::{Map, Value};

use crate::gitops::paths::{is_remote, join};
use crate::model::object::{Instance, Object, Origin, is_cluster_scoped};
use crate::model::spans::{Pos, SpanTree, pointer};
use crate::notice::Notice;
use crate::source::yaml::parse_stream;

/// File names kustomize reads in a directory, in its order of preference.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// True for the API group of kustomize's own build files (not Flux's Kustomization).
pub fn is_build_file_api(api_version: &str) -> bool {
    api_version.starts_with("kustomize.config.k8s.io/")
}

/// True for a file name kustomize reads as a build file.
pub fn is_build_file_name(display: &str) -> bool {
    let name = display.rsplit('/').next().unwrap_or(display);
    FILE_NAMES.contains(&name)
}

/// A reference from a build file to something it includes, with the line that names it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub target: String,
    pub pos: Pos,
}

/// An `images:` entry.
#[derive(Debug, Clone)]
pub struct ImageRule {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
    pub pos: Pos,
}

/// One key of a generated ConfigMap or Secret, and where its value was written.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    pub key: String,
    pub value: String,
    pub path: String,
    pub pos: Pos,
}

/// A `configMapGenerator` or `secretGenerator` entry.
#[derive(Debug, Clone)]
pub struct Generator {
    pub secret: bool,
    pub name: String,
    pub namespace: Option<String>,
    pub secret_type: Option<String>,
    pub keys: Vec<GeneratedKey>,
    pub pos: Pos,
    pub name_pos: Pos,
}

/// A parsed kustomize build file.
#[derive(Debug, Clone, Default)]
pub struct Kustomization {
    /// Display path of the file.
    pub path: String,
    /// Display path of its directory (`""` for the scan root).
    pub dir: String,
    pub resources: Vec<Entry>,
    pub components: Vec<Entry>,
    pub namespace: Option<(String, Pos)>,
    pub name_prefix: Option<(String, Pos)>,
    pub name_suffix: Option<(String, Pos)>,
    /// Labels set on `metadata.labels` only.
    pub labels: Vec<(String, String)>,
    /// Labels also set on pod templates (`commonLabels`, `labels` with `includeTemplates`).
    pub template_labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    pub images: Vec<ImageRule>,
    pub generators: Vec<Generator>,
    /// Files it reads as inputs (patches, generator files, Helm values): never manifests.
    pub inputs: Vec<String>,
    /// `helmCharts` entries: rendered by `kustomize build --enable-helm`, not here.
    pub helm_charts: usize,
    pub is_component: bool,
}

/// Reads the build file at `display` (text given). Problems are warnings with file:line.
pub fn parse(
    display: &str,
    text: &str,
    read: &dyn Fn(&str) -> Option<String>,
    notices: &mut Vec<Notice>,
) -> Option<Kustomization> {
    let parsed = parse_stream(text);
    let doc = parsed.documents.into_iter().next()?;
    let value = doc.value;
    let spans = doc.spans;
    let map = value.as_object()?;
    let at = |p: &str| spans.locate(&value, p);
    let dir = display.rsplit_once('/').map_or("", |(d, _)| d).to_string();
    let mut k = Kustomization {
        path: display.to_string(),
        dir: dir.clone(),
        is_component: map.get("kind").and_then(Value::as_str) == Some("Component"),
        ..Default::default()
    };
    let strings = |key: &str| -> Vec<Entry> {
        map.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, v)| {
                Some(Entry {
                    target: v.as_str()?.to_string(),
                    pos: at(&format!("/{key}/{i}")),
                })
            })
            .collect()
    };
    // `bases` is the old name of `resources`.
    k.resources = strings("resources");
    k.resources.extend(strings("bases"));
    k.components = strings("components");
    let text_of = |key: &str| {
        map.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| (s.to_string(), at(&pointer([key]))))
    };
    k.namespace = text_of("namespace");
    k.name_prefix = text_of("namePrefix");
    k.name_suffix = text_of("nameSuffix");
    let pairs = |v: Option<&Value>| -> Vec<(String, String)> {
        v.and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.to_string(), scalar_text(v)))
            .collect()
    };
    k.template_labels = pairs(map.get("commonLabels"));
    for entry in map
        .get("labels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let set = pairs(entry.get("pairs"));
        if entry.get("includeTemplates").and_then(Value::as_bool) == Some(true) {
            k.template_labels.extend(set);
        } else {
            k.labels.extend(set);
        }
    }
    k.annotations = pairs(map.get("commonAnnotations"));
    for (i, image) in map
        .get("images")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let pos = at(&format!("/images/{i}"));
        let field = |key: &str| image.get(key).map(scalar_text).filter(|s| !s.is_empty());
        match field("name") {
            Some(name) if image.is_object() => k.images.push(ImageRule {
                name,
                new_name: field("newName"),
                new_tag: field("newTag"),
                digest: field("digest"),
                pos,
            }),
            _ => notices.push(
                Notice::warning("kustomize `images:` entry without a `name`; ignored")
                    .at(display, Some(pos.line)),
            ),
        }
    }
    for (field, secret) in [("configMapGenerator", false), ("secretGenerator", true)] {
        for (i, entry) in map
            .get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let base = format!("/{field}/{i}");
            let pos = at(&base);
            let Some(name) = entry.get("name").and_then(Value::as_str) else {
                notices.push(
                    Notice::warning(format!(
                        "kustomize `{field}` entry without a `name`; ignored"
                    ))
                    .at(display, Some(pos.line)),
                );
                continue;
            };
            let mut generator = Generator {
                secret,
                name: name.to_string(),
                namespace: entry
                    .get("namespace")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                secret_type: entry
                    .get("type")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                keys: Vec::new(),
                pos,
                name_pos: at(&format!("{base}/name")),
            };
            for (j, literal) in entry
                .get("literals")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let Some((key, value)) = literal.as_str().and_then(|l| l.split_once('=')) else {
                    continue;
                };
                generator.keys.push(GeneratedKey {
                    key: key.trim().to_string(),
                    value: unquote(value).to_string(),
                    path: display.to_string(),
                    pos: at(&format!("{base}/literals/{j}")),
                });
            }
            let mut env_files: Vec<(String, Pos)> = Vec::new();
            for (j, env) in entry
                .get("envs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(file) = env.as_str() {
                    env_files.push((file.to_string(), at(&format!("{base}/envs/{j}"))));
                }
            }
            if let Some(file) = entry.get("env").and_then(Value::as_str) {
                env_files.push((file.to_string(), at(&format!("{base}/env"))));
            }
            for (file, line) in env_files {
                let Some(path) = join(&dir, &file) else {
                    continue;
                };
                k.inputs.push(path.clone());
                match read(&path) {
                    Some(text) => generator.keys.extend(env_file_keys(&path, &text)),
                    None => notices.push(
                        Notice::warning(format!("generator env file `{file}` does not exist"))
                            .at(display, Some(line.line)),
                    ),
                }
            }
            for (j, file) in entry
                .get("files")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let Some(spec) = file.as_str() else { continue };
                let (key, file) = match spec.split_once('=') {
                    Some((key, file)) => (key.to_string(), file),
                    None => (spec.rsplit('/').next().unwrap_or(spec).to_string(), spec),
                };
                let line = at(&format!("{base}/files/{j}"));
                let Some(path) = join(&dir, file) else {
                    continue;
                };
                k.inputs.push(path.clone());
                match read(&path) {
                    Some(text) => generator.keys.push(GeneratedKey {
                        key,
                        value: text,
                        path,
                        pos: Pos { line: 1, column: 1 },
                    }),
                    None => notices.push(
                        Notice::warning(format!("generator file `{file}` does not exist"))
                            .at(display, Some(line.line)),
                    ),
                }
            }
            k.generators.push(generator);
        }
    }
    for field in ["patches", "patchesStrategicMerge", "patchesJson6902"] {
        for patch in map
            .get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let file = match patch {
                Value::String(s) if !s.contains('\n') => Some(s.as_str()),
                Value::Object(m) => m.get("path").and_then(Value::as_str),
                _ => None,
            };
            if let Some(path) = file.and_then(|f| join(&dir, f)) {
                k.inputs.push(path);
            }
        }
    }
    for chart in map
        .get("helmCharts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        k.helm_charts += 1;
        if let Some(path) = chart
            .get("valuesFile")
            .and_then(Value::as_str)
            .and_then(|f| join(&dir, f))
        {
            k.inputs.push(path);
        }
    }
    k.resources.retain(|e| !e.target.is_empty());
    Some(k)
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

fn unquote(value: &str) -> &str {
    let v = value.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// `KEY=VALUE` lines of an env file (comments and blank lines skipped), with their lines.
fn env_file_keys(path: &str, text: &str) -> Vec<GeneratedKey> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                return None;
            }
            let (key, value) = trimmed.split_once('=')?;
            Some(GeneratedKey {
                key: key.trim().to_string(),
                value: unquote(value).to_string(),
                path: path.to_string(),
                pos: Pos {
                    line: i as u32 + 1,
                    column: 1,
                },
            })
        })
        .collect()
}

impl Generator {
    /// The ConfigMap or Secret this generator makes, located at its entry in `k`.
    pub fn object(&self, k: &Kustomization) -> Option<Object> {
        let mut data = Map::new();
        let mut produced = vec![("/metadata/name".to_string(), k.path.clone(), self.name_pos)];
        for key in &self.keys {
            let value = if self.secret {
                Value::String(data_encoding::BASE64.encode(key.value.as_bytes()).into())
            } else {
                Value::from(key.value.as_str())
            };
            data.insert(key.key.clone(), value);
            produced.push((
                pointer(["data", key.key.as_str()]),
                key.path.clone(),
                key.pos,
            ));
        }
        let mut metadata = Map::new();
        metadata.insert("name", Value::from(self.name.as_str()));
        if let Some(ns) = &self.namespace {
            metadata.insert("namespace", Value::from(ns.as_str()));
        }
        let mut value = Map::new();
        value.insert("apiVersion", Value::String("v1".into()));
        value.insert(
            "kind",
            Value::String(if self.secret { "Secret" } else { "ConfigMap" }.into()),
        );
        value.insert("metadata", Value::Object(metadata));
        if self.secret {
            value.insert(
                "type",
                Value::from(self.secret_type.as_deref().unwrap_or("Opaque")),
            );
        }
        value.insert("data", Value::Object(data));
        let origin = Origin::File {
            path: k.path.as_str().into(),
            document: 0,
            item: None,
            start_line: self.pos.line,
            end_line: self.pos.line,
        };
        let mut object = Object::from_value(Value::Object(value), origin, SpanTree::default())?;
        object.instance = Some(Box::new(Instance {
            produced,
            generated: true,
            ..Instance::default()
        }));
        Some(object)
    }
}

impl Kustomization {
    /// The entries of `resources` and `components` that are remote (not fetched).
    pub fn remote_entries(&self) -> impl Iterator<Item = &Entry> {
        self.resources
            .iter()
            .chain(&self.components)
            .filter(|e| is_remote(&e.target))
    }

    /// Applies this build file's changes to `object`, as kustomize does.
    pub fn apply(&self, object: &mut Object) {
        let namespaced = !is_cluster_scoped(&object.api_version, &object.kind);
        if let Some((namespace, pos)) = &self.namespace
            && namespaced
        {
            set_namespace(object, namespace, &self.path, *pos);
        }
        if object.kind != "Namespace" && (self.name_prefix.is_some() || self.name_suffix.is_some())
        {
            let name = format!(
                "{}{}{}",
                self.name_prefix.as_ref().map_or("", |(p, _)| p),
                object.name,
                self.name_suffix.as_ref().map_or("", |(s, _)| s)
            );
            set_metadata(object, "name", Value::from(name.as_str()));
            object.name = name.into();
        }
        if !self.labels.is_empty() || !self.template_labels.is_empty() {
            for (key, value) in self.labels.iter().chain(&self.template_labels) {
                set_map_entry(&mut object.value, &["metadata", "labels"], key, value);
            }
            for (key, value) in &self.template_labels {
                if object.value.pointer("/spec/template/metadata").is_some()
                    || object.value.pointer("/spec/template/spec").is_some()
                {
                    set_map_entry(
                        &mut object.value,
                        &["spec", "template", "metadata", "labels"],
                        key,
                        value,
                    );
                }
            }
        }
        for (key, value) in &self.annotations {
            set_map_entry(&mut object.value, &["metadata", "annotations"], key, value);
        }
        // The walk that builds pointers only runs for objects with an image to rewrite.
        if !self.images.is_empty() && has_image_to_rewrite(&object.value, &self.images) {
            let mut changed = Vec::new();
            rewrite_images(
                &mut object.value,
                &mut String::new(),
                &self.images,
                &mut changed,
            );
            if !changed.is_empty() {
                let instance = object.instance.get_or_insert_with(Box::default);
                for (at, pos) in changed {
                    instance.produced.push((at, self.path.clone(), pos));
                }
            }
        }
    }
}

/// Sets an object's namespace (value and field), located at the build-file line that set it.
pub fn set_namespace(object: &mut Object, namespace: &str, file: &str, pos: Pos) {
    set_metadata(object, "namespace", Value::from(namespace));
    object.namespace = Some(namespace.into());
    let instance = object.instance.get_or_insert_with(Box::default);
    instance
        .produced
        .retain(|(at, _, _)| at != "/metadata/namespace");
    instance
        .produced
        .push(("/metadata/namespace".into(), file.to_string(), pos));
}

fn set_metadata(object: &mut Object, key: &str, value: Value) {
    let Some(map) = object.value.as_object_mut() else {
        return;
    };
    let metadata = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    if let Some(m) = metadata.as_object_mut() {
        m.insert(key.to_string(), value);
    }
}

/// Sets `key: value` in the map at `path`, creating maps on the way.
fn set_map_entry(value: &mut Value, path: &[&str], key: &str, text: &str) {
    let mut current = value;
    for step in path {
        let Some(map) = current.as_object_mut() else {
            return;
        };
        current = map
            .entry(step.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if current.is_null() {
            *current = Value::Object(Map::new());
        }
    }
    if let Some(map) = current.as_object_mut() {
        map.insert(key, Value::from(text));
    }
}

/// True when a container list anywhere in `value` has an image one of `rules` names.
fn has_image_to_rewrite(value: &Value, rules: &[ImageRule]) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(key, child)| {
            let is_list = matches!(
                key.as_str(),
                "containers" | "initContainers" | "ephemeralContainers"
            );
            match child {
                Value::Array(items) if is_list => items.iter().any(|item| {
                    item.get("image")
                        .and_then(Value::as_str)
                        .is_some_and(|image| rewrite_image(image, rules).is_some())
                }),
                _ => has_image_to_rewrite(child, rules),
            }
        }),
        Value::Array(items) => items.iter().any(|item| has_image_to_rewrite(item, rules)),
        _ => false,
    }
}

/// Rewrites the `image` of every container list (`containers`, `initContainers`,
/// `ephemeralContainers`) anywhere in `value`, as kustomize's image transformer does.
fn rewrite_images(
    value: &mut Value,
    at: &mut String,
    rules: &[ImageRule],
    changed: &mut Vec<(String, Pos)>,
) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let len = at.len();
                crate::model::spans::push_token(at, key);
                let is_list = matches!(
                    key.as_str(),
                    "containers" | "initContainers" | "ephemeralContainers"
                );
                if is_list && let Value::Array(items) = child {
                    for (i, item) in items.iter_mut().enumerate() {
                        let Some(image) = item.get_mut("image") else {
                            continue;
                        };
                        let Some(text) = image.as_str() else { continue };
                        if let Some((new, pos)) = rewrite_image(text, rules) {
                            *image = Value::String(new.into());
                            changed.push((format!("{at}/{i}/image"), pos));
                        }
                    }
                } else {
                    rewrite_images(child, at, rules, changed);
                }
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = at.len();
                at.push('/');
                at.push_str(&i.to_string());
                rewrite_images(item, at, rules, changed);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

/// The image `image` becomes under `rules` (first matching name), and the rule's line.
pub fn rewrite_image(image: &str, rules: &[ImageRule]) -> Option<(String, Pos)> {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name[last_slash..].find(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    let rule = rules.iter().find(|r| r.name == name)?;
    let new_name = rule.new_name.as_deref().unwrap_or(name);
    let suffix = match (&rule.digest, &rule.new_tag, digest, tag) {
        (Some(d), _, _, _) => format!("@{d}"),
        (None, Some(t), _, _) => format!(":{t}"),
        (None, None, Some(d), _) => format!("@{d}"),
        (None, None, None, Some(t)) => format!(":{t}"),
        (None, None, None, None) => String::new(),
    };
    Some((format!("{new_name}{suffix}"), rule.pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        name: &str,
        new_name: Option<&str>,
        tag: Option<&str>,
        digest: Option<&str>,
    ) -> ImageRule {
        ImageRule {
            name: name.into(),
            new_name: new_name.map(Into::into),
            new_tag: tag.map(Into::into),
            digest: digest.map(Into::into),
            pos: Pos { line: 7, column: 5 },
        }
    }

    #[test]
    fn images_are_rewritten_like_kustomize() {
        let rules = [rule(
            "ghcr.io/acme/web",
            Some("harbor.example.com/acme/web"),
            Some("1.4.2"),
            None,
        )];
        assert_eq!(
            rewrite_image("ghcr.io/acme/web", &rules).unwrap().0,
            "harbor.example.com/acme/web:1.4.2"
        );
        assert_eq!(
            rewrite_image("ghcr.io/acme/web:0.1", &rules).unwrap().0,
            "harbor.example.com/acme/web:1.4.2"
        );
        assert!(rewrite_image("ghcr.io/acme/webx:1", &rules).is_none());
        let rules = [rule("localhost:5000/web", None, None, Some("sha256:abc"))];
        assert_eq!(
            rewrite_image("localhost:5000/web:1", &rules).unwrap().0,
            "localhost:5000/web@sha256:abc"
        );
        let rules = [rule("nginx", Some("harbor.example.com/nginx"), None, None)];
        assert_eq!(
            rewrite_image("nginx:1.27", &rules).unwrap().0,
            "harbor.example.com/nginx:1.27"
        );
    }

    #[test]
    fn build_file_is_read_with_its_lines() {
        let text = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop-prod\nresources: [a.yaml, ../base]\nconfigMapGenerator:\n  - name: cfg\n    literals:\n      - DB_HOST=db.prod.svc\n    files: [values.yaml]\nimages:\n  - newTag: \"1\"\n";
        let mut notices = Vec::new();
        let k = parse(
            "apps/web/kustomization.yaml",
            text,
            &|p| (p == "apps/web/values.yaml").then(|| "a: 1\n".to_string()),
            &mut notices,
        )
        .unwrap();
        assert_eq!(k.dir, "apps/web");
        assert_eq!(k.namespace.as_ref().unwrap().1.line, 3);
        assert_eq!(k.resources[1].target, "../base");
        assert_eq!(k.inputs, ["apps/web/values.yaml"]);
        let generator = &k.generators[0];
        assert_eq!(generator.keys[0].key, "DB_HOST");
        assert_eq!(generator.keys[0].pos.line, 8);
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert_eq!(notices[0].line, Some(11));
        let object = generator.object(&k).unwrap();
        assert_eq!(object.kind, "ConfigMap");
        assert_eq!(
            object.source_of("/data/DB_HOST"),
            Some(("apps/web/kustomization.yaml", Pos { line: 8, column: 9 }))
        );
    }
}

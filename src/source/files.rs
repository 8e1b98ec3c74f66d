//! Finding manifest files and reading them into objects.
//!
//! The walk respects `.gitignore` (inside git repositories), `.ignore` and `.tollgateignore`,
//! skips hidden directories, and leaves out files that are not manifests even though they look
//! like YAML: Helm chart templates (`templates/` beside a `Chart.yaml`) and the patch files a
//! `kustomization.yaml` lists. Files named on the command line are always read.
//!
//! What is read stays inside what was asked for: a symbolic link whose target is outside every
//! scanned directory is skipped with a warning (a link to `/proc/self/environ` must not put the
//! process environment into a report), and only regular files are ever opened: no FIFO, device
//! or kernel pseudo-file (`/proc`, `/sys`, `/dev`), even through a link or named on the command
//! line. Reads are capped in bytes, not by the size `stat` reports (procfs files say 0).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use crate::model::value::Value;
use ignore::{WalkBuilder, WalkState};

use crate::error::Error;
use crate::model::object::{Object, Origin};
use crate::model::spans::{Pos, SpanTree};
use crate::notice::Notice;
use crate::source::yaml::{Document, KindFilter, parse_stream, parse_stream_filtered};

/// Manifest extensions read when walking directories.
pub const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];
/// Files larger than this are skipped with a warning rather than read into memory.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Display name of standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// A file to read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceFile {
    /// Path relative to the scan root with `/` separators (absolute when outside it).
    pub display: String,
    /// Path on disk.
    pub path: PathBuf,
}

/// The display form of `path`: relative to `root` when inside it, `/`-separated.
pub fn display_path(path: &Path, root: &Path) -> String {
    let absolute = normalize(&std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
    let Ok(relative) = absolute.strip_prefix(normalize(root)) else {
        // Outside the scan root: the absolute path says best where the file is.
        return absolute.to_string_lossy().replace('\\', "/");
    };
    let text = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    if text.is_empty() {
        ".".to_string()
    } else {
        text
    }
}

/// Removes `.` and resolves `..` lexically (symlinks are left alone).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn has_manifest_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Collects the manifest files under `paths` (files or directories), sorted and unique.
pub fn collect(
    paths: &[PathBuf],
    root: &Path,
    threads: usize,
    notices: &mut Vec<Notice>,
) -> Result<Vec<SourceFile>, Error> {
    let found: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let walk_notices: Mutex<Vec<Notice>> = Mutex::new(Vec::new());
    let mut explicit = Vec::new();
    // Where links may point: the directories asked for, as the file system sees them.
    let roots: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.is_dir())
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let pseudo = std::fs::canonicalize(path).is_ok_and(|p| is_pseudo_file_system(&p));
        if meta.is_file() && !pseudo {
            explicit.push(path.clone());
            continue;
        }
        if !meta.is_dir() || pseudo {
            // A FIFO or device would block or never end; a socket cannot be read; a kernel
            // pseudo-file is no manifest and may hold the process environment.
            notices.push(
                Notice::error("not a regular file or directory; not scanned")
                    .at(display_path(path, root), None),
            );
            continue;
        }
        let mut builder = WalkBuilder::new(path);
        builder
            .hidden(true)
            .follow_links(true)
            .add_custom_ignore_filename(".tollgateignore")
            .threads(threads.max(1));
        builder.build_parallel().run(|| {
            Box::new(|entry| {
                match entry {
                    Ok(entry) => {
                        if entry.path_is_symlink()
                            && let Some(reason) = link_leaves_roots(entry.path(), &roots)
                        {
                            walk_notices.lock().unwrap_or_else(|e| e.into_inner()).push(
                                Notice::warning(format!("skipped: {reason}"))
                                    .at(display_path(entry.path(), root), None),
                            );
                            return WalkState::Skip;
                        }
                        let is_file = entry.file_type().is_some_and(|t| t.is_file());
                        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                        if !has_manifest_extension(entry.path()) || is_dir {
                            return WalkState::Continue;
                        }
                        if is_file {
                            found
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(entry.into_path());
                        } else {
                            walk_notices.lock().unwrap_or_else(|e| e.into_inner()).push(
                                Notice::warning(
                                    "skipped: not a regular file (a FIFO, socket or device)",
                                )
                                .at(display_path(entry.path(), root), None),
                            );
                        }
                    }
                    Err(err) => {
                        walk_notices
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(walk_notice(&err, root));
                    }
                }
                WalkState::Continue
            })
        });
    }
    let mut walked = found.into_inner().unwrap_or_else(|e| e.into_inner());
    let excluded = not_manifests(&walked);
    walked.retain(|p| !excluded.contains(&normalize(&absolute(p))));
    let mut files: Vec<SourceFile> = walked
        .into_iter()
        .chain(explicit)
        .map(|path| SourceFile {
            display: display_path(&path, root),
            path,
        })
        .collect();
    files.sort();
    files.dedup_by(|a, b| a.display == b.display);
    let mut walk_notices = walk_notices.into_inner().unwrap_or_else(|e| e.into_inner());
    walk_notices.sort();
    notices.extend(walk_notices);
    Ok(files)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Why the link at `path` must not be followed: its target is outside every scan root, or is
/// a kernel pseudo-file. `None` when it may be.
fn link_leaves_roots(path: &Path, roots: &[PathBuf]) -> Option<String> {
    // A dangling link: the walk reports it when it tries to follow it.
    let target = std::fs::canonicalize(path).ok()?;
    if is_pseudo_file_system(&target) {
        return Some("symbolic link to a kernel pseudo-file; not followed".into());
    }
    if roots.iter().any(|r| target.starts_with(r)) {
        return None;
    }
    Some("symbolic link to a path outside the scanned directories; not followed".into())
}

/// Paths of the Linux kernel's pseudo file systems: never manifests, sometimes endless, and
/// some hold secrets (`/proc/self/environ`).
/// Whether the file at `path` lives on a kernel pseudo-file system (procfs, sysfs, cgroup…),
/// asked of the file system itself: one `statfs` per file, where resolving the path
/// (`canonicalize`, a `readlink` per component) was 3 % of a 100k-file scan. It also sees
/// procfs mounted somewhere else. Paths spelled under `/proc`, `/sys` or `/dev` are refused
/// whatever they are.
#[cfg(target_os = "linux")]
fn on_pseudo_file_system(path: &Path) -> bool {
    const PSEUDO_MAGIC: [u32; 12] = [
        0x9fa0,      // proc
        0x6265_6572, // sysfs
        0x1cd1,      // devpts
        0x6462_6720, // debugfs
        0x7472_6163, // tracefs
        0x7363_6673, // securityfs
        0x0027_e0eb, // cgroup
        0x6367_7270, // cgroup2
        0xcafe_4a11, // bpf
        0x6265_6570, // configfs
        0xde5e_81e4, // efivarfs
        0x6165_676c, // pstore
    ];
    is_pseudo_file_system(&absolute(path))
        || rustix::fs::statfs(path).is_ok_and(|fs| PSEUDO_MAGIC.contains(&(fs.f_type as u32)))
}

#[cfg(not(target_os = "linux"))]
fn on_pseudo_file_system(path: &Path) -> bool {
    std::fs::canonicalize(path).is_ok_and(|p| is_pseudo_file_system(&p))
}

fn is_pseudo_file_system(canonical: &Path) -> bool {
    ["/proc", "/sys", "/dev"]
        .iter()
        .any(|p| canonical.starts_with(p))
}

fn walk_notice(err: &ignore::Error, root: &Path) -> Notice {
    let (path, message) = walk_error_parts(err);
    // A link loop or a dangling link leaves nothing out; a directory that cannot be read does,
    // and a run that did not look at part of its input cannot be trusted.
    let notice = if is_unreadable(err) {
        Notice::error(format!("cannot read: {message}"))
    } else {
        Notice::warning(format!("skipped: {message}"))
    };
    match path {
        Some(p) => notice.at(display_path(&p, root), None),
        None => notice,
    }
}

fn walk_error_parts(err: &ignore::Error) -> (Option<PathBuf>, String) {
    match err {
        ignore::Error::WithPath { path, err } => (Some(path.clone()), walk_error_parts(err).1),
        ignore::Error::Loop { child, ancestor } => (
            Some(child.clone()),
            format!("symbolic link loop back to {}", ancestor.display()),
        ),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            walk_error_parts(err)
        }
        other => (None, other.to_string()),
    }
}

/// True when the walk could not read something that exists (not a loop, not a dangling link).
fn is_unreadable(err: &ignore::Error) -> bool {
    match err {
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => is_unreadable(err),
        ignore::Error::Io(io) => io.kind() != std::io::ErrorKind::NotFound,
        ignore::Error::Partial(errors) => errors.iter().any(is_unreadable),
        _ => false,
    }
}

/// Files that look like manifests but are not: Helm chart templates and kustomize patches.
fn not_manifests(files: &[PathBuf]) -> HashSet<PathBuf> {
    let mut excluded = HashSet::new();
    let mut chart_dirs: HashMap<PathBuf, bool> = HashMap::new();
    for file in files {
        let absolute = normalize(&absolute(file));
        let in_chart_templates = absolute.ancestors().skip(1).any(|dir| {
            dir.file_name().is_some_and(|n| n == "templates")
                && dir.parent().is_some_and(|chart| {
                    *chart_dirs
                        .entry(chart.to_path_buf())
                        .or_insert_with(|| chart.join("Chart.yaml").is_file())
                })
        });
        if in_chart_templates {
            excluded.insert(absolute.clone());
        }
        let is_kustomization = absolute.file_name().is_some_and(|n| {
            n == "kustomization.yaml" || n == "kustomization.yml" || n == "Kustomization"
        });
        if is_kustomization {
            excluded.extend(kustomize_patches(&absolute));
        }
    }
    excluded
}

/// The patch files a kustomization lists (`patches`, `patchesStrategicMerge`, `patchesJson6902`).
fn kustomize_patches(kustomization: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(kustomization) else {
        return Vec::new();
    };
    let Some(dir) = kustomization.parent() else {
        return Vec::new();
    };
    let parsed = parse_stream(&text);
    let mut out = BTreeSet::new();
    for doc in parsed.documents {
        let entries = ["patchesStrategicMerge", "patches", "patchesJson6902"]
            .into_iter()
            .filter_map(|k| doc.value.get(k).and_then(Value::as_array))
            .flatten();
        for entry in entries {
            let file = match entry {
                Value::String(s) if !s.contains('\n') => Some(s.as_str()),
                Value::Object(m) => m.get("path").and_then(Value::as_str),
                _ => None,
            };
            if let Some(file) = file {
                out.insert(normalize(&dir.join(file)));
            }
        }
    }
    out.into_iter().collect()
}

/// A syntax problem with a file, reported as a `manifest-parse-error` finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseProblem {
    pub pos: Pos,
    pub message: String,
    pub document: usize,
}

/// What reading one file gave.
#[derive(Debug, Default)]
pub struct LoadedFile {
    pub display: String,
    pub objects: Vec<Object>,
    pub problems: Vec<ParseProblem>,
    pub notice: Option<Notice>,
    pub bytes: u64,
    pub documents: usize,
}

/// Reads one file from disk.
pub fn load_file(file: &SourceFile) -> LoadedFile {
    load_file_filtered(file, &KindFilter::All)
}

/// [`load_file`], building whole only the documents of kinds `filter` builds.
pub fn load_file_filtered(file: &SourceFile, filter: &KindFilter) -> LoadedFile {
    let mut loaded = LoadedFile {
        display: file.display.clone(),
        ..Default::default()
    };
    match read_capped(&file.path) {
        Ok(Capped::Bytes(bytes)) => load_bytes_filtered(&file.display, &bytes, filter),
        Ok(Capped::TooBig) => {
            loaded.notice = Some(
                Notice::warning(format!(
                    "skipped: more than the {} MiB a manifest may have",
                    MAX_FILE_BYTES / (1024 * 1024)
                ))
                .at(&file.display, None),
            );
            loaded
        }
        Err(e) => {
            loaded.notice =
                Some(Notice::error(format!("cannot read: {e}")).at(&file.display, None));
            loaded
        }
    }
}

/// What reading a file gave.
pub enum Capped {
    Bytes(Vec<u8>),
    /// More than [`MAX_FILE_BYTES`]; nothing kept.
    TooBig,
}

/// Reads a regular file, at most [`MAX_FILE_BYTES`]. The size `stat` reports is not trusted
/// (procfs and FUSE files report 0 and may never end); FIFOs, devices and kernel pseudo-files
/// are refused before they are opened.
pub fn read_capped(path: &Path) -> std::io::Result<Capped> {
    let refuse = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(refuse("not a regular file"));
    }
    if on_pseudo_file_system(path) {
        return Err(refuse("a kernel pseudo-file, not a manifest"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Ok(Capped::TooBig);
    }
    let file = std::fs::File::open(path)?;
    // Swapped for something else between the check and the open: still refused.
    if !file.metadata()?.is_file() {
        return Err(refuse("not a regular file"));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Ok(Capped::TooBig);
    }
    Ok(Capped::Bytes(bytes))
}

/// Reads manifests from bytes (a file's or standard input's).
pub fn load_bytes(display: &str, bytes: &[u8]) -> LoadedFile {
    load_bytes_filtered(display, bytes, &KindFilter::All)
}

/// [`load_bytes`], building whole only the documents of kinds `filter` builds.
pub fn load_bytes_filtered(display: &str, bytes: &[u8], filter: &KindFilter) -> LoadedFile {
    let mut loaded = LoadedFile {
        display: display.to_string(),
        bytes: bytes.len() as u64,
        ..Default::default()
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Some(nul) = bytes.iter().position(|&b| b == 0) {
        loaded.problems.push(ParseProblem {
            pos: position_of_byte(bytes, nul),
            message: "binary content (a NUL byte): this is not a YAML or JSON manifest".into(),
            document: 0,
        });
        return loaded;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            loaded.problems.push(ParseProblem {
                pos: position_of_byte(bytes, e.valid_up_to()),
                message: "invalid UTF-8: manifests must be UTF-8 text".into(),
                document: 0,
            });
            return loaded;
        }
    };
    let parsed = parse_stream_filtered(text, filter);
    for error in parsed.errors {
        loaded.problems.push(ParseProblem {
            pos: Pos {
                line: error.line,
                column: error.column,
            },
            message: error.message,
            document: error.document,
        });
    }
    loaded.documents = parsed.documents.len();
    // One copy of the path for all the file's objects.
    let shared_path: std::sync::Arc<str> = display.into();
    for doc in parsed.documents {
        objects_of(doc, &shared_path, &mut loaded.objects);
    }
    loaded
}

fn position_of_byte(bytes: &[u8], offset: usize) -> Pos {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count() as u32
        + 1;
    Pos { line, column }
}

/// The Kubernetes objects of one document: itself, or the items of a `kind: List`.
fn objects_of(doc: Document, path: &std::sync::Arc<str>, out: &mut Vec<Object>) {
    let is_list = doc
        .value
        .get("apiVersion")
        .and_then(Value::as_str)
        .is_some()
        && doc
            .value
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k == "List" || k.ends_with("List"))
        && doc.value.get("items").is_some_and(Value::is_array);
    if !is_list {
        let origin = Origin::File {
            path: path.clone(),
            document: doc.index,
            item: None,
            start_line: doc.start_line,
            end_line: doc.end_line,
        };
        if let Some(mut object) = Object::from_value(doc.value, origin, doc.spans) {
            object.helm_source = doc.helm_source;
            out.push(object);
        }
        return;
    }
    let count = doc.value["items"].as_array().map_or(0, Vec::len);
    let subtrees: Vec<SpanTree> = (0..count)
        .map(|i| doc.spans.subtree(&doc.value, &format!("/items/{i}")))
        .collect();
    let mut value = doc.value;
    let Some(Value::Array(items)) = value.as_object_mut().and_then(|m| m.remove("items")) else {
        return;
    };
    let starts: Vec<u32> = subtrees.iter().map(|s| s.root().line).collect();
    for (i, (item, spans)) in items.into_iter().zip(subtrees).enumerate() {
        let start_line = starts[i];
        let end_line = starts
            .get(i + 1)
            .map_or(doc.end_line, |next| next.saturating_sub(1).max(start_line));
        let origin = Origin::File {
            path: path.clone(),
            document: doc.index,
            item: Some(i),
            start_line,
            end_line,
        };
        if let Some(mut object) = Object::from_value(item, origin, spans) {
            object.helm_source = doc.helm_source.clone();
            out.push(object);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_items_are_objects_with_their_own_lines() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: b}\n";
        let loaded = load_bytes("list.yaml", text.as_bytes());
        assert_eq!(loaded.objects.len(), 2);
        assert_eq!(loaded.objects[1].kind, "Secret");
        assert_eq!(
            loaded.objects[1].origin,
            Origin::File {
                path: "list.yaml".into(),
                document: 0,
                item: Some(1),
                start_line: 7,
                end_line: 9
            }
        );
        assert_eq!(loaded.objects[1].locate("/metadata/name"), (9, 14));
        assert_eq!(loaded.objects[1].locate("/metadata"), (9, 3));
    }

    #[test]
    fn documents_without_kind_are_skipped_silently() {
        let loaded = load_bytes("values.yaml", b"replicaCount: 2\nimage:\n  tag: latest\n");
        assert!(loaded.objects.is_empty() && loaded.problems.is_empty());
    }

    #[test]
    fn binary_and_invalid_utf8_are_problems() {
        let loaded = load_bytes("a.yaml", b"kind: A\n\x00\x01");
        assert_eq!(loaded.problems[0].pos, (2, 1));
        let loaded = load_bytes("b.yaml", b"kind: A\nname: \xff\xfe\n");
        assert_eq!(loaded.problems[0].pos, (2, 7));
    }

    #[test]
    fn an_unreadable_directory_is_an_error_and_a_loop_is_not() {
        let denied = ignore::Error::WithPath {
            path: PathBuf::from("/repo/locked"),
            err: Box::new(ignore::Error::Io(std::io::Error::from(
                std::io::ErrorKind::PermissionDenied,
            ))),
        };
        assert!(walk_notice(&denied, Path::new("/repo")).is_error());
        let dangling = ignore::Error::WithPath {
            path: PathBuf::from("/repo/gone.yaml"),
            err: Box::new(ignore::Error::Io(std::io::Error::from(
                std::io::ErrorKind::NotFound,
            ))),
        };
        assert!(!walk_notice(&dangling, Path::new("/repo")).is_error());
        let looped = ignore::Error::Loop {
            ancestor: PathBuf::from("/repo"),
            child: PathBuf::from("/repo/a/loop"),
        };
        assert!(!walk_notice(&looped, Path::new("/repo")).is_error());
    }

    #[test]
    fn reads_stop_at_the_cap_whatever_stat_says() {
        assert!(matches!(
            read_capped(Path::new("/proc/self/pagemap")),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput
        ));
        assert!(read_capped(Path::new("/dev/zero")).is_err());
    }

    /// Asked of the file system, not of the spelling: a link whose name says nothing of procfs
    /// is refused, an ordinary file beside it is read.
    #[cfg(target_os = "linux")]
    #[test]
    fn pseudo_files_are_refused_whatever_the_path_says() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("status.yaml");
        std::os::unix::fs::symlink("/proc/self/status", &link).unwrap();
        assert!(matches!(
            read_capped(&link),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput
        ));
        let plain = dir.path().join("plain.yaml");
        std::fs::write(&plain, "a: 1\n").unwrap();
        assert!(matches!(read_capped(&plain), Ok(Capped::Bytes(b)) if b == b"a: 1\n"));
    }

    #[test]
    fn display_paths_are_relative_to_the_root() {
        let root = std::env::current_dir().unwrap();
        assert_eq!(
            display_path(Path::new("./a/../b/c.yaml"), &root),
            "b/c.yaml"
        );
    }
}

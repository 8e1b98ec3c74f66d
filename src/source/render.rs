//! Rendering Helm charts (`--helm`) and kustomizations (`--kustomize`) with the `helm` and
//! `kustomize` (or `kubectl kustomize`) binaries found on `PATH`.
//!
//! A rendered stream is not a file on disk, so its documents are reported at a virtual path
//! under the directory that was rendered: `<chart dir>/(helm template)` and
//! `<dir>/(kustomize build)`. Environment path globs match it like any file under that
//! directory, and the rendered text is kept in memory for snippets. Documents of a chart carry
//! the template they came from (Helm's `# Source:` comment), rewritten to the template's path
//! relative to the scan root (`charts/shop/templates/deployment.yaml`), which SARIF reports as a
//! related location and the CI annotation formats (GitLab, GitHub) point at, since the rendered
//! stream itself is not in the repository. kustomize's documents go back to the files and lines
//! they were written on ([`crate::source::origin`]); only those it cannot place stay at the
//! virtual path.
//!
//! A missing tool is an error before anything is scanned; a failed render is an error notice
//! carrying the tool's stderr (exit code 2), while the rest of the inputs are still scanned.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::Error;
use crate::model::object::{Origin, is_cluster_scoped};
use crate::model::value::Text;
use crate::notice::Notice;
use crate::source::files::{self, LoadedFile};
use crate::source::origin::{self, Relocations};

/// What renders a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderKind {
    Helm,
    Kustomize,
}

impl RenderKind {
    /// The last component of the virtual path of a rendered directory.
    pub fn virtual_name(self) -> &'static str {
        match self {
            RenderKind::Helm => "(helm template)",
            RenderKind::Kustomize => "(kustomize build)",
        }
    }
}

/// A directory to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderRequest {
    pub kind: RenderKind,
    pub dir: PathBuf,
}

/// `helm template` options shared by every `--helm` chart of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelmOptions {
    /// `--values` files, in order.
    pub values: Vec<PathBuf>,
    /// `--set key=value` pairs, in order.
    pub set: Vec<String>,
    /// Release name; default: the chart directory's name.
    pub release: Option<String>,
    /// Release namespace; namespaced objects that name none are placed in it, as an install
    /// would place them.
    pub namespace: Option<String>,
}

/// A program that renders, with the arguments before the directory-specific ones.
#[derive(Debug, Clone)]
pub struct Tool {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl Tool {
    /// `helm` from `PATH`.
    pub fn helm() -> Result<Tool, Error> {
        let program = find_program("helm").ok_or_else(|| {
            Error::usage(
                "--helm needs the `helm` binary (Helm 3) on PATH; install it, or render yourself: \
                 `helm template NAME CHART | tollgate scan -`",
            )
        })?;
        Ok(Tool {
            program,
            args: vec!["template".into()],
        })
    }

    /// `kustomize build`, else `kubectl kustomize`, from `PATH`.
    pub fn kustomize() -> Result<Tool, Error> {
        if let Some(program) = find_program("kustomize") {
            return Ok(Tool {
                program,
                args: vec!["build".into(), "--enable-helm".into()],
            });
        }
        if let Some(program) = find_program("kubectl") {
            return Ok(Tool {
                program,
                args: vec!["kustomize".into(), "--enable-helm".into()],
            });
        }
        Err(Error::usage(
            "--kustomize needs `kustomize` or `kubectl` on PATH; install one, or render yourself: \
             `kustomize build DIR | tollgate scan -`",
        ))
    }
}

/// The executable `name` in a directory of `PATH`, like `command -v`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        let candidates: Vec<PathBuf> = if cfg!(windows) {
            vec![dir.join(format!("{name}.exe")), dir.join(name)]
        } else {
            vec![dir.join(name)]
        };
        candidates.into_iter().find(|c| is_executable(c))
    })
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// The reported (virtual) path of a rendered directory.
pub fn virtual_path(kind: RenderKind, dir_display: &str) -> String {
    if dir_display == "." || dir_display.is_empty() {
        kind.virtual_name().to_string()
    } else {
        format!(
            "{}/{}",
            dir_display.trim_end_matches('/'),
            kind.virtual_name()
        )
    }
}

/// Path of a chart template from Helm's `# Source: <chart>/templates/x.yaml`, relative to the
/// scan root: the chart's name is replaced by the chart directory.
pub fn template_path(chart_display: &str, source: &str) -> String {
    let inside = source.split_once('/').map_or(source, |(_, rest)| rest);
    if chart_display == "." || chart_display.is_empty() {
        inside.to_string()
    } else {
        format!("{}/{inside}", chart_display.trim_end_matches('/'))
    }
}

/// The rendered documents of one directory.
#[derive(Debug)]
pub struct Rendered {
    /// Virtual path the documents are reported at.
    pub display: String,
    /// The rendered directory, relative to the scan root.
    pub dir_display: String,
    /// The file CI annotations point at when a document names no template: the chart's
    /// `Chart.yaml` or the directory's kustomization file.
    pub anchor: String,
    pub text: String,
    pub loaded: LoadedFile,
    /// kustomize: where rendered objects were written, by `(document, item)`.
    pub relocated: Relocations,
    /// kustomize: objects left at the rendered stream, with why (`--verbose`).
    pub unmapped: Vec<(String, String)>,
}

/// The command line that renders `request` (program first).
pub fn command_line(tool: &Tool, request: &RenderRequest, helm: &HelmOptions) -> Vec<OsString> {
    command_line_in(tool, request, helm, &request.dir)
}

/// The command line that renders `request` from the folder `dir` (a kustomize wrapper).
fn command_line_in(
    tool: &Tool,
    request: &RenderRequest,
    helm: &HelmOptions,
    dir: &Path,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![tool.program.clone().into_os_string()];
    args.extend(tool.args.iter().map(OsString::from));
    match request.kind {
        RenderKind::Helm => {
            args.push(release_name(&request.dir, helm).into());
            args.push(request.dir.clone().into_os_string());
            if let Some(ns) = &helm.namespace {
                args.push("--namespace".into());
                args.push(ns.into());
            }
            for file in &helm.values {
                args.push("--values".into());
                args.push(file.clone().into_os_string());
            }
            for pair in &helm.set {
                args.push("--set".into());
                args.push(pair.into());
            }
        }
        RenderKind::Kustomize => args.push(dir.to_path_buf().into_os_string()),
    }
    args
}

fn release_name(dir: &Path, helm: &HelmOptions) -> String {
    if let Some(name) = &helm.release {
        return name.clone();
    }
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let named = std::fs::canonicalize(&absolute).unwrap_or(absolute);
    named
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "release".to_string())
}

/// Renders one directory and reads the documents. A failure is an error notice with the
/// tool's stderr.
pub fn render(
    tool: &Tool,
    request: &RenderRequest,
    helm: &HelmOptions,
    root: &Path,
) -> Result<Rendered, Notice> {
    let dir_display = files::display_path(&request.dir, root);
    let args = command_line(tool, request, helm);
    let shown = shown_command(&args);
    if !request.dir.is_dir() {
        return Err(Notice::error(format!(
            "cannot render: {} is not a directory",
            request.dir.display()
        ))
        .at(&dir_display, None));
    }
    let mut unmapped = Vec::new();
    // kustomize through a wrapper that asks for origin annotations (see `origin`); a plain
    // build when the wrapper cannot be made or built, so that the tool's own error is shown.
    let wrapped = match request.kind {
        RenderKind::Helm => None,
        RenderKind::Kustomize => match origin::Wrapper::new(&request.dir) {
            Ok(wrapper) => {
                let args = command_line_in(tool, request, helm, &wrapper.dir);
                match run(&args) {
                    Ok(output) if output.status.success() => Some((wrapper, output)),
                    failed => {
                        let why = match failed {
                            Ok(output) => String::from_utf8_lossy(&output.stderr).into_owned(),
                            Err(e) => e.to_string(),
                        };
                        unmapped.push((
                            "every object".to_string(),
                            format!(
                                "the build with origin annotations failed: {}",
                                tail(why.trim(), 400)
                            ),
                        ));
                        None
                    }
                }
            }
            Err(e) => {
                unmapped.push((
                    "every object".to_string(),
                    format!("no temporary kustomization for origin annotations: {e}"),
                ));
                None
            }
        },
    };
    let (wrapper, output) = match wrapped {
        Some((wrapper, output)) => (Some(wrapper), output),
        None => (
            None,
            run(&args).map_err(|e| {
                Notice::error(format!("`{shown}` could not start: {e}")).at(&dir_display, None)
            })?,
        ),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(Notice::error(format!(
            "`{shown}` failed ({}):\n{}",
            output.status,
            tail(stderr.trim(), 4000)
        ))
        .at(&dir_display, None));
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    let display = virtual_path(request.kind, &dir_display);
    let mut loaded = files::load_bytes(&display, text.as_bytes());
    let mut relocated = Relocations::new();
    if request.kind == RenderKind::Kustomize {
        let mut mapper = wrapper
            .as_ref()
            .and_then(|w| origin::Mapper::new(root, &w.dir, &dir_display));
        for object in &mut loaded.objects {
            let declared = origin::take_origin(object);
            let Origin::File { document, item, .. } = object.origin else {
                continue;
            };
            let Some(mapper) = mapper.as_mut() else {
                continue;
            };
            let result = match &declared {
                Some(declared) => mapper.map(object, declared),
                None => Err("kustomize gave it no origin annotation".to_string()),
            };
            match result {
                Ok(found) => {
                    relocated.insert((document, item), found);
                }
                Err(why) => unmapped.push((object.display(), why)),
            }
        }
        text = origin::blank_origin_lines(&text);
    }
    for object in &mut loaded.objects {
        if request.kind == RenderKind::Helm {
            object.helm_source = object
                .helm_source
                .as_deref()
                .map(|source| template_path(&dir_display, source));
            if object.namespace.is_none() && !is_cluster_scoped(&object.api_version, &object.kind) {
                object.namespace = helm.namespace.as_deref().map(Text::from);
            }
        }
    }
    let anchor = anchor_file(request, &dir_display);
    Ok(Rendered {
        display,
        dir_display,
        anchor,
        text,
        loaded,
        relocated,
        unmapped,
    })
}

fn run(args: &[OsString]) -> std::io::Result<std::process::Output> {
    Command::new(&args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
}

fn anchor_file(request: &RenderRequest, dir_display: &str) -> String {
    let names: &[&str] = match request.kind {
        RenderKind::Helm => &["Chart.yaml"],
        RenderKind::Kustomize => &["kustomization.yaml", "kustomization.yml", "Kustomization"],
    };
    let name = names
        .iter()
        .find(|n| request.dir.join(n).is_file())
        .unwrap_or(&names[0]);
    if dir_display == "." {
        name.to_string()
    } else {
        format!("{dir_display}/{name}")
    }
}

/// The command as a person would type it (for messages).
fn shown_command(args: &[OsString]) -> String {
    args.iter()
        .enumerate()
        .map(|(i, a)| {
            let text = if i == 0 {
                Path::new(a)
                    .file_name()
                    .unwrap_or(a)
                    .to_string_lossy()
                    .into_owned()
            } else {
                a.to_string_lossy().into_owned()
            };
            if text.contains(' ') {
                format!("'{text}'")
            } else {
                text
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last `max` bytes of `text`, at a character boundary.
fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_and_template_paths() {
        assert_eq!(
            virtual_path(RenderKind::Helm, "charts/shop"),
            "charts/shop/(helm template)"
        );
        assert_eq!(
            virtual_path(RenderKind::Kustomize, "."),
            "(kustomize build)"
        );
        assert_eq!(
            template_path("charts/shop", "shop/templates/deployment.yaml"),
            "charts/shop/templates/deployment.yaml"
        );
        assert_eq!(
            template_path("charts/shop", "shop/charts/redis/templates/sts.yaml"),
            "charts/shop/charts/redis/templates/sts.yaml"
        );
        assert_eq!(
            template_path(".", "shop/templates/a.yaml"),
            "templates/a.yaml"
        );
    }

    #[test]
    fn helm_command_line_carries_every_option() {
        let tool = Tool {
            program: PathBuf::from("/usr/bin/helm"),
            args: vec!["template".into()],
        };
        let request = RenderRequest {
            kind: RenderKind::Helm,
            dir: PathBuf::from("charts/shop"),
        };
        let helm = HelmOptions {
            values: vec!["prod.yaml".into()],
            set: vec!["image.tag=1.2.3".into()],
            release: Some("shop".into()),
            namespace: Some("shop-prod".into()),
        };
        let args: Vec<String> = command_line(&tool, &request, &helm)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "/usr/bin/helm",
                "template",
                "shop",
                "charts/shop",
                "--namespace",
                "shop-prod",
                "--values",
                "prod.yaml",
                "--set",
                "image.tag=1.2.3"
            ]
        );
    }

    #[test]
    fn long_stderr_keeps_its_end() {
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("é€x", 2), "x");
    }
}

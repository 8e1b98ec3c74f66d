//! Errors that make a run untrustworthy (exit code 2). Problems with single files or objects
//! are findings or warnings instead, and never stop the run.

use std::io;
use std::path::{Path, PathBuf};

use miette::{Diagnostic, NamedSource, SourceSpan};

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(Box<ConfigError>),

    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cannot write {}", path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The kubeconfig named with `--kubeconfig` cannot be read or parsed.
    #[error("cannot read kubeconfig {}", path.display())]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },

    /// No kubeconfig in `$KUBECONFIG` or `~/.kube/config`, or an unreadable one.
    #[error("cannot read a kubeconfig ($KUBECONFIG or ~/.kube/config)")]
    DefaultKubeconfig {
        #[source]
        source: kube::config::KubeconfigError,
    },

    /// The process could not start its worker threads or its network runtime (out of
    /// threads or memory).
    #[error("cannot start {what}")]
    Runtime {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },

    /// A mistake in the command line or the settings, explained in the message.
    #[error("{0}")]
    Usage(String),

    /// A problem found while running, with its own explanation (policy, render, network…).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Diagnostic(Box<dyn Diagnostic + Send + Sync + 'static>),
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage(message.into())
    }

    /// True when the error is a closed pipe on output (`tollgate scan | head`), which is not
    /// a failure.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Error::Output { source, .. } | Error::Io { source, .. } => {
                source.kind() == io::ErrorKind::BrokenPipe
            }
            _ => false,
        }
    }
}

/// An invalid configuration file, pointing at the offending line.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("invalid configuration {}:{line}:{column}: {message}", path.display())]
#[diagnostic(code(tollgate::config))]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    #[source_code]
    source_code: NamedSource<String>,
    #[label("{message}")]
    span: SourceSpan,
}

impl ConfigError {
    pub fn new(
        path: &Path,
        text: &str,
        line: usize,
        column: usize,
        offset: usize,
        message: String,
    ) -> ConfigError {
        let offset = offset.min(text.len());
        let length = text[offset..]
            .find(['\n', ':'])
            .unwrap_or(text.len() - offset)
            .max(1)
            .min(text.len() - offset);
        ConfigError {
            path: path.to_path_buf(),
            line,
            column,
            message,
            source_code: NamedSource::new(path.display().to_string(), text.to_string()),
            span: SourceSpan::new(offset.into(), length),
        }
    }
}

//! Problems of the run itself (not findings): a file that could not be read, an expired
//! exemption, a resource type the cluster would not list. Warnings leave the exit code alone;
//! errors mean the run could not be trusted (exit 2) but every report is still written.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoticeLevel {
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Notice {
    pub level: NoticeLevel,
    pub message: String,
    /// File (relative to the scan root), endpoint or context the notice is about.
    pub path: Option<String>,
    pub line: Option<u32>,
}

impl Notice {
    pub fn warning(message: impl Into<String>) -> Notice {
        Notice {
            level: NoticeLevel::Warning,
            message: message.into(),
            path: None,
            line: None,
        }
    }

    pub fn error(message: impl Into<String>) -> Notice {
        Notice {
            level: NoticeLevel::Error,
            ..Notice::warning(message)
        }
    }

    pub fn at(mut self, path: impl Into<String>, line: Option<u32>) -> Notice {
        self.path = Some(path.into());
        self.line = line;
        self
    }

    pub fn is_error(&self) -> bool {
        self.level == NoticeLevel::Error
    }
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.level {
            NoticeLevel::Warning => "warning",
            NoticeLevel::Error => "error",
        };
        match (&self.path, self.line) {
            (Some(path), Some(line)) => write!(f, "{level}: {path}:{line}: {}", self.message),
            (Some(path), None) => write!(f, "{level}: {path}: {}", self.message),
            _ => write!(f, "{level}: {}", self.message),
        }
    }
}

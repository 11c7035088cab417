//! What can stop the log from opening.
//!
//! Each variant is a different thing for an operator to do, so the worker
//! exits with a different code for each ([`OpenError::exit_code`]): fix the
//! configuration, restore or repair the files, or look at the disk.

use std::{io, path::PathBuf};

use crate::error::Error;

/// The log directory could not be opened or recovered.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// `wal.path` cannot be created or written (exit code 2, like any bad
    /// configuration value).
    #[error("wal.path: cannot use {}: {reason}", path.display())]
    Directory {
        /// The configured directory.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// A log or snapshot file is damaged somewhere other than at its tail
    /// (exit code 3).
    #[error(
        "corrupt write-ahead log: {} at offset {offset}: {reason} \
         (start with --repair to keep the valid records before it and drop the rest)",
        file.display()
    )]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Where in it the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Every snapshot is damaged, and the log no longer holds the entries
    /// they covered, so the state cannot be rebuilt (exit code 3). Unlike
    /// [`OpenError::Corrupt`], `--repair` cannot help.
    #[error(
        "unrecoverable write-ahead log: {} at offset {offset}: {reason}; every snapshot \
         is damaged and the log no longer holds what they covered: restore wal.path from a backup",
        file.display()
    )]
    Unrecoverable {
        /// The newest damaged snapshot.
        file: PathBuf,
        /// Where in it the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A file the configuration names (a certificate, a token) cannot be
    /// used (exit code 2, like any bad configuration value).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The replication engine could not start on the recovered log (exit
    /// code 1).
    #[error("cannot start replication: {0}")]
    Start(String),
    /// Reading or writing a file failed (exit code 1).
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. `read`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl OpenError {
    /// The process exit code for this failure: 2 for a configuration
    /// problem, 3 for corruption, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            OpenError::Directory { .. } | OpenError::Config(_) => 2,
            OpenError::Corrupt { .. } | OpenError::Unrecoverable { .. } => 3,
            OpenError::Io { .. } | OpenError::Start(_) => 1,
        }
    }
}

/// Attaches what was being done, and to which path, to an I/O error.
pub(crate) trait IoContext<T> {
    /// `cannot {action} {path}: {error}` when opening.
    fn opening(self, action: &'static str, path: &std::path::Path) -> Result<T, OpenError>;
    /// The same, as the UNAVAILABLE a running log answers.
    fn running(self, action: &'static str, path: &std::path::Path) -> Result<T, Error>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn opening(self, action: &'static str, path: &std::path::Path) -> Result<T, OpenError> {
        self.map_err(|source| OpenError::Io {
            action,
            path: path.to_owned(),
            source,
        })
    }

    fn running(self, action: &'static str, path: &std::path::Path) -> Result<T, Error> {
        self.map_err(|err| {
            Error::Unavailable(format!(
                "write-ahead log: cannot {action} {}: {err}",
                path.display()
            ))
        })
    }
}

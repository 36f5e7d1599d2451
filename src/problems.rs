//! Problems found in a config or mapping file, each with its file and key, collected so that
//! `scimgate check` (and `serve`, which refuses to start) can print them all at once.

use std::fmt;
use std::path::{Path, PathBuf};

/// One configuration problem: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The config or mapping file the problem is in.
    pub file: PathBuf,
    /// The key path inside the file (`backend.base_url`, `users.attributes[2].to_backend`);
    /// empty for the file as a whole.
    pub key: String,
    /// What is wrong, for a person to read.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.message)
        }
    }
}

/// All the problems found; the program refuses to start while there is one.
#[derive(Debug, Default, Clone, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// Records a problem at `key` of `file` (an empty key for the file as a whole).
    pub fn add(&mut self, file: &Path, key: &str, message: impl Into<String>) {
        self.0.push(Problem {
            file: file.to_owned(),
            key: key.to_owned(),
            message: message.into(),
        });
    }

    /// Whether no problem was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

//! Where a command's input and output come from: arguments, `@FILE`, `-`.
//!
//! `doc create` takes its JSON as the argument itself, as `@FILE`, or as
//! `-` for standard input, like curl's `--data`. Trailing whitespace (the
//! newline an editor or `echo` adds) is dropped: JSON ignores it, and a
//! stored value that ends in a newline surprises whoever reads it back.
//! Everything else is sent exactly as given; the worker stores it verbatim.

use std::{
    fs::File,
    io::{self, BufRead, BufReader, BufWriter, Read, Write},
    path::{Path, PathBuf},
};

use super::error::CliError;

/// The name a standard stream is reported by.
pub const STDIO: &str = "-";

/// Reads a value argument: the text itself, `@FILE`, or `-` (standard input).
pub fn value_argument(arg: &str) -> Result<String, CliError> {
    let text = if arg == STDIO {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .map_err(|err| CliError::io(STDIO, err))?;
        text
    } else if let Some(path) = arg.strip_prefix('@') {
        std::fs::read_to_string(path).map_err(|err| CliError::usage(format!("{path}: {err}")))?
    } else {
        arg.to_owned()
    };
    Ok(text.trim_end().to_owned())
}

/// A buffered reader of `path`, or of standard input for `-`.
pub fn open_input(path: &Path) -> Result<Input, CliError> {
    if path == Path::new(STDIO) {
        return Ok(Input {
            reader: Box::new(BufReader::with_capacity(1 << 20, io::stdin())),
            len: None,
            path: path.to_owned(),
        });
    }
    // A missing or unreadable input file is the user's to fix: exit 2.
    let file =
        File::open(path).map_err(|err| CliError::usage(format!("{}: {err}", path.display())))?;
    let len = file.metadata().ok().map(|m| m.len());
    Ok(Input {
        reader: Box::new(BufReader::with_capacity(1 << 20, file)),
        len,
        path: path.to_owned(),
    })
}

/// An opened input.
pub struct Input {
    /// The bytes.
    pub reader: Box<dyn BufRead + Send>,
    /// Its size, when it is a file (for the progress bar).
    pub len: Option<u64>,
    /// Its name for messages.
    pub path: PathBuf,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish()
    }
}

/// Reads the whole of `path` (or standard input) as text.
pub fn read_all(path: &Path) -> Result<String, CliError> {
    let mut input = open_input(path)?;
    let mut text = String::new();
    input
        .reader
        .read_to_string(&mut text)
        .map_err(|err| CliError::io(path, err))?;
    Ok(text)
}

/// A buffered writer to `path`, or to standard output for `-` or nothing.
pub fn open_output(path: Option<&Path>) -> Result<(Box<dyn Write + Send>, PathBuf), CliError> {
    match path {
        None => Ok((stdout_writer(), PathBuf::from(STDIO))),
        Some(path) if path == Path::new(STDIO) => Ok((stdout_writer(), path.to_owned())),
        Some(path) => {
            let file = File::create(path)
                .map_err(|err| CliError::usage(format!("{}: {err}", path.display())))?;
            Ok((
                Box::new(BufWriter::with_capacity(1 << 20, file)),
                path.to_owned(),
            ))
        }
    }
}

fn stdout_writer() -> Box<dyn Write + Send> {
    Box::new(BufWriter::with_capacity(1 << 20, io::stdout()))
}

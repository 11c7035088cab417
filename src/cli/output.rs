//! Printing results as a table, JSON or YAML.
//!
//! Every result a command prints implements [`Show`]: its table columns and
//! cells, and one serde view used for both JSON and YAML. The one
//! difference between the two: a JSON document's `value` (and a WAL entry's
//! `data`) is embedded as the JSON it is, byte for byte (`jq .value.name`
//! works), while YAML shows it as the string it was stored as, because
//! re-encoding it as YAML would reorder or reformat what the user wrote.
//!
//! Lists are streamed: a JSON array, a YAML sequence or table rows are
//! written as pages arrive, so `doc list` of a million documents never holds
//! them all as JSON text. (A table still buffers its rows, to align them.)

use std::io::{self, BufWriter, Stdout, Write};

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use tabwriter::TabWriter;

use super::{args::Format, error::CliError};

/// Something `distgo` prints.
pub trait Show {
    /// The table's column headers.
    const COLUMNS: &'static [&'static str];

    /// One table row: a cell per column.
    fn cells(&self) -> Vec<String>;

    /// The table form of this result printed alone, when it is not a
    /// one-row table (a document prints its value verbatim).
    fn alone(&self) -> Option<String> {
        None
    }

    /// Serializes the JSON/YAML view; `raw` says whether embedded JSON text
    /// goes in as JSON (JSON output) or as a string (YAML output).
    fn view<S: Serializer>(&self, raw: bool, serializer: S) -> Result<S::Ok, S::Error>;
}

/// JSON text to embed: as JSON when `raw` (and it parses), else as a string.
#[derive(Clone, Copy, Debug)]
pub struct Embedded<'a> {
    /// The JSON text.
    pub text: &'a str,
    /// Embed as JSON rather than as a string.
    pub raw: bool,
}

impl Serialize for Embedded<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self
            .raw
            .then(|| serde_json::from_str::<&RawValue>(self.text))
        {
            Some(Ok(raw)) => raw.serialize(serializer),
            _ => serializer.serialize_str(self.text),
        }
    }
}

struct AsView<'a, T>(&'a T, bool);

impl<T: Show> Serialize for AsView<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.view(self.1, serializer)
    }
}

/// Standard output in the chosen format.
#[derive(Debug)]
pub struct Printer {
    format: Format,
    out: BufWriter<Stdout>,
}

impl Printer {
    /// A printer of `format` on standard output.
    pub fn new(format: Format) -> Self {
        Printer {
            format,
            out: BufWriter::new(io::stdout()),
        }
    }

    /// The format results are printed in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Prints one result.
    pub fn one<T: Show>(&mut self, item: &T) -> Result<(), CliError> {
        let text = match self.format {
            Format::Table => match item.alone() {
                Some(text) => text + "\n",
                None => table(std::iter::once(item))?,
            },
            Format::Json => json(item)? + "\n",
            Format::Yaml => yaml(&AsView(item, false))?,
        };
        self.write(text.as_bytes())?;
        self.flush()
    }

    /// Starts a list; call [`List::push`] per item and [`List::finish`].
    pub fn list<T: Show>(&mut self) -> List<'_, T> {
        List {
            printer: self,
            rows: Vec::new(),
            count: 0,
        }
    }

    /// Writes raw bytes (an export's lines).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), CliError> {
        self.out.write_all(bytes).map_err(stdout_error)
    }

    /// Flushes what was written.
    pub fn flush(&mut self) -> Result<(), CliError> {
        self.out.flush().map_err(stdout_error)
    }
}

/// A list being printed.
#[derive(Debug)]
pub struct List<'a, T> {
    printer: &'a mut Printer,
    rows: Vec<T>,
    count: u64,
}

impl<T: Show> List<'_, T> {
    /// Prints (or, for a table, keeps) one more item.
    pub fn push(&mut self, item: T) -> Result<(), CliError> {
        let first = self.count == 0;
        self.count += 1;
        let text = match self.printer.format {
            Format::Table => {
                self.rows.push(item);
                return Ok(());
            }
            Format::Json => {
                let indented = json(&item)?.replace('\n', "\n  ");
                format!("{}  {indented}", if first { "[\n" } else { ",\n" })
            }
            Format::Yaml => yaml(&[AsView(&item, false)])?,
        };
        self.printer.write(text.as_bytes())
    }

    /// Ends the list; returns how many items it had.
    pub fn finish(self) -> Result<u64, CliError> {
        let text = match (self.printer.format, self.count) {
            (Format::Table, _) => table(self.rows.iter())?,
            (Format::Json, 0) => "[]\n".to_owned(),
            (Format::Json, _) => "\n]\n".to_owned(),
            (Format::Yaml, 0) => "[]\n".to_owned(),
            (Format::Yaml, _) => String::new(),
        };
        self.printer.write(text.as_bytes())?;
        self.printer.flush()?;
        Ok(self.count)
    }
}

fn table<'a, T: Show + 'a>(items: impl Iterator<Item = &'a T>) -> Result<String, CliError> {
    let mut tw = TabWriter::new(Vec::new()).padding(2);
    let mut line = T::COLUMNS.join("\t");
    line.push('\n');
    for item in items {
        let cells: Vec<String> = item.cells().iter().map(|cell| one_line(cell)).collect();
        line.push_str(&cells.join("\t"));
        line.push('\n');
    }
    tw.write_all(line.as_bytes()).map_err(stdout_error)?;
    let bytes = tw
        .into_inner()
        .map_err(|err| stdout_error(io::Error::new(err.error().kind(), err.error().to_string())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A cell on one line: tabs and line breaks (whitespace in a JSON value)
/// would break the columns.
fn one_line(cell: &str) -> String {
    cell.replace(['\t', '\n', '\r'], " ")
}

fn json<T: Show>(item: &T) -> Result<String, CliError> {
    serde_json::to_string_pretty(&AsView(item, true))
        .map_err(|err| CliError::io("-", io::Error::other(err)))
}

fn yaml<T: Serialize + ?Sized>(item: &T) -> Result<String, CliError> {
    serde_yaml::to_string(item).map_err(|err| CliError::io("-", io::Error::other(err)))
}

fn stdout_error(err: io::Error) -> CliError {
    CliError::io("-", err)
}

/// Formats a timestamp for a table: RFC 3339 to the second.
pub fn table_time(ts: Option<&prost_types::Timestamp>) -> String {
    match ts {
        Some(ts) => prost_types::Timestamp {
            seconds: ts.seconds,
            nanos: 0,
        }
        .to_string(),
        None => "-".to_owned(),
    }
}

/// Formats a timestamp for JSON and YAML: RFC 3339 with nine fractional
/// digits, so that the strings sort as the times do.
pub fn full_time(ts: Option<&prost_types::Timestamp>) -> Option<String> {
    let ts = ts?;
    let seconds = table_time(Some(ts));
    let stem = seconds.strip_suffix('Z').unwrap_or(&seconds);
    Some(format!("{stem}.{:09}Z", ts.nanos.clamp(0, 999_999_999)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_times_have_nine_digits_and_table_times_none() {
        let ts = prost_types::Timestamp {
            seconds: 1_796_000_000,
            nanos: 5_000_000,
        };
        assert_eq!(table_time(Some(&ts)), "2026-11-30T00:53:20Z");
        assert_eq!(
            full_time(Some(&ts)).unwrap(),
            "2026-11-30T00:53:20.005000000Z"
        );
    }

    #[test]
    fn embedded_json_keeps_its_bytes_in_json_and_is_a_string_in_yaml() {
        let text = r#"{"b":1,  "a":[2]}"#;
        let as_json = serde_json::to_string(&Embedded { text, raw: true }).unwrap();
        assert_eq!(as_json, text);
        let as_yaml = serde_yaml::to_string(&Embedded { text, raw: false }).unwrap();
        assert_eq!(as_yaml, "'{\"b\":1,  \"a\":[2]}'\n");
    }
}

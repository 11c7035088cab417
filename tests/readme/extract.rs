//! Finding the shell commands a reader is told to type.
//!
//! A command is a line of a ```` ```sh ```` block, in a Markdown file or in
//! the doc comments (`//!`, `///`) of a Rust file, with `\` continuations
//! joined. A `#` comment after it explains it; a comment containing
//! `needs: WHAT` marks a command that a fresh machine cannot run as is
//! (a tool it lacks, a remote host, an idle machine for minutes), and the
//! harness checks the mark instead of running it.

use std::path::Path;

/// One command of the documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// Where it is written, `README.md:23`, for messages.
    pub at: String,
    /// Where its ```` ```sh ```` block starts: commands of one block are a
    /// sequence (a lesson's steps), run in order.
    pub block: String,
    /// The command, without its comment.
    pub line: String,
    /// Its `#` comment, if any, without the `#`.
    pub comment: Option<String>,
}

impl Command {
    /// What the comment says the command needs, after `needs:`.
    pub fn needs(&self) -> Option<&str> {
        let comment = self.comment.as_deref()?;
        let (_, what) = comment.split_once("needs:")?;
        Some(what.trim())
    }

    /// The command split into words, as `sh` would (quotes, no expansion).
    pub fn words(&self) -> Result<Vec<String>, String> {
        split_words(&self.line).map_err(|e| format!("{}: {e}: {}", self.at, self.line))
    }
}

/// The commands of the Markdown file at `path`.
pub fn from_markdown(path: &Path, name: &str) -> Vec<Command> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let lines: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.to_owned()))
        .collect();
    from_lines(name, &lines)
}

/// The commands in the doc comments of the Rust file at `path`.
pub fn from_rust_docs(path: &Path, name: &str) -> Vec<Command> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let lines: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let trimmed = line.trim_start();
            let doc = trimmed
                .strip_prefix("//!")
                .or_else(|| trimmed.strip_prefix("///"))?;
            Some((i + 1, doc.strip_prefix(' ').unwrap_or(doc).to_owned()))
        })
        .collect();
    from_lines(name, &lines)
}

/// The commands of ```` ```sh ```` blocks among numbered lines.
pub fn from_lines(name: &str, lines: &[(usize, String)]) -> Vec<Command> {
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut block = String::new();
    let mut pending: Option<(usize, String)> = None;
    for (number, line) in lines {
        let fence = line.trim_start();
        if !in_block {
            in_block = matches!(fence, "```sh" | "```shell" | "```bash");
            block = format!("{name}:{number}");
            continue;
        }
        if fence.starts_with("```") {
            in_block = false;
            continue;
        }
        let (start, mut text) = match pending.take() {
            Some((start, text)) => (start, text + " " + line.trim()),
            None => (*number, line.trim().to_owned()),
        };
        if let Some(body) = text.strip_suffix('\\') {
            text = body.trim_end().to_owned();
            pending = Some((start, text));
            continue;
        }
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let (line, comment) = split_comment(&text);
        commands.push(Command {
            at: format!("{name}:{start}"),
            block: block.clone(),
            line,
            comment,
        });
    }
    commands
}

/// `cmd args  # comment` into the command and the comment. A `#` starts a
/// comment only at the start of a word and outside quotes, as in `sh`.
fn split_comment(text: &str) -> (String, Option<String>) {
    let mut quote = None;
    let mut previous = ' ';
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if previous.is_whitespace() => {
                let comment = text[i + 1..].trim().to_owned();
                return (text[..i].trim_end().to_owned(), Some(comment));
            }
            _ => {}
        }
        previous = c;
    }
    (text.trim_end().to_owned(), None)
}

/// Words as `sh` splits them: blanks separate, quotes group, a backslash
/// outside single quotes escapes the next character. No `$`, globs, pipes
/// or redirections: a documented command needing them is refused, so the
/// harness never runs something other than what the reader sees.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    let mut quote = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (Some(q), c) if c == q => quote = None,
            (None | Some('"'), '\\') => {
                let next = chars.next().ok_or("a trailing backslash")?;
                word.get_or_insert_with(String::new).push(next);
            }
            (None, '|' | '>' | '<' | ';' | '&' | '$' | '`' | '*' | '?') => {
                return Err(format!("`{c}` needs a shell; write the command without it"));
            }
            (Some('"'), '$' | '`') => return Err(format!("`{c}` in quotes needs a shell")),
            (_, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    if quote.is_some() {
        return Err("an unclosed quote".into());
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(text: &str) -> Vec<(usize, String)> {
        text.lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.to_owned()))
            .collect()
    }

    #[test]
    fn only_sh_blocks_count_and_continuations_join() {
        let text = "intro `cargo run`\n```text\nnot a command\n```\n```sh\n# a comment line\ncargo run --release   # starts a worker\nx --a \\\n    --b 'q # r'\n```\n";
        let commands = from_lines("F", &numbered(text));
        assert_eq!(
            commands,
            [
                Command {
                    at: "F:7".into(),
                    block: "F:5".into(),
                    line: "cargo run --release".into(),
                    comment: Some("starts a worker".into()),
                },
                Command {
                    at: "F:8".into(),
                    block: "F:5".into(),
                    line: "x --a --b 'q # r'".into(),
                    comment: None,
                },
            ]
        );
        assert_eq!(commands[1].words().unwrap(), ["x", "--a", "--b", "q # r"]);
    }

    #[test]
    fn a_needs_mark_says_what() {
        let text =
            "```sh\ngrpcurl list   # needs: grpcurl (github.com/fullstorydev/grpcurl)\n```\n";
        let commands = from_lines("F", &numbered(text));
        assert_eq!(
            commands[0].needs(),
            Some("grpcurl (github.com/fullstorydev/grpcurl)")
        );
    }

    #[test]
    fn shell_syntax_is_refused_rather_than_half_run() {
        for line in [
            "a | b",
            "a > f",
            "echo $HOME",
            "a && b",
            "ls *.rs",
            "\"$X\"",
        ] {
            assert!(split_words(line).is_err(), "{line}");
        }
        assert_eq!(
            split_words(r#"A=1 b -d '{"k": "v"}' "x\"y""#).unwrap(),
            ["A=1", "b", "-d", r#"{"k": "v"}"#, r#"x"y"#]
        );
    }
}

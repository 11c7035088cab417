//! Redactions that make transcripts stable across runs and implementations.
//!
//! Values that differ every run (timestamps, generated ids, tokens,
//! transaction and log entry ids, the namespace) are collected while the
//! script runs and then replaced in the transcript text by numbered
//! placeholders. Numbering by first appearance keeps the facts a reader
//! needs: `created_at: '[time-3]'` and `updated_at: '[time-3]'` are equal,
//! and after an update `updated_at` becomes `[time-4]`.
//!
//! Page tokens are replaced only where they are tokens: a `next_page_token`
//! of a response and the `page_token=` of a request. A worker whose tokens
//! are plain resource names (a common and legal choice) would otherwise
//! have every name in the transcript turned into `[token-N]`.

use serde_yaml::Value;

use crate::call::{Call, Outcome, Reply};

/// Collects values to redact, then replaces them.
#[derive(Debug)]
pub struct Redactor {
    ns: String,
    /// (value, placeholder), in order of first appearance.
    seen: Vec<(String, String)>,
    /// Page tokens and their placeholders, replaced only in token fields.
    tokens: Vec<(String, String)>,
    counts: [usize; 5],
}

#[derive(Clone, Copy)]
enum Class {
    Time = 0,
    Id = 1,
    Token = 2,
    Txn = 3,
    Uuid = 4,
}

impl Class {
    fn label(self) -> &'static str {
        match self {
            Class::Time => "time",
            Class::Id => "id",
            Class::Token => "token",
            Class::Txn => "txn",
            Class::Uuid => "uuid",
        }
    }
}

impl Redactor {
    /// A redactor for a case whose namespace is `ns`.
    pub fn new(ns: &str) -> Self {
        Redactor {
            ns: ns.to_owned(),
            seen: Vec::new(),
            tokens: Vec::new(),
            counts: [0; 5],
        }
    }

    fn note(&mut self, class: Class, value: &str) {
        let list = match class {
            Class::Token => &mut self.tokens,
            _ => &mut self.seen,
        };
        if value.is_empty() || list.iter().any(|(v, _)| v == value) {
            return;
        }
        self.counts[class as usize] += 1;
        let placeholder = format!("[{}-{}]", class.label(), self.counts[class as usize]);
        list.push((value.to_owned(), placeholder));
    }

    fn token(&self, value: &str) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(v, _)| v == value)
            .map(|(_, p)| p.as_str())
    }

    /// Notes what a request and its outcome hold that must be redacted.
    pub fn note_call(&mut self, call: &Call, outcome: &Outcome) {
        let Ok(reply) = outcome else { return };
        if let Some(generated) = generated_id(call, reply) {
            self.note(Class::Id, &generated);
        }
        self.walk(&reply.to_yaml(), None);
    }

    fn walk(&mut self, value: &Value, key: Option<&str>) {
        match value {
            Value::Mapping(map) => {
                for (k, v) in map {
                    self.walk(v, k.as_str());
                }
            }
            Value::Sequence(items) => items.iter().for_each(|v| self.walk(v, key)),
            Value::String(s) => match key {
                Some("created_at" | "updated_at" | "timestamp") => self.note(Class::Time, s),
                Some("next_page_token") => self.note(Class::Token, s),
                Some("transaction_id") => self.note(Class::Txn, s),
                Some("id") => self.note(Class::Uuid, s),
                _ => {}
            },
            _ => {}
        }
    }

    /// Redacts every string inside `value` (so the YAML stays well formed).
    pub fn apply_value(&self, value: &mut Value) {
        self.apply_under(value, None);
    }

    fn apply_under(&self, value: &mut Value, key: Option<&str>) {
        match value {
            Value::String(s) => match (key, self.token(s)) {
                (Some("next_page_token" | "page_token"), Some(placeholder)) => {
                    *s = placeholder.to_owned();
                }
                (Some("request"), _) => *s = self.tokens_in_request(&self.apply(s)),
                _ => *s = self.apply(s),
            },
            Value::Sequence(items) => items.iter_mut().for_each(|v| self.apply_under(v, key)),
            Value::Mapping(map) => map.iter_mut().for_each(|(k, v)| {
                let k = k.as_str().map(str::to_owned);
                self.apply_under(v, k.as_deref());
            }),
            _ => {}
        }
    }

    /// A request line with the value of its `page_token=` replaced, when it
    /// is a token seen before.
    fn tokens_in_request(&self, line: &str) -> String {
        const FIELD: &str = "page_token=";
        let Some(at) = line.find(FIELD) else {
            return line.to_owned();
        };
        let start = at + FIELD.len();
        let end = line[start..].find(' ').map_or(line.len(), |i| start + i);
        match self.token(&line[start..end]) {
            Some(placeholder) => format!("{}{placeholder}{}", &line[..start], &line[end..]),
            None => line.to_owned(),
        }
    }

    /// The text with every noted value replaced, longest values first (so a
    /// value that contains another is replaced whole).
    pub fn apply(&self, text: &str) -> String {
        let mut pairs: Vec<&(String, String)> = self.seen.iter().collect();
        pairs.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        let mut out = text.to_owned();
        for (value, placeholder) in pairs {
            out = out.replace(value.as_str(), placeholder);
        }
        if !self.ns.is_empty() {
            out = out.replace(&self.ns, "[prefix]");
        }
        out
    }
}

/// The id the server picked, when the request left it empty.
fn generated_id(call: &Call, reply: &Reply) -> Option<String> {
    let asked_empty = match call {
        Call::CreateDatabase(r) => r.database_id.is_empty(),
        Call::CreateCollection(r) => r.collection_id.is_empty(),
        Call::CreateDocument(r) => {
            r.document_id.is_empty() && r.document.as_ref().is_none_or(|d| d.id.is_empty())
        }
        _ => false,
    };
    let name = match reply {
        Reply::Database(d) => &d.name,
        Reply::Collection(c) => &c.name,
        Reply::Document(d) => &d.name,
        _ => return None,
    };
    asked_empty.then(|| name.rsplit('/').next().unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_replaced_only_in_token_fields() {
        let mut r = Redactor::new("");
        let name = "databases/a/collections/c/documents/x";
        r.note(Class::Token, name);
        let mut value: Value = serde_yaml::from_str(&format!(
            "- request: ListDocuments parent=p page_token={name}\n  response:\n    documents:\n    - name: {name}\n    next_page_token: {name}\n"
        ))
        .unwrap();
        r.apply_value(&mut value);
        let text = serde_yaml::to_string(&value).unwrap();
        assert!(text.contains("page_token=[token-1]"), "{text}");
        assert!(text.contains(&format!("name: {name}")), "{text}");
        assert!(text.contains("next_page_token: '[token-1]'"), "{text}");
    }
}

//! Ids and names as the generator makes them: small alphabets, so that
//! collisions are frequent, with invalid ids and malformed names among them
//! on purpose; and the rules that tell the valid ones apart.

/// Database ids the generator draws from: three valid, two not.
pub const DB_IDS: &[&str] = &["a", "b", "c", "B", "a b"];
/// Collection and document ids: five valid (`.` and `..` included), two not.
pub const CHILD_IDS: &[&str] = &["x", "y", "X", ".", "..", "x/y", "é"];
/// Names that match no pattern; `{db}` is a real database id of the run.
pub const MALFORMED: &[&str] = &[
    "",
    "databases/",
    "{db}",
    "databases/{db}/",
    "databases/{db}/collections/",
];

/// A resource name in local terms, as the generator makes it: the model's
/// own ids (the machine maps them into the run's namespace), or a name
/// malformed on purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalName {
    /// Local ids: `[db]`, `[db, coll]` or `[db, coll, doc]`.
    Name(Vec<String>),
    /// One of [`MALFORMED`].
    Malformed(usize),
}

/// Whether `id` is a valid id at `depth` (1: database).
pub fn valid_id(id: &str, depth: usize) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| match b {
            b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => true,
            b'A'..=b'Z' => depth > 1,
            _ => false,
        })
}

/// The segments of `name` if it is a valid name of depth `depth`.
pub fn valid_name(name: &LocalName, depth: usize) -> Option<&[String]> {
    match name {
        LocalName::Name(segs) if segs.len() == depth => segs
            .iter()
            .enumerate()
            .all(|(i, s)| valid_id(s, i + 1))
            .then_some(segs.as_slice()),
        _ => None,
    }
}

//! The run prefix (`cf-xxxxxx-`): every database a run makes has an id
//! that starts with it, so a run touches nothing of anyone else's and a
//! sweep (`cleanup --prefix`) finds exactly what a run left.

use rand::Rng;

use crate::{req::Kind, target::ServerUnderTest};

/// A fresh run prefix: `cf-` and six random characters, then `-`.
pub fn random_prefix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..6)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("cf-{tail}-")
}

/// Whether `prefix` has the shape of a run prefix (`cf-xxxxxx-`), so that
/// `cleanup --prefix` can never be pointed at someone else's data by a typo.
pub fn is_run_prefix(prefix: &str) -> bool {
    prefix.len() == 10
        && prefix.starts_with("cf-")
        && prefix.ends_with('-')
        && prefix[3..9]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The names of every database whose id starts with `prefix`.
pub async fn list_prefixed(
    target: &ServerUnderTest,
    prefix: &str,
) -> Result<Vec<String>, tonic::Status> {
    let clients = target.clients();
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let reply = Kind::Database.list("", 1000, &token).send(&clients).await?;
        let crate::call::Reply::Databases(page) = reply else {
            return Ok(names);
        };
        let wanted = format!("databases/{prefix}");
        names.extend(
            page.databases
                .into_iter()
                .map(|d| d.name)
                .filter(|n| n.starts_with(&wanted)),
        );
        if page.next_page_token.is_empty() {
            return Ok(names);
        }
        if crate::req::token_repeats(&token, &page.next_page_token) {
            // A worker that hands back the token it was given would keep
            // this sweep going for ever.
            return Err(tonic::Status::internal(
                "ListDatabases answered with the page token it was asked with; the sweep stopped",
            ));
        }
        token = page.next_page_token;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_prefixes_have_their_shape() {
        for _ in 0..50 {
            let p = random_prefix();
            assert!(is_run_prefix(&p), "{p}");
            assert!(crate::ctx::is_database_id(&p), "{p}");
        }
        for bad in [
            "",
            "c",
            "cf-",
            "cf-abc-",
            "cf-ABCDEF-",
            "cf-abcdefg",
            "xx-abcdef-",
        ] {
            assert!(!is_run_prefix(bad), "{bad}");
        }
    }
}

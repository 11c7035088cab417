//! Paging through a whole listing.
//!
//! Every List method answers at most `page_size` items and a token for the
//! rest; `next_page_token` is empty exactly when nothing follows. A client
//! that trusts the worker too much loops forever on a worker whose token
//! never moves, so the loop also stops, with an error, on a token it has
//! just sent.

use tonic::Status;

use super::error::CliError;

/// The largest page the contract allows.
pub const MAX_PAGE: u64 = 1000;

/// One page: the items and the token of the next one.
pub type Page<T> = (Vec<T>, String);

/// Fetches pages with `fetch(page_size, token)` and hands each item to
/// `each`, until the listing ends or `limit` items were handed; returns how
/// many were.
pub async fn page_through<T>(
    limit: Option<u64>,
    fetch: impl AsyncFnMut(i32, String) -> Result<Page<T>, Status>,
    mut each: impl FnMut(T) -> Result<(), CliError>,
) -> Result<u64, CliError> {
    let sink = async |items: Vec<T>| items.into_iter().try_for_each(&mut each);
    for_each_page(limit, fetch, sink).await
}

/// [`page_through`], handing whole pages to `sink` (an export passes each
/// to its writer thread while the next one is fetched).
pub async fn for_each_page<T>(
    limit: Option<u64>,
    mut fetch: impl AsyncFnMut(i32, String) -> Result<Page<T>, Status>,
    mut sink: impl AsyncFnMut(Vec<T>) -> Result<(), CliError>,
) -> Result<u64, CliError> {
    let mut handed = 0u64;
    let mut token = String::new();
    loop {
        let want = limit.map_or(MAX_PAGE, |limit| (limit - handed).min(MAX_PAGE));
        if want == 0 {
            return Ok(handed);
        }
        let page_size = i32::try_from(want).unwrap_or(i32::MAX);
        let (mut items, next) = fetch(page_size, token.clone()).await?;
        items.truncate(want as usize);
        handed += items.len() as u64;
        sink(items).await?;
        if next.is_empty() {
            return Ok(handed);
        }
        if next == token {
            return Err(CliError::from(Status::internal(
                "the worker answered the page token it was sent; stopping",
            )));
        }
        token = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(total: u32) -> impl AsyncFnMut(i32, String) -> Result<Page<u32>, Status> {
        async move |size: i32, token: String| {
            let start: u32 = token.parse().unwrap_or(0);
            let end = (start + size as u32).min(total);
            let next = if end < total {
                end.to_string()
            } else {
                String::new()
            };
            Ok(((start..end).collect(), next))
        }
    }

    #[tokio::test]
    async fn every_item_once_in_order_across_pages() {
        let mut seen = Vec::new();
        let count = page_through(None, pages(2500), |i| {
            seen.push(i);
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(count, 2500);
        assert_eq!(seen, (0..2500).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_limit_stops_early() {
        let count = page_through(Some(1200), pages(5000), |_| Ok(()))
            .await
            .unwrap();
        assert_eq!(count, 1200);
    }

    #[tokio::test]
    async fn a_token_that_does_not_move_is_an_error_not_a_loop() {
        let stuck = async |_: i32, _: String| Ok((vec![1], "same".to_owned()));
        let result = page_through(None, stuck, |_: i32| Ok(())).await;
        assert!(result.is_err());
    }
}

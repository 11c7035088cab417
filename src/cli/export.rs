//! Writing a whole collection out: pages in, JSON lines out.
//!
//! Page tokens are opaque and each names the position after the previous
//! page, so pages can only be fetched one after another. What can overlap
//! is the fetching and the writing: a writer thread turns page *k* into
//! lines while page *k + 1* is on the wire. Every document that exists for
//! the whole export is written exactly once (the contract's paging
//! guarantee); one created or deleted meanwhile may or may not be.

use std::{io::Write, path::Path, sync::Arc, time::Instant};

use tokio::sync::mpsc;

use super::{
    Context,
    error::CliError,
    input::open_output,
    lines::export_line,
    paging::{Page, for_each_page},
    path::{Kind, last_id, resolve},
    progress::Tally,
};
use crate::proto::database::{Document, ListDocumentsRequest};

/// `doc export`: every document of a collection as JSON lines.
pub async fn documents(
    cx: &mut Context,
    collection: &str,
    file: Option<&Path>,
    id_field: Option<String>,
) -> Result<(), CliError> {
    let parent = resolve(collection, Kind::Collection)?;
    let (out, path) = open_output(file)?;
    let tally = Tally::new(None, false, "exporting");
    let started = Instant::now();
    let (pages, received) = mpsc::channel::<Vec<Document>>(2);
    let writer = {
        let path = path.clone();
        let tally = tally.clone();
        tokio::task::spawn_blocking(move || {
            write_lines(out, received, id_field.as_deref(), &tally)
                .map_err(|err| CliError::io(path, err))
        })
    };
    let fetched = send_pages(cx, &parent, pages).await;
    let written = writer
        .await
        .map_err(|err| CliError::io(&path, std::io::Error::other(err)))?;
    tally.finish();
    written?;
    let count = fetched?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("exported {count} documents in {seconds:.2} s");
    Ok(())
}

/// Fetches every page of `parent` into `pages`; returns the document count.
pub async fn send_pages(
    cx: &Context,
    parent: &str,
    pages: mpsc::Sender<Vec<Document>>,
) -> Result<u64, CliError> {
    let mut client = cx.clients.documents();
    let fetch = async |page_size, page_token| -> Result<Page<Document>, tonic::Status> {
        let request = ListDocumentsRequest {
            parent: parent.to_owned(),
            page_size,
            page_token,
        };
        let page = client.list_documents(request).await?.into_inner();
        Ok((page.documents, page.next_page_token))
    };
    let sink = async |page: Vec<Document>| {
        // A closed channel means the writer failed; it reports why.
        pages
            .send(page)
            .await
            .map_err(|_| CliError::io("-", std::io::Error::from(std::io::ErrorKind::BrokenPipe)))
    };
    for_each_page(None, fetch, sink).await
}

/// The writer thread: one line per document.
fn write_lines(
    mut out: Box<dyn Write + Send>,
    mut pages: mpsc::Receiver<Vec<Document>>,
    id_field: Option<&str>,
    tally: &Arc<Tally>,
) -> std::io::Result<()> {
    while let Some(page) = pages.blocking_recv() {
        let count = page.len() as u64;
        for doc in page {
            match id_field {
                // The common case writes the stored bytes untouched.
                None if !doc.value.contains(['\n', '\r']) => out.write_all(doc.value.as_bytes())?,
                _ => {
                    let line = export_line(&doc.value, last_id(&doc.name), id_field);
                    out.write_all(line.as_bytes())?;
                }
            }
            out.write_all(b"\n")?;
        }
        tally.done(count);
    }
    out.flush()
}

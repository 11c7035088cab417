//! `db export` / `db import`: a whole database as JSON lines, to copy it
//! between workers.
//!
//! ## The format (version 1)
//!
//! One JSON object per line, tagged by `kind`. The first line is the
//! database; each collection's line comes before its documents' lines:
//!
//! ```text
//! {"kind":"database","format":1,"id":"shop","display_name":"Shop"}
//! {"kind":"collection","id":"users","description":"people who buy"}
//! {"kind":"document","collection":"users","id":"ada","value":"{\"name\":\"Ada\"}"}
//! ```
//!
//! A document's `value` is a JSON *string* holding the stored text, so it
//! comes back byte for byte, whitespace and key order included. Names are
//! ids, not full names, so `db import --as copy` can load the same file
//! under another database id. Timestamps are not carried: the importing
//! worker sets `created_at` and `updated_at` to the time of the import.
//! A reader must reject a `format` it does not know.
//!
//! ```sh
//! distgo --addr http://a:55055 db export shop | distgo --addr http://b:55055 db import -   # needs: two workers, at a and b
//! ```

use std::{
    collections::HashMap,
    io::{BufRead, Write},
    path::Path,
    sync::Arc,
    time::Instant,
};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{
    Context,
    args::LoadArgs,
    error::CliError,
    export::send_pages,
    import::{Record, finish, load_lines},
    input::{open_input, open_output},
    paging::page_through,
    path::{Kind, last_id, resolve},
};
use crate::proto::database::{
    Collection, CreateDatabaseRequest, Database, Document, GetDatabaseRequest,
    ListCollectionsRequest,
};

/// The format version this client writes and reads.
pub const FORMAT: u32 = 1;

/// One line of a database export.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Line {
    /// The first line: the database.
    Database {
        /// The format version ([`FORMAT`]).
        format: u32,
        /// The database id.
        id: String,
        /// Its display name.
        display_name: String,
    },
    /// A collection, before its documents.
    Collection {
        /// The collection id.
        id: String,
        /// Its description.
        description: String,
    },
    /// A document.
    Document {
        /// Its collection's id.
        collection: String,
        /// The document id.
        id: String,
        /// The stored JSON text.
        value: String,
    },
}

/// `db export DATABASE [FILE]`.
pub async fn export(cx: &mut Context, database: &str, file: Option<&Path>) -> Result<(), CliError> {
    let name = resolve(database, Kind::Database)?;
    let request = GetDatabaseRequest { name: name.clone() };
    let db = cx
        .clients
        .databases()
        .get_database(request)
        .await?
        .into_inner();
    let collections = collections_of(cx, &name).await?;
    let (mut out, path) = open_output(file)?;
    let started = Instant::now();
    let header = Line::Database {
        format: FORMAT,
        id: last_id(&name).to_owned(),
        display_name: db.display_name,
    };
    let io = |err| CliError::io(&path, err);
    write_line(&mut out, &header).map_err(io)?;
    let mut documents = 0;
    for collection in collections {
        let id = last_id(&collection.name).to_owned();
        let line = Line::Collection {
            id: id.clone(),
            description: collection.description,
        };
        write_line(&mut out, &line).map_err(io)?;
        let (pages, received) = mpsc::channel(2);
        let writer = tokio::task::spawn_blocking(move || write_documents(out, received, &id));
        let fetched = send_pages(cx, &collection.name, pages).await;
        out = writer
            .await
            .map_err(|err| io(std::io::Error::other(err)))?
            .map_err(io)?;
        documents += fetched?;
    }
    out.flush().map_err(io)?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("exported {name}: {documents} documents in {seconds:.2} s");
    Ok(())
}

async fn collections_of(cx: &Context, database: &str) -> Result<Vec<Collection>, CliError> {
    let mut client = cx.clients.collections();
    let mut all = Vec::new();
    let fetch = async |page_size, page_token| {
        let request = ListCollectionsRequest {
            parent: database.to_owned(),
            page_size,
            page_token,
        };
        let page = client.list_collections(request).await?.into_inner();
        Ok((page.collections, page.next_page_token))
    };
    page_through(None, fetch, |c| {
        all.push(c);
        Ok(())
    })
    .await?;
    Ok(all)
}

type Out = Box<dyn Write + Send>;

fn write_documents(
    mut out: Out,
    mut pages: mpsc::Receiver<Vec<Document>>,
    collection: &str,
) -> std::io::Result<Out> {
    while let Some(page) = pages.blocking_recv() {
        for doc in page {
            let line = Line::Document {
                collection: collection.to_owned(),
                id: last_id(&doc.name).to_owned(),
                value: doc.value,
            };
            write_line(&mut out, &line)?;
        }
    }
    Ok(out)
}

fn write_line(out: &mut Out, line: &Line) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")
}

/// `db import FILE [--as DATABASE]`.
pub async fn import(
    cx: &mut Context,
    file: &Path,
    rename: Option<&str>,
    load: LoadArgs,
) -> Result<(), CliError> {
    let mut input = open_input(file)?;
    let mut first = String::new();
    input
        .reader
        .read_line(&mut first)
        .map_err(|err| CliError::io(file, err))?;
    let (id, display_name) =
        match serde_json::from_str::<Line>(first.trim_start_matches('\u{feff}')) {
            Ok(Line::Database {
                format: FORMAT,
                id,
                display_name,
            }) => (id, display_name),
            Ok(Line::Database { format, .. }) => {
                return Err(CliError::usage(format!(
                    "{}: format {format} is not one this distgo reads ({FORMAT})",
                    file.display()
                )));
            }
            _ => {
                return Err(CliError::usage(format!(
                    "{}: line 1 is not the database line of a `distgo db export`",
                    file.display()
                )));
            }
        };
    let id = match rename {
        Some(path) => last_id(&resolve(path, Kind::Database)?).to_owned(),
        None => id,
    };
    let request = CreateDatabaseRequest {
        database_id: id,
        database: Some(Database {
            display_name,
            ..Database::default()
        }),
    };
    let created = cx
        .clients
        .databases()
        .create_database(request)
        .await?
        .into_inner();
    eprintln!("created {}", created.name);
    let parse = parser(created.name.clone());
    let summary = load_lines(cx, created.name, input, 1, load, parse).await?;
    finish(cx, summary)
}

/// Reads the lines after the first into records under `database`.
fn parser(database: String) -> impl FnMut(&str) -> Result<Record, String> + Send + 'static {
    // One shared parent name per collection, not one allocation per line.
    let mut parents: HashMap<String, Arc<str>> = HashMap::new();
    move |text: &str| match serde_json::from_str::<Line>(text).map_err(super::lines::describe)? {
        Line::Collection { id, description } => Ok(Record::Collection {
            name: format!("{database}/collections/{id}"),
            description,
        }),
        Line::Document {
            collection,
            id,
            value,
        } => {
            let parent = parents
                .entry(collection)
                .or_insert_with_key(|c| Arc::from(format!("{database}/collections/{c}")))
                .clone();
            Ok(Record::Document { parent, id, value })
        }
        Line::Database { .. } => Err("a second database line".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_one_tagged_object_per_line() {
        let line = Line::Document {
            collection: "users".into(),
            id: "ada".into(),
            value: r#"{"name": "Ada"}"#.into(),
        };
        let text = serde_json::to_string(&line).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"document","collection":"users","id":"ada","value":"{\"name\": \"Ada\"}"}"#
        );
        assert_eq!(serde_json::from_str::<Line>(&text).unwrap(), line);
    }

    #[test]
    fn documents_of_one_collection_share_its_parent_name() {
        let mut parse = parser("databases/shop".into());
        let line = r#"{"kind":"document","collection":"c","id":"a","value":"{}"}"#;
        let (Ok(Record::Document { parent: a, .. }), Ok(Record::Document { parent: b, .. })) =
            (parse(line), parse(line))
        else {
            panic!("documents expected");
        };
        assert_eq!(&*a, "databases/shop/collections/c");
        assert!(Arc::ptr_eq(&a, &b));
    }
}

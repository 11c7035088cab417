//! The first lesson: talk to a running worker.
//!
//! ```text
//! cargo run --release                                   # terminal 1: a worker on :55055
//! cargo run --example quickstart -- http://127.0.0.1:55055   # terminal 2
//! ```
//!
//! It creates a database, a collection and a document, reads the document
//! back, lists the collection, and deletes the database (which takes the
//! collection and the document with it).

use distgo_db::proto::database::{
    CreateCollectionRequest, CreateDatabaseRequest, CreateDocumentRequest, Database,
    DeleteDatabaseRequest, Document, GetDocumentRequest, ListDocumentsRequest,
    collection_service_client::CollectionServiceClient,
    database_service_client::DatabaseServiceClient, document_service_client::DocumentServiceClient,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:55055".to_owned());
    let channel = tonic::transport::Endpoint::from_shared(address.clone())?
        .connect()
        .await
        .map_err(|err| format!("cannot reach a worker at {address}: {err}"))?;
    let mut databases = DatabaseServiceClient::new(channel.clone());
    let mut collections = CollectionServiceClient::new(channel.clone());
    let mut documents = DocumentServiceClient::new(channel);

    // 1. A database. An empty database_id would let the server pick one.
    let database = databases
        .create_database(CreateDatabaseRequest {
            database_id: format!("quickstart-{}", std::process::id()),
            database: Some(Database {
                display_name: "Quickstart".into(),
                ..Default::default()
            }),
        })
        .await?
        .into_inner();
    println!("created  {}", database.name);

    // 2. A collection inside it.
    let collection = collections
        .create_collection(CreateCollectionRequest {
            parent: database.name.clone(),
            collection_id: "books".into(),
            collection: Some(Default::default()),
        })
        .await?
        .into_inner();
    println!("created  {}", collection.name);

    // 3. A document: any JSON object, stored exactly as written.
    let document = documents
        .create_document(CreateDocumentRequest {
            parent: collection.name.clone(),
            document_id: "dune".into(),
            document: Some(Document {
                value: r#"{"title": "Dune", "year": 1965}"#.into(),
                ..Default::default()
            }),
        })
        .await?
        .into_inner();
    println!("created  {}", document.name);

    // 4. Read it back: the value is byte-for-byte what we wrote.
    let read = documents
        .get_document(GetDocumentRequest {
            name: document.name.clone(),
        })
        .await?
        .into_inner();
    println!("read     {} = {}", read.name, read.value);

    // 5. List the collection, one page.
    let page = documents
        .list_documents(ListDocumentsRequest {
            parent: collection.name.clone(),
            page_size: 10,
            page_token: String::new(),
        })
        .await?
        .into_inner();
    println!("listed   {} document(s)", page.documents.len());

    // 6. Delete the database: its collection and document go with it.
    databases
        .delete_database(DeleteDatabaseRequest {
            name: database.name.clone(),
        })
        .await?;
    println!("deleted  {}", database.name);
    Ok(())
}

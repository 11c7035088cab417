//! A wrong deployment of two members: both forward every request to one
//! reference worker (the leader's store), but the follower answers
//! GetDocument from its own copy of the documents, which applies each
//! acknowledged write only [`LAG`] later. Its reads are stale: exactly the
//! bug of a follower that serves default reads locally without asking the
//! leader whether it has caught up (no ReadIndex, no lease).

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use distgo_conformance::proto::database as pb;
use tonic::Status;

use super::{Flaw, Front, WrongWorker};

/// How far behind the follower's copy is.
pub const LAG: Duration = Duration::from_millis(300);

/// The follower's copy of the documents, by name.
#[derive(Default)]
pub struct Replica {
    documents: Mutex<BTreeMap<String, pb::Document>>,
}

impl Replica {
    /// Applies an acknowledged write [`LAG`] from now: the document as
    /// written, or `None` for a delete.
    pub fn apply_later(self: &Arc<Self>, name: String, document: Option<pb::Document>) {
        let replica = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(LAG).await;
            let mut documents = replica.documents.lock().unwrap();
            match document {
                Some(document) => documents.insert(name, document),
                None => documents.remove(&name),
            };
        });
    }

    /// The document as the copy has it now.
    pub fn read(&self, name: &str) -> Result<pb::Document, Status> {
        let documents = self.documents.lock().unwrap();
        documents
            .get(name)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("document {name} not found")))
    }
}

/// A running two-member deployment whose follower lags.
pub struct LaggingDeployment {
    /// Reads and writes through the leader's store.
    pub leader: WrongWorker,
    /// Writes through the leader's store, reads from the lagging copy.
    pub follower: WrongWorker,
}

impl LaggingDeployment {
    /// Both members in front of the reference worker at `upstream`.
    pub async fn start(upstream: &str) -> LaggingDeployment {
        let replica = Arc::new(Replica::default());
        let leader = WrongWorker::start_member(
            upstream,
            &[Flaw::Nothing],
            Front::default(),
            replica.clone(),
        )
        .await;
        let follower = WrongWorker::start_member(
            upstream,
            &[Flaw::StaleFollowerReads],
            Front::default(),
            replica,
        )
        .await;
        LaggingDeployment { leader, follower }
    }
}

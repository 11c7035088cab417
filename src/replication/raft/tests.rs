//! openraft's own storage suite, run on the project's log and store: the
//! engine's authors' definition of a correct `RaftLogStorage` and
//! `RaftStateMachine` (votes, appends, truncation, purging, applied state,
//! memberships, snapshots), each test on a fresh directory.

use std::sync::Arc;

use openraft::{StorageError, testing::log::StoreBuilder, type_config::TypeConfigExt};

use super::*;
use crate::config::{SyncPolicy, WalConfig};

struct Builder;

fn failed(err: &(impl std::error::Error + 'static)) -> StorageError<TypeConfig> {
    StorageError::read(TypeConfig::err_from_error(err))
}

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<TypeConfig>> {
        let dir = tempfile::tempdir().map_err(|e| failed(&e))?;
        let config = WalConfig {
            path: Some(dir.path().to_owned()),
            sync: SyncPolicy::Never,
            ..WalConfig::default()
        };
        let (wal, recovered) =
            Wal::open(&config, Recovery::Strict, 1 << 20).map_err(|e| failed(&e))?;
        let wal = Arc::new(wal);
        let store = Arc::new(Store::new(1 << 20));
        let log = LogStore::open(wal.clone(), recovered.entries, None, u64::MAX)
            .await
            .map_err(|e| failed(&e))?;
        let sm = StateMachine::new(store, wal, log.clone(), None).map_err(|e| failed(&e))?;
        Ok((dir, log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite_passes_on_the_log_and_the_store() {
    openraft::testing::log::Suite::test_all(Builder)
        .await
        .unwrap();
}

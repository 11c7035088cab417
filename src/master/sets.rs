//! Replica sets as the master sees them: a name, member addresses, and a
//! hint of which member leads.
//!
//! Members come from three places, merged in this order:
//!
//! 1. `master.sets` in the configuration (never forgotten);
//! 2. workers that registered (`master.cluster.v1.Register`), until they
//!    unregister or their registration expires ([`super::cluster`]);
//! 3. the membership a member reports in `ReplicationService/Status`, read
//!    by the catalog's refresh ([`super::catalog`]): one configured address
//!    per set is enough to find the others.
//!
//! The leader hint only decides which member is tried *first*: every
//! member answers every request (a follower forwards writes to its leader),
//! so a stale hint costs one hop, never a wrong answer.
//!
//! Channels are shared by address across sets and opened lazily: tonic
//! reconnects a broken channel by itself on the next call. They speak TLS
//! and carry the master's token when `master.workers_tls` and
//! `master.workers_token_file` say so ([`crate::server::outbound`]).

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::Duration,
};

use parking_lot::{Mutex, RwLock};
use tonic::{Request, transport::Channel};

use crate::server::outbound::Outbound;

/// One replica set.
#[derive(Debug)]
pub struct ReplicaSet {
    name: String,
    state: RwLock<Members>,
}

#[derive(Debug, Default)]
struct Members {
    configured: Vec<String>,
    /// Registered workers: address → worker id.
    registered: BTreeMap<String, String>,
    /// Reported by a member's Status.
    learned: Vec<String>,
    leader: Option<String>,
}

impl ReplicaSet {
    fn new(name: String, configured: Vec<String>) -> Self {
        ReplicaSet {
            name,
            state: RwLock::new(Members {
                configured,
                ..Members::default()
            }),
        }
    }

    /// The set's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every member address, the leader hint first: the order in which a
    /// request tries them.
    pub fn targets(&self) -> Vec<String> {
        let state = self.state.read();
        let mut targets: Vec<String> = Vec::new();
        let all = state
            .leader
            .iter()
            .chain(&state.configured)
            .chain(state.registered.keys())
            .chain(&state.learned);
        for address in all {
            if !targets.contains(address) {
                targets.push(address.clone());
            }
        }
        targets
    }

    /// Remembers `address` as the member to try first.
    pub fn set_leader(&self, address: Option<String>) {
        self.state.write().leader = address;
    }

    /// Replaces the members learned from a member's Status report.
    pub fn set_learned(&self, members: Vec<String>) {
        self.state.write().learned = members;
    }

    /// Whether nothing but registrations keeps this set known.
    fn only_registered(&self) -> bool {
        let state = self.state.read();
        state.configured.is_empty() && state.registered.is_empty()
    }
}

/// Every replica set this master knows, and the channels to their members.
#[derive(Debug, Default)]
pub struct Sets {
    sets: RwLock<BTreeMap<String, Arc<ReplicaSet>>>,
    channels: Mutex<HashMap<String, Channel>>,
    outbound: RwLock<Outbound>,
}

impl Sets {
    /// The sets of `master.sets`.
    pub fn configured(sets: &BTreeMap<String, Vec<String>>) -> Self {
        let sets = sets
            .iter()
            .map(|(name, members)| {
                let set = ReplicaSet::new(name.clone(), members.clone());
                (name.clone(), Arc::new(set))
            })
            .collect();
        Sets {
            sets: RwLock::new(sets),
            channels: Mutex::default(),
            outbound: RwLock::default(),
        }
    }

    /// Calls workers with `outbound` from now on (the master sets it when
    /// it starts serving, its files read); channels opened before are
    /// dropped so none keeps the old settings.
    pub fn use_outbound(&self, outbound: Outbound) {
        *self.outbound.write() = outbound;
        self.channels.lock().clear();
    }

    /// Whether calls to workers speak TLS.
    pub fn is_tls(&self) -> bool {
        self.outbound.read().is_tls()
    }

    /// Puts the master's token, if it has one, on a call to a worker.
    pub fn authorize<T>(&self, request: &mut Request<T>) {
        self.outbound.read().authorize(request);
    }

    /// The set called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<ReplicaSet>> {
        self.sets.read().get(name).cloned()
    }

    /// Every set, in name order.
    pub fn all(&self) -> Vec<Arc<ReplicaSet>> {
        self.sets.read().values().cloned().collect()
    }

    /// The names of every set, in order.
    pub fn names(&self) -> Vec<String> {
        self.sets.read().keys().cloned().collect()
    }

    /// Adds a registered worker to `set` (creating the set if it is new).
    pub fn register(&self, set: &str, address: &str, worker_id: &str) {
        let mut sets = self.sets.write();
        let entry = sets
            .entry(set.to_owned())
            .or_insert_with(|| Arc::new(ReplicaSet::new(set.to_owned(), Vec::new())));
        entry
            .state
            .write()
            .registered
            .insert(address.to_owned(), worker_id.to_owned());
    }

    /// Removes a registered worker; a set that only registrations made is
    /// forgotten with its last worker.
    pub fn unregister(&self, set: &str, address: &str) {
        let mut sets = self.sets.write();
        let Some(entry) = sets.get(set) else {
            return;
        };
        entry.state.write().registered.remove(address);
        if entry.only_registered() {
            sets.remove(set);
        }
    }

    /// The channel to `address`, opened on first use.
    pub fn channel(&self, address: &str) -> Result<Channel, String> {
        let mut channels = self.channels.lock();
        if let Some(channel) = channels.get(address) {
            return Ok(channel.clone());
        }
        let channel = self
            .outbound
            .read()
            .endpoint(address)
            .map_err(|err| format!("{address:?} is not a usable address: {err}"))?
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .connect_lazy();
        channels.insert(address.to_owned(), channel.clone());
        Ok(channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leader_is_tried_first_and_no_member_twice() {
        let sets = Sets::configured(&BTreeMap::from([(
            "a".to_owned(),
            vec!["h:1".to_owned(), "h:2".to_owned()],
        )]));
        let a = sets.get("a").unwrap();
        a.set_learned(vec!["h:2".into(), "h:3".into()]);
        a.set_leader(Some("h:3".into()));
        assert_eq!(a.targets(), ["h:3", "h:1", "h:2"]);
    }

    #[test]
    fn a_set_made_by_registrations_goes_with_its_last_worker() {
        let sets = Sets::default();
        sets.register("b", "h:1", "w1");
        assert_eq!(sets.names(), ["b"]);
        sets.unregister("b", "h:1");
        assert!(sets.names().is_empty());
    }
}

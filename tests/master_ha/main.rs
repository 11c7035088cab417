//! Masters as real processes: kill them under load, and nothing is lost.
//!
//! Every test here starts the real `distgo-master` and `distgo-worker`
//! binaries on 127.0.0.1 with ports the OS picks, kills them with SIGKILL
//! (the only way a process cannot tidy up first), restarts them on the
//! same port, and checks what a client of the masters was promised.
//!
//! | module | what it shows |
//! |---|---|
//! | [`nodes`] | the processes, their YAML, and bounded waits |
//! | [`failover`] | masters without a catalog group, a set's leader change behind a master, registrations expiring |
//! | [`catalog_group`] | three masters keeping the catalog in their own Raft group: placements survive leader kills and a full restart |

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod catalog_group;
mod failover;
mod nodes;

//! # distgo-conformance
//!
//! The conformance suite of distgo-db: it checks any worker, by address,
//! against the contract.

pub mod bench;
pub mod proto;

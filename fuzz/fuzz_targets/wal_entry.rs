//! `distgo_db::fuzzing::wal_entry` under libFuzzer (`just fuzz wal_entry`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| distgo_db::fuzzing::wal_entry(data));

//! `distgo_db::fuzzing::snapshot` under libFuzzer (`just fuzz snapshot`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| distgo_db::fuzzing::snapshot(data));

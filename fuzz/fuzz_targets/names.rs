//! `distgo_db::fuzzing::names` under libFuzzer (`just fuzz names`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| distgo_db::fuzzing::names(data));

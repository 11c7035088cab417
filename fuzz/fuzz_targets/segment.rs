//! `distgo_db::fuzzing::segment` under libFuzzer (`just fuzz segment`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| distgo_db::fuzzing::segment(data));

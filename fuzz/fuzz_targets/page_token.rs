//! `distgo_db::fuzzing::page_token` under libFuzzer (`just fuzz page_token`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| distgo_db::fuzzing::page_token(data));

//! `distgo_db::fuzzing::document_json` under libFuzzer (`just fuzz document_json`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| distgo_db::fuzzing::document_json(data));

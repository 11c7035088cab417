//! `distgo_db::fuzzing::service` under libFuzzer (`just fuzz service`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| distgo_db::fuzzing::service(data));

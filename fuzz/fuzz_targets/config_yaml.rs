//! `distgo_db::fuzzing::config_yaml` under libFuzzer (`just fuzz config_yaml`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| distgo_db::fuzzing::config_yaml(data));

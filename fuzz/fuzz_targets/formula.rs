//! Fuzz target: `slope::fuzzing::formula` (see its documentation for the oracle).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| slope::fuzzing::formula(data));

//! Fuzz target: `slope::fuzzing::graph_file` (see its documentation for the oracle).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| slope::fuzzing::graph_file(data));

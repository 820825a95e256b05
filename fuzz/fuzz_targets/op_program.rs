//! Fuzz target: `slope::fuzzing::op_program` (see its documentation for the oracle).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| slope::fuzzing::op_program(data));

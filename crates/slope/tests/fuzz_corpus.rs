//! Replays the fuzz targets' committed corpus (`fuzz/seeds/`, and anything minimized into
//! `fuzz/regressions/`) through the same oracles on stable Rust, as ordinary tests.

use std::path::PathBuf;

fn replay(target: &str, oracle: fn(&[u8])) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut count = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
        for entry in entries.flatten() {
            let data = std::fs::read(entry.path()).unwrap();
            oracle(&data);
            count += 1;
        }
    }
    assert!(count > 0, "no corpus for {target}");
}

#[test]
fn formula_corpus() {
    replay("formula", slope::fuzzing::formula);
}

#[test]
fn graph_file_corpus() {
    replay("graph_file", slope::fuzzing::graph_file);
}

#[test]
fn op_program_corpus() {
    replay("op_program", slope::fuzzing::op_program);
}

//! The arena's memory per recorded node, measured on 10^6 scalar binary-op nodes.

use slope::prelude::*;

#[test]
fn a_million_scalar_binary_nodes_take_at_most_40_bytes_each() {
    const N: usize = 1_000_000;
    // a graph made from this thread's kept buffers would start with their capacity
    slope::release_buffers();
    let g = Graph::new();
    let a = g.var(1.000_000_1);
    let b = g.var(0.5);
    let mut y = a;
    for i in 0..N {
        // alternate ops so every node is a genuine binary node with two tracked inputs
        y = if i % 2 == 0 { y * a } else { y - b };
    }
    assert_eq!(g.len(), N + 2);
    let per_node_used = g.with_arena(|arena| arena.used_bytes()) as f64 / g.len() as f64;
    let per_node_held = g.memory_bytes() as f64 / g.len() as f64;
    println!(
        "bytes per scalar binary node: {per_node_used:.1} used (a 40-byte node holding its value and \
         both partials), {per_node_held:.1} held (Vec capacity)"
    );
    assert_eq!(per_node_used, 40.0);
    // the node buffer grows by doubling: what it holds is at most twice what it uses
    assert!(per_node_held <= 80.0, "{per_node_held} bytes per node");
    // the tape is usable: dy/db over the whole chain
    let d = slope::var_grad(y, &[b]).unwrap();
    assert!(d[0].is_finite() && d[0] < 0.0);
}

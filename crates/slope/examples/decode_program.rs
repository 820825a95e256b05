//! Prints an op program of the `op_program` fuzz target, step by step (a debugging aid).
use slope::prelude::*;
use slope::Op;
fn main() {
    let path = std::env::args().nth(1).expect("a file");
    let data = std::fs::read(path).unwrap();
    let value = |b: u8| f64::from(b) / 42.5 - 3.0;
    let g = Graph::new();
    let leaves = [
        g.vector(&[value(data[0]), value(data[1]), value(data[2])]).requires_grad_(),
        g.scalar(value(data[3])).requires_grad_(),
        g.matrix(1, 2, &[value(data[4]), value(data[5])]).unwrap().requires_grad_(),
    ];
    let mut nodes: Vec<Tensor<'_>> = leaves.to_vec();
    for step in data[6..].chunks_exact(3) {
        let op = Op::all().nth(usize::from(step[0]) % Op::COUNT).unwrap();
        let (ia, ib) = (usize::from(step[1]) % nodes.len(), usize::from(step[2]) % nodes.len());
        let (a, b) = (nodes[ia], nodes[ib]);
        let result = if op.arity() == 1 { a.try_op(op, &[]) } else { a.try_op(op, &[b]) };
        if let Ok(t) = result {
            println!(
                "n{} = {}(n{ia}{}) = {:?} leaf={}",
                nodes.len(),
                op.name(),
                if op.arity() == 2 { format!(", n{ib}") } else { String::new() },
                t.to_vec(),
                t.is_leaf()
            );
            nodes.push(t);
        }
    }
    let out = nodes.last().unwrap().sum();
    println!("out = {:?}", out.item());
    let rev = slope::grad(out, &leaves).unwrap();
    let fwd = slope::graph::forward::gradient(out, &leaves).unwrap();
    for ((leaf, r), f) in leaves.iter().zip(&rev).zip(&fwd) {
        for k in 0..leaf.shape().len() {
            println!("d/d{:?}[{k}]: forward {} reverse {}", leaf.shape(), f.as_slice()[k], r.as_slice()[k]);
        }
    }
}

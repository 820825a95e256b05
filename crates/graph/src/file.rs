//! Recorded graphs as data: serialize with serde (JSON helpers included) and load back with
//! every invariant checked.
//!
//! A file lists the nodes in order: leaves carry their values, computed nodes carry their op
//! (by method name) and inputs. Loading replays the file through the same recording code as
//! a live graph, so computed values are evaluated, not trusted, and each node is checked
//! before anything is built on it: inputs point to earlier nodes, arity and shapes fit the
//! op, leaf values fit their shapes, sizes stay within a graph's limits, flags are coherent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::arena::{Arena, NodeId, Operand, MAX_NODES};
use crate::op::Op;
use crate::{Error, FrozenGraph, Shape};

/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 2;

/// A recorded graph as plain data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphFile {
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// The nodes, inputs before the nodes that read them.
    pub nodes: Vec<NodeRecord>,
    /// Names of nodes (inputs, outputs): position in `nodes` by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub names: BTreeMap<String, u64>,
}

/// One node of a [`GraphFile`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRecord {
    /// The op's method name (`"mul"`, `"exp"`, ...); absent for a leaf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// Positions of the inputs in `nodes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<u64>,
    /// The dimensions, outermost first (`[]` for a scalar, at most 6).
    pub shape: Vec<u64>,
    /// A leaf's values, row-major; absent for computed nodes (they are re-evaluated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<f64>>,
    /// Whether gradients flow to the node.
    #[serde(default)]
    pub requires_grad: bool,
    /// Whether a computed node keeps its gradient.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retain_grad: bool,
    /// A constant operand kept in the node (`x * 2.0` recorded through `Var`): its value;
    /// `inputs` then lists the one other operand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constant: Option<f64>,
    /// The attributes the node keeps (clamp's bounds, a slice's range, a permutation's
    /// code, a target shape), in the order of its op's row.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attrs: Vec<AttributeRecord>,
    /// Whether the constant is the left operand (`2.0 - x`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub constant_left: bool,
}

/// One attribute of a [`NodeRecord`]: a shape and values (a target shape has none).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeRecord {
    /// The dimensions, outermost first.
    pub shape: Vec<u64>,
    /// The values, row-major.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<f64>,
}

fn shape_of(dims: &[u64]) -> Option<Shape> {
    let dims: Vec<usize> = dims.iter().map(|&d| usize::try_from(d).ok()).collect::<Option<_>>()?;
    Shape::new(&dims).ok()
}

impl FrozenGraph {
    /// The graph as data.
    pub fn to_file(&self) -> GraphFile {
        let arena = self.arena();
        let nodes = (0..arena.len() as u32)
            .map(|i| {
                let (operands, arity) = arena.operands(i);
                let constant = operands[..arity].iter().enumerate().find_map(|(k, o)| match o {
                    Operand::Constant(c) => Some((k, *c)),
                    Operand::Node(_) => None,
                });
                let attrs = arena.with_args(
                    i,
                    |k| arena.value(k),
                    |args| {
                        let nodes = arena.op(i).map_or(0, Op::node_arity);
                        args.get(nodes..)
                            .unwrap_or_default()
                            .iter()
                            .map(|&(values, shape)| AttributeRecord {
                                shape: shape.dims().into_iter().map(|d| d as u64).collect(),
                                values: values.to_vec(),
                            })
                            .collect()
                    },
                );
                NodeRecord {
                    op: arena.op(i).map(|op| op.name().to_string()),
                    attrs,
                    inputs: arena.inputs(i).iter().map(|&k| u64::from(k)).collect(),
                    shape: arena.shape(i).dims().into_iter().map(|d| d as u64).collect(),
                    values: arena.is_leaf(i).then(|| arena.value(i).to_vec()),
                    requires_grad: arena.requires_grad(i),
                    retain_grad: arena.retains_grad(i),
                    constant: constant.map(|(_, c)| c),
                    constant_left: constant.is_some_and(|(k, _)| k == 0),
                }
            })
            .collect();
        let names = self.names().map(|(name, id)| (name.to_string(), u64::from(id.index()))).collect();
        GraphFile { version: FORMAT_VERSION, nodes, names }
    }

    /// The graph as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_file()).unwrap_or_else(|e| unreachable!("a graph file always serializes: {e}"))
    }

    /// Loads a graph from data, checking every node; the first problem is the error.
    pub fn from_file(file: &GraphFile) -> Result<FrozenGraph, Error> {
        let bad = |node: usize, message: String| Error::Malformed { node, message };
        if file.version != FORMAT_VERSION {
            return Err(bad(
                0,
                format!("format version {} is not {FORMAT_VERSION}, the one this slope reads", file.version),
            ));
        }
        if file.nodes.len() as u64 > MAX_NODES {
            return Err(bad(0, format!("{} nodes exceed the limit of {MAX_NODES}", file.nodes.len())));
        }
        let mut arena = Arena::new();
        for (i, node) in file.nodes.iter().enumerate() {
            let shape = shape_of(&node.shape).ok_or_else(|| {
                bad(i, format!("shape {:?} has more than 6 dimensions or too large ones", node.shape))
            })?;
            match (&node.op, &node.values) {
                (None, Some(values)) => {
                    if !node.inputs.is_empty() {
                        return Err(bad(i, "a leaf has no inputs".into()));
                    }
                    if node.retain_grad {
                        return Err(bad(
                            i,
                            "retain_grad is for computed nodes; a leaf keeps its gradient anyway".into(),
                        ));
                    }
                    arena.push_leaf(shape, values, node.requires_grad).map_err(|e| bad(i, e.to_string()))?;
                }
                (None, None) => return Err(bad(i, "a leaf needs its values".into())),
                (Some(_), Some(_)) => {
                    return Err(bad(
                        i,
                        "a computed node carries no values: they are re-evaluated from its inputs".into(),
                    ))
                }
                (Some(name), None) => {
                    let op = Op::from_name(name).ok_or_else(|| Error::UnknownOp { node: i, name: name.clone() })?;
                    let mut inputs = Vec::with_capacity(node.inputs.len());
                    for &k in &node.inputs {
                        if k >= i as u64 {
                            return Err(bad(i, format!("input {k} is not an earlier node")));
                        }
                        inputs.push(k as u32);
                    }
                    let mut attr_shapes = Vec::with_capacity(node.attrs.len());
                    for attr in &node.attrs {
                        attr_shapes.push(shape_of(&attr.shape).ok_or_else(|| {
                            bad(
                                i,
                                format!(
                                    "attribute shape {:?} has more than 6 dimensions or too large ones",
                                    attr.shape
                                ),
                            )
                        })?);
                    }
                    let attrs: Vec<(&[f64], Shape)> =
                        node.attrs.iter().zip(&attr_shapes).map(|(a, &s)| (&a.values[..], s)).collect();
                    let index = match node.constant {
                        None if node.constant_left => {
                            return Err(bad(i, "constant_left is set but the node has no constant".into()))
                        }
                        None if op == Op::Structural(crate::StructuralOp::Reshape) => {
                            arena.record_op(op, &inputs, &attrs, Some(shape))
                        }
                        None => arena.record_op(op, &inputs, &attrs, None),
                        Some(_) if !attrs.is_empty() => {
                            return Err(bad(i, "a node with a constant operand has no attributes".into()))
                        }
                        Some(c) => arena.record_with_kept_constant(op, &inputs, c, node.constant_left),
                    }
                    .map_err(|e| bad(i, e.to_string()))?;
                    if arena.shape(index) != shape {
                        return Err(bad(
                            i,
                            format!(
                                "declared shape {:?}, but {name} of its inputs has shape {}",
                                node.shape,
                                arena.shape(index)
                            ),
                        ));
                    }
                    if arena.is_leaf(index) || !node.requires_grad {
                        return Err(bad(
                            i,
                            format!("{name} does not depend on a node that requires grad, so it would be recorded as a leaf; store it as one"),
                        ));
                    }
                    if node.retain_grad {
                        arena.set_flag(index, true, true);
                    }
                }
            }
        }
        let mut names = BTreeMap::new();
        for (name, &position) in &file.names {
            match u32::try_from(position) {
                Ok(index) if (index as usize) < arena.len() => {
                    names.insert(name.clone(), index);
                }
                _ => return Err(bad(0, format!("the name `{name}` points at node {position}, past the last node"))),
            }
        }
        Ok(FrozenGraph::from_arena(arena, names))
    }

    /// Loads a graph from JSON, checking every node.
    pub fn from_json(json: &str) -> Result<FrozenGraph, Error> {
        let file: GraphFile = serde_json::from_str(json)
            .map_err(|e| Error::Malformed { node: 0, message: format!("not a graph file: {e}") })?;
        FrozenGraph::from_file(&file)
    }

    /// The id of the node at position `index` (as in the file it was loaded from).
    pub fn node_id(&self, index: u32) -> Result<NodeId, Error> {
        let arena = self.arena();
        let id = arena.node_id(index);
        arena.resolve(id).map(|_| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Graph;

    fn sample() -> FrozenGraph {
        let g = Graph::new();
        let x = g.vector(&[1.0, 2.0, 3.0]).requires_grad_();
        let y = (x * x).sum() + x.slice(1, 3).sum().exp();
        let v = g.var(0.5);
        let _ = 2.0 - num_traits::Float::sin(v * 3.0) + y.item().unwrap();
        y.retain_grad().unwrap();
        let _ = y.sigmoid();
        g.freeze()
    }

    #[test]
    fn a_graph_round_trips_through_json() {
        let g = sample();
        let back = FrozenGraph::from_json(&g.to_json()).unwrap();
        assert!(back.arena().all_values().eq(g.arena().all_values()));
        assert_eq!(back.to_file(), g.to_file());
    }

    fn load(edit: impl Fn(&mut GraphFile)) -> Result<FrozenGraph, Error> {
        let mut file = sample().to_file();
        edit(&mut file);
        FrozenGraph::from_file(&file)
    }

    #[test]
    fn names_find_nodes_again_after_loading_and_an_old_id_says_how() {
        let g = Graph::new();
        let x = g.vector(&[1.0, 2.0]).requires_grad_();
        let loss = (x * x).sum();
        let (x, loss) = (x.id(), loss.id());
        let mut frozen = g.freeze();
        frozen.name("x", x).unwrap();
        frozen.name("loss", loss).unwrap();
        let loaded = FrozenGraph::from_json(&frozen.to_json()).unwrap();
        assert_eq!(loaded.names().map(|(n, _)| n).collect::<Vec<_>>(), ["loss", "x"]);
        assert_eq!(loaded.value(loaded.named("x").unwrap()).unwrap().as_slice(), &[1.0, 2.0]);
        let stale = loaded.value(loss).unwrap_err().to_string();
        assert!(stale.contains("FrozenGraph::named"), "{stale}");
        let unknown = loaded.named("los").unwrap_err().to_string();
        assert!(unknown.contains("`los`") && unknown.contains("\"loss\""), "{unknown}");
        let mut file = frozen.to_file();
        file.names.insert("past".into(), 99);
        let err = FrozenGraph::from_file(&file).unwrap_err().to_string();
        assert!(err.contains("past the last node"), "{err}");
    }

    #[test]
    fn every_kind_of_corruption_is_named() {
        let at = |r: Result<FrozenGraph, Error>| match r {
            Err(Error::Malformed { node, message }) => (node, message),
            other => panic!("expected a malformed-graph error, got {other:?}"),
        };
        assert!(at(load(|f| f.version = 1)).1.contains("version"));
        // node 3 is the slice, its range an attribute
        assert_eq!(sample().to_file().nodes[3].attrs, vec![AttributeRecord { shape: vec![2], values: vec![1.0, 2.0] }]);
        assert!(at(load(|f| f.nodes[3].attrs.clear())).1.contains("takes 2"));
        assert!(at(load(|f| f.nodes[3].attrs[0].values = vec![1.0])).1.contains("holds 2"));
        assert!(at(load(|f| f.nodes[3].attrs[0].shape = vec![1; 7])).1.contains("attribute shape"));
        assert!(at(load(|f| f.nodes[3].attrs[0].values = vec![2.0, 2.0])).1.contains("slice"));
        assert!(at(load(|f| f.nodes[2].attrs = f.nodes[3].attrs.clone())).1.contains("takes 1"));
        let unknown = load(|f| f.nodes[1].op = Some("frobnicate".into()));
        assert_eq!(unknown.unwrap_err(), Error::UnknownOp { node: 1, name: "frobnicate".into() });
        assert!(at(load(|f| f.nodes[1].inputs = vec![7])).1.contains("earlier"));
        assert!(at(load(|f| f.nodes[1].inputs = vec![0])).1.contains("input"));
        assert!(at(load(|f| f.nodes[0].values = Some(vec![1.0]))).1.contains("holds 3"));
        assert!(at(load(|f| f.nodes[0].values = None)).1.contains("needs its values"));
        assert!(at(load(|f| f.nodes[0].shape = vec![1; 7])).1.contains("dimensions"));
        assert!(at(load(|f| f.nodes[0].shape = vec![u64::MAX])).0 == 0);
        assert!(at(load(|f| f.nodes[2].shape = vec![2])).1.contains("declared shape"));
        assert!(at(load(|f| f.nodes[2].values = Some(vec![0.0; 3]))).1.contains("re-evaluated"));
        assert!(at(load(|f| f.nodes[0].requires_grad = false)).1.contains("leaf"));
        assert!(at(load(|f| f.nodes[0].retain_grad = true)).1.contains("retain_grad"));
        assert!(FrozenGraph::from_json("{\"version\": 1}").is_err());
        assert!(FrozenGraph::from_json("not json").is_err());
        assert!(FrozenGraph::from_json("{\"version\":1,\"nodes\":[],\"extra\":0}").is_err());
    }
}

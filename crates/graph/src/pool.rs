//! Buffers of dropped graphs, kept per thread for the next graph.
//!
//! A training loop written as the notebook writes it makes a fresh [`Graph`](crate::Graph)
//! every step. Without this pool each step would allocate, grow (copying as it doubles) and
//! page-fault its node vector, its value buffer and its gradients afresh: measured at 20x the
//! cost of the same step on a graph kept and cleared. A dropped graph hands its buffers back
//! here, emptied with their capacity, and [`Graph::new`](crate::Graph::new) starts from them,
//! as PyTorch's caching allocator serves a new tensor from freed blocks.
//!
//! Large [`Value`](crate::Value)s (gradients and values copied out of a graph) take their
//! buffers from the same pool and give them back when dropped.
//!
//! The pool keeps at most [`KEPT_ARENAS`] sets of arena buffers (the largest) and
//! [`KEPT_GRADS`] gradient and value buffers ([`KEPT_GRAD_BYTES`] together) per thread.
//! [`release_buffers`] frees them.

use core::cell::RefCell;

use crate::arena::Node;

/// At most this many dropped arenas' buffers are kept per thread.
pub const KEPT_ARENAS: usize = 4;
/// At most this many gradient and value buffers are kept per thread.
pub const KEPT_GRADS: usize = 64;
/// ... holding at most this many bytes together.
pub const KEPT_GRAD_BYTES: usize = 1 << 28;
/// A [`Value`](crate::Value) of at least this many elements takes its buffer from the pool
/// and gives it back when dropped; smaller ones are left to the allocator.
pub const POOLED_LEN: usize = 4096;

/// The vectors of a dropped arena. The node slots and the values keep their elements (an
/// arena's node and value vectors are all initialised elements and a count of those in
/// use: `NodeStore`, `ValueStore`); the others are emptied.
#[derive(Default)]
pub(crate) struct ArenaBuffers {
    pub(crate) slots: Vec<Node>,
    pub(crate) values: Vec<f64>,
    pub(crate) specials: Vec<u32>,
    pub(crate) scratch: Vec<f64>,
}

impl ArenaBuffers {
    fn bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<Node>()
            + (self.values.capacity() + self.scratch.capacity()) * core::mem::size_of::<f64>()
            + self.specials.capacity() * core::mem::size_of::<u32>()
    }
}

#[derive(Default)]
struct Pool {
    arenas: Vec<ArenaBuffers>,
    grads: Vec<Vec<f64>>,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// Runs `f` on this thread's pool; `None` while the thread is being torn down (its pool
/// is gone) or from inside another pool call (none makes one: no user code runs there).
fn with_pool<R>(f: impl FnOnce(&mut Pool) -> R) -> Option<R> {
    POOL.try_with(|pool| pool.try_borrow_mut().ok().map(|mut pool| f(&mut pool))).ok().flatten()
}

/// The largest kept arena buffers, if any.
pub(crate) fn take_arena() -> Option<ArenaBuffers> {
    with_pool(|pool| pool.arenas.pop()).flatten()
}

/// Keeps a dropped arena's buffers (emptied here), in place of the smallest kept set when
/// the pool is full; buffers that hold nothing are not kept.
pub(crate) fn give_arena(mut buffers: ArenaBuffers) {
    if buffers.slots.capacity() == 0 && buffers.values.capacity() == 0 {
        return;
    }
    // `values` stays as it is: every element is initialised, so the next arena's value
    // store counts them as room (`ValueStore`) and never zeroes them again.
    buffers.specials.clear();
    buffers.scratch.clear();
    let _ = with_pool(move |pool| {
        pool.arenas.push(buffers);
        // Ascending by size, so `take_arena` pops the largest.
        pool.arenas.sort_by_key(ArenaBuffers::bytes);
        if pool.arenas.len() > KEPT_ARENAS {
            pool.arenas.remove(0);
        }
    });
}

/// An empty buffer with room for `len` numbers, a kept one where one is large enough.
pub(crate) fn take_grad(len: usize) -> Vec<f64> {
    let kept = with_pool(|pool| {
        let k = pool.grads.iter().position(|b| b.capacity() >= len)?;
        Some(pool.grads.swap_remove(k))
    });
    match kept.flatten() {
        Some(mut buffer) => {
            buffer.clear();
            buffer
        }
        None => Vec::with_capacity(len),
    }
}

/// Keeps gradient buffers no longer needed, up to [`KEPT_GRADS`].
pub(crate) fn give_grads(buffers: impl IntoIterator<Item = Vec<f64>>) {
    let _ = with_pool(|pool| {
        let bytes = |b: &Vec<f64>| b.capacity() * core::mem::size_of::<f64>();
        let mut held: usize = pool.grads.iter().map(bytes).sum();
        for buffer in buffers {
            if pool.grads.len() >= KEPT_GRADS || held + bytes(&buffer) > KEPT_GRAD_BYTES {
                break;
            }
            if buffer.capacity() > 0 {
                held += bytes(&buffer);
                pool.grads.push(buffer);
            }
        }
    });
}

/// Frees the buffers this thread keeps from dropped graphs, returning how many bytes they
/// held. Graphs made afterwards allocate afresh until graphs are dropped again.
///
/// ```
/// use slope_graph::Graph;
///
/// {
///     let g = Graph::new();
///     let x = g.vector(&[1.0; 1000]);
///     let _ = x.powi(2).sum();
/// } // the graph's buffers go to this thread's pool
/// assert!(slope_graph::release_buffers() > 8000);
/// assert_eq!(slope_graph::release_buffers(), 0);
/// ```
pub fn release_buffers() -> usize {
    with_pool(|pool| {
        let arenas: usize = pool.arenas.iter().map(ArenaBuffers::bytes).sum();
        let grads: usize = pool.grads.iter().map(|b| b.capacity() * core::mem::size_of::<f64>()).sum();
        *pool = Pool::default();
        arenas + grads
    })
    .unwrap_or(0)
}

//! `NodeSlots`: one slot per node over a window of an arena, laid out as the arena lays
//! out values (a scalar node's one value by node index, a tensor node's elements in one
//! buffer), for what sweeps keep per node: adjoints, or values at another scalar type.

use core::ops::Range;

use crate::arena::SlotRange;
use crate::Arena;

/// Storage for `S`-typed data of each node in `low..=high` of an [`Arena`]: a scalar
/// node's slot in [`scalars`](NodeSlots::scalars) at `index - low`, a tensor node's
/// elements in one buffer laid out as its values, and a view's (which shares its input's
/// value) in a second buffer laid out as the views' slots.
///
/// The buffers are kept between uses: [`reset`](NodeSlots::reset) reuses their capacity.
#[derive(Clone, Debug)]
pub struct NodeSlots<S> {
    low: u32,
    high: u32,
    /// One slot per node of the window, scalar or not (a tensor node's is unused).
    pub scalars: Vec<S>,
    tensor_base: usize,
    tensors: Vec<S>,
    view_base: usize,
    views: Vec<S>,
}

impl<S> NodeSlots<S> {
    /// Bytes held by the buffers (their capacity).
    pub fn memory_bytes(&self) -> usize {
        (self.scalars.capacity() + self.tensors.capacity() + self.views.capacity()) * core::mem::size_of::<S>()
    }
}

impl<S> Default for NodeSlots<S> {
    fn default() -> Self {
        NodeSlots {
            low: 0,
            high: 0,
            scalars: Vec::new(),
            tensor_base: 0,
            tensors: Vec::new(),
            view_base: 0,
            views: Vec::new(),
        }
    }
}

/// The value range of node `index` if it owns its value (not a scalar, not a view).
fn own_value(arena: &Arena, index: u32) -> Option<Range<usize>> {
    match arena.slot_range(index)? {
        SlotRange::Value(r) => Some(r),
        SlotRange::View(_) => None,
    }
}

/// The part of the value buffer that holds the tensor nodes of `low..=high`.
fn tensor_window(arena: &Arena, low: u32, high: u32) -> Range<usize> {
    if !arena.holds_tensors() || low > high {
        return 0..0;
    }
    let first = (low..=high).find_map(|i| own_value(arena, i));
    let last = (low..=high).rev().find_map(|i| own_value(arena, i));
    match (first, last) {
        (Some(first), Some(last)) => first.start..last.end,
        _ => 0..0,
    }
}

impl<S: Clone> NodeSlots<S> {
    /// Empty storage.
    pub fn new() -> NodeSlots<S> {
        NodeSlots::default()
    }

    /// Makes room for the nodes `low..=high` of `arena` (`low <= high < arena.len()`),
    /// every slot set to `fill`.
    pub fn reset(&mut self, arena: &Arena, low: u32, high: u32, fill: S) {
        self.reset_scalars(arena, low, high, fill.clone());
        self.tensors.fill(fill.clone());
        self.views.fill(fill);
    }

    /// [`reset`](NodeSlots::reset), with only the scalar slots set to `fill`: a tensor
    /// node's slots keep whatever they held (room is made, nothing is written) until
    /// [`fill_node`](NodeSlots::fill_node) sets them. What a backward sweep uses, which fills
    /// a tensor's adjoint when it first reaches it: recorded values the output does not
    /// reach (data, index vectors, constants) are never written.
    pub fn reset_scalars(&mut self, arena: &Arena, low: u32, high: u32, fill: S) {
        self.low = low;
        self.high = high;
        self.scalars.clear();
        self.scalars.resize((high - low) as usize + 1, fill.clone());
        let window = tensor_window(arena, low, high);
        self.tensor_base = window.start;
        if self.tensors.len() > window.len() {
            self.tensors.truncate(window.len());
        } else {
            self.tensors.resize(window.len(), fill.clone());
        }
        let views = arena.view_window(low, high);
        self.view_base = views.start;
        if self.views.len() > views.len() {
            self.views.truncate(views.len());
        } else {
            self.views.resize(views.len(), fill);
        }
    }

    /// Sets every slot of node `index` to `fill` (nothing outside the window).
    pub fn fill_node(&mut self, arena: &Arena, index: u32, fill: S) {
        if let Some(slots) = self.get_mut(arena, index) {
            slots.fill(fill);
        }
    }

    /// Makes room for the nodes `low..=high` of `arena`, every slot holding its node's
    /// recorded value converted by `lift` (what a replay starts from).
    pub fn reset_to_recorded(&mut self, arena: &Arena, low: u32, high: u32, lift: impl Fn(f64) -> S) {
        self.low = low;
        self.high = high;
        self.scalars.clear();
        self.tensors.clear();
        self.views.clear();
        self.tensor_base = tensor_window(arena, low, high).start;
        self.view_base = arena.view_window(low, high).start;
        for index in low..=high {
            match arena.slot_range(index) {
                // Tensor values (and views' slots) lie in node order, so appending them in
                // node order lays them out as `get` finds them.
                Some(SlotRange::Value(_)) => {
                    self.scalars.push(lift(0.0));
                    self.tensors.extend(arena.value(index).iter().map(|&x| lift(x)));
                }
                Some(SlotRange::View(_)) => {
                    self.scalars.push(lift(0.0));
                    self.views.extend(arena.value(index).iter().map(|&x| lift(x)));
                }
                None => self.scalars.push(lift(arena.value(index).first().copied().unwrap_or(0.0))),
            }
        }
    }

    /// The window's first node.
    pub fn low(&self) -> u32 {
        self.low
    }

    /// The window's last node.
    pub fn high(&self) -> u32 {
        self.high
    }

    /// Whether node `index` lies in the window.
    #[inline]
    pub fn covers(&self, index: u32) -> bool {
        (self.low..=self.high).contains(&index) && !self.scalars.is_empty()
    }

    /// The slots of node `index`, or `None` outside the window.
    pub fn get(&self, arena: &Arena, index: u32) -> Option<&[S]> {
        if !self.covers(index) {
            return None;
        }
        match arena.slot_range(index) {
            None => Some(core::slice::from_ref(&self.scalars[(index - self.low) as usize])),
            Some(SlotRange::Value(r)) => self.tensors.get(r.start - self.tensor_base..r.end - self.tensor_base),
            Some(SlotRange::View(r)) => self.views.get(r.start - self.view_base..r.end - self.view_base),
        }
    }

    /// The slots of node `index`, mutable, or `None` outside the window.
    pub fn get_mut(&mut self, arena: &Arena, index: u32) -> Option<&mut [S]> {
        if !self.covers(index) {
            return None;
        }
        match arena.slot_range(index) {
            None => Some(core::slice::from_mut(&mut self.scalars[(index - self.low) as usize])),
            Some(SlotRange::Value(r)) => self.tensors.get_mut(r.start - self.tensor_base..r.end - self.tensor_base),
            Some(SlotRange::View(r)) => self.views.get_mut(r.start - self.view_base..r.end - self.view_base),
        }
    }

    /// The slots of the nodes below tensor node `index` (mutable), beside its own (shared):
    /// inputs always lie below the node that reads them, so a sweep reads a node's adjoint
    /// and adds into its inputs' at once.
    pub fn split_at_tensor(&mut self, arena: &Arena, index: u32) -> Option<(Below<'_, S>, &[S])> {
        let place = arena.slot_range(index)?;
        if !self.covers(index) {
            return None;
        }
        let (low, tensor_base, view_base) = (self.low, self.tensor_base, self.view_base);
        Some(match place {
            // a view's inputs' slots are the values' below it and the views' below its own
            SlotRange::View(r) => {
                let (lower, upper) = self.views.split_at_mut(r.start - view_base);
                let below = Below {
                    low,
                    scalars: &mut self.scalars,
                    tensor_base,
                    tensors: &mut self.tensors,
                    view_base,
                    views: lower,
                };
                (below, &upper[..r.len()])
            }
            SlotRange::Value(r) => {
                let (lower, upper) = self.tensors.split_at_mut(r.start - tensor_base);
                let below = Below {
                    low,
                    scalars: &mut self.scalars,
                    tensor_base,
                    tensors: lower,
                    view_base,
                    views: &mut self.views,
                };
                (below, &upper[..r.len()])
            }
        })
    }

    /// All slots mutable (for a scalar node, whose own slot the caller has copied out).
    pub fn below_all(&mut self) -> Below<'_, S> {
        Below {
            low: self.low,
            scalars: &mut self.scalars,
            tensor_base: self.tensor_base,
            tensors: &mut self.tensors,
            view_base: self.view_base,
            views: &mut self.views,
        }
    }
}

/// Mutable slots of the nodes below one node: what a reverse rule adds into.
#[derive(Debug)]
pub struct Below<'a, S> {
    low: u32,
    scalars: &'a mut [S],
    tensor_base: usize,
    tensors: &'a mut [S],
    view_base: usize,
    views: &'a mut [S],
}

impl<S> Below<'_, S> {
    /// The slots of node `index` (an input of the node this was split at).
    ///
    /// # Panics
    /// If `index` is outside the window or not below the node: sweeps only ask for inputs
    /// the node's `low` covers.
    pub fn of(&mut self, arena: &Arena, index: u32) -> &mut [S] {
        match arena.slot_range(index) {
            None => core::slice::from_mut(&mut self.scalars[(index - self.low) as usize]),
            Some(SlotRange::Value(r)) => &mut self.tensors[r.start - self.tensor_base..r.end - self.tensor_base],
            Some(SlotRange::View(r)) => &mut self.views[r.start - self.view_base..r.end - self.view_base],
        }
    }
}

//! `ArenaCell`: the arena behind a [`Graph`](crate::Graph), which every handle reaches
//! through a shared `&Graph`.
//!
//! It keeps `RefCell`'s rules (any number of shared guards or one exclusive guard, checked
//! at run time), with one more door: [`push_var`](ArenaCell::push_var), the path of every
//! `Var` operation, checks that no guard is alive and appends the node without taking a
//! guard. `RefCell::borrow_mut` writes the borrow flag and writes it back around every
//! push; measured on W1 (Rosenbrock, n = 10^4, the `tape_quick` harness), that store pair
//! cost the scalar tape 0.74 -> 0.54 of the `reverse` crate's time, W4 0.78 -> 0.64. Each
//! `unsafe` block below says why it is sound; `MIRIFLAGS=-Zmiri-deterministic-floats cargo
//! +nightly miri test -p slope-graph --lib` runs this crate's tests, these included, under
//! Miri (deterministic floats: Miri otherwise perturbs `exp` and friends, which trips the
//! tests' exact comparisons, not the memory model).
#![allow(unsafe_code)]

use core::cell::{Cell, UnsafeCell};
use core::fmt;
use core::ops::{Deref, DerefMut};

use crate::arena::VarStep;
use crate::{Arena, Error};

/// The arena and its borrow state: 0 free, `n > 0` shared guards, -1 an exclusive guard.
pub(crate) struct ArenaCell {
    state: Cell<isize>,
    arena: UnsafeCell<Arena>,
}

impl Default for ArenaCell {
    fn default() -> Self {
        ArenaCell { state: Cell::new(0), arena: UnsafeCell::new(Arena::new()) }
    }
}

impl fmt::Debug for ArenaCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_borrow() {
            Some(arena) => f.debug_tuple("ArenaCell").field(&*arena).finish(),
            None => f.write_str("ArenaCell(<recording>)"),
        }
    }
}

#[cold]
#[inline(never)]
fn in_use() -> ! {
    panic!(
        "the graph's arena is borrowed (a guard from Graph::arena() is alive) while recording: drop \
         the guard before computing with the graph's tensors or variables"
    )
}

impl ArenaCell {
    fn try_borrow(&self) -> Option<ArenaRef<'_>> {
        let state = self.state.get();
        if state < 0 || state == isize::MAX {
            return None;
        }
        self.state.set(state + 1);
        Some(ArenaRef { cell: self })
    }

    /// A shared guard.
    ///
    /// # Panics
    /// While an exclusive guard is alive (only inside a recording method).
    pub(crate) fn borrow(&self) -> ArenaRef<'_> {
        self.try_borrow().unwrap_or_else(|| in_use())
    }

    /// An exclusive guard, or `None` while any guard is alive.
    pub(crate) fn try_borrow_mut(&self) -> Option<ArenaMut<'_>> {
        if self.state.get() != 0 {
            return None;
        }
        self.state.set(-1);
        Some(ArenaMut { cell: self })
    }

    /// An exclusive guard.
    ///
    /// # Panics
    /// While any guard is alive, such as one a caller holds from `Graph::arena()`.
    pub(crate) fn borrow_mut(&self) -> ArenaMut<'_> {
        self.try_borrow_mut().unwrap_or_else(|| in_use())
    }

    pub(crate) fn get_mut(&mut self) -> &mut Arena {
        self.arena.get_mut()
    }

    pub(crate) fn into_inner(self) -> Arena {
        self.arena.into_inner()
    }

    /// Appends a `Var` operation's node (see `Arena::push_var`) without taking a guard
    /// while the arena has room; growing it takes the exclusive guard.
    ///
    /// # Panics
    /// While any guard is alive.
    #[inline(always)]
    pub(crate) fn push_var(&self, step: VarStep) -> Result<Option<u32>, Error> {
        if self.state.get() != 0 {
            in_use();
        }
        // SAFETY: the `&mut Arena` made here is the only reference to the arena while it
        // lives. (1) `state == 0`: no `ArenaRef` or `ArenaMut` is alive, and every other
        // reference to the arena is made through one of them (or through `get_mut` and
        // `into_inner`, which take the cell by `&mut` or by value, so they cannot overlap
        // a `&self` call). (2) The cell is not `Sync` (it holds an `UnsafeCell`), so no
        // other thread can reach it. (3) `Arena::push_var` runs no code but the arena's own
        // (no callback, no user code, no drop of a user type) except where it grows the
        // arena, which calls the allocator: it sets `state` to exclusive meanwhile, so any
        // guard asked for from there panics instead of aliasing.
        let arena = unsafe { &mut *self.arena.get() };
        arena.push_var(step, Some(&self.state))
    }
}

/// A shared borrow of a graph's arena, from [`Graph::arena`](crate::Graph::arena).
///
/// Recording on the graph while it is alive panics: drop it first.
pub struct ArenaRef<'a> {
    cell: &'a ArenaCell,
}

impl Deref for ArenaRef<'_> {
    type Target = Arena;
    fn deref(&self) -> &Arena {
        // SAFETY: while this guard lives the state is positive, so no `ArenaMut` exists and
        // `push_var` refuses to run: nothing mutates the arena, and shared references may
        // coexist.
        unsafe { &*self.cell.arena.get() }
    }
}

impl Drop for ArenaRef<'_> {
    fn drop(&mut self) {
        self.cell.state.set(self.cell.state.get() - 1);
    }
}

impl fmt::Debug for ArenaRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// An exclusive borrow of a graph's arena, inside the graph's recording methods.
pub(crate) struct ArenaMut<'a> {
    cell: &'a ArenaCell,
}

impl Deref for ArenaMut<'_> {
    type Target = Arena;
    fn deref(&self) -> &Arena {
        // SAFETY: the state is -1 while this guard lives: no other guard exists and
        // `push_var` refuses to run, so this guard's references are the only ones.
        unsafe { &*self.cell.arena.get() }
    }
}

impl DerefMut for ArenaMut<'_> {
    fn deref_mut(&mut self) -> &mut Arena {
        // SAFETY: as for `deref`; `&mut self` keeps this guard's own references apart.
        unsafe { &mut *self.cell.arena.get() }
    }
}

impl Drop for ArenaMut<'_> {
    fn drop(&mut self) {
        self.cell.state.set(0);
    }
}

#[cfg(test)]
mod tests {
    use crate::Graph;

    #[test]
    fn recording_while_the_arena_is_borrowed_panics_instead_of_aliasing() {
        let g = Graph::new();
        let x = g.var(2.0);
        let guard = g.arena();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x * x));
        assert!(caught.is_err());
        assert_eq!(guard.len(), 1, "nothing was recorded");
        drop(guard);
        let y = x * x;
        assert_eq!(y.value(), 4.0);
        assert_eq!(g.len(), 2);
    }

    #[test]
    fn var_pushes_that_grow_the_arena_take_and_release_the_guard() {
        crate::release_buffers();
        let g = Graph::new();
        let x = g.var(1.0);
        let mut y = x;
        let start = g.arena().memory_bytes();
        for _ in 0..10_000 {
            y = y * x + 1.0;
        }
        assert!(g.arena().memory_bytes() > start, "the arena grew through push_var");
        assert!(g.len() > 10_000);
        assert_eq!(y.value(), 10_001.0);
        let guard = g.arena();
        assert_eq!(guard.value(y.index().unwrap()), &[10_001.0]);
    }

    #[test]
    fn shared_guards_nest_and_release() {
        let g = Graph::new();
        let x = g.var(1.5);
        {
            let a = g.arena();
            let b = g.arena();
            assert_eq!(a.len(), b.len());
        }
        let y = num_traits::Float::sin(x) * 2.0 + x;
        assert_eq!(g.len(), 4);
        assert_eq!(g.arena().value(y.index().unwrap()), &[1.5_f64.sin() * 2.0 + 1.5]);
    }
}

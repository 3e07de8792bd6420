//! Reusing buffers from one check to the next.
//!
//! A check of a small history does little work: allocating and freeing the two dozen vectors of a
//! search workspace would cost more than the search itself. Sweeps check thousands of histories
//! in one process, so each thread keeps the buffers of its last check, unless they grew large (a
//! big memo is given back to the allocator at once, so memory stays bounded between checks).

use crate::parts::Parts;
use crate::search::Search;
use std::cell::RefCell;

/// Workspaces retaining more than this are dropped rather than kept.
pub(crate) const KEEP_BYTES_MAX: usize = 4 << 20;
/// At most this many search workspaces are kept per thread (most checks need one).
const KEEP_SEARCHES_MAX: usize = 1;

#[derive(Default)]
pub(crate) struct Scratch {
    pub parts: Parts,
    pub searches: Vec<Search<'static>>,
    /// A value buffer for replaying sequential parts.
    pub value: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// The thread's kept buffers, or fresh ones.
pub(crate) fn take() -> Scratch {
    SCRATCH.with(|s| s.borrow_mut().take()).unwrap_or_default()
}

/// Keeps the buffers for the next check on this thread, except large ones.
pub(crate) fn give_back(mut scratch: Scratch) {
    scratch.searches.retain(|s| s.retained_bytes() <= KEEP_BYTES_MAX);
    scratch.searches.truncate(KEEP_SEARCHES_MAX);
    if scratch.parts.retained_bytes() > KEEP_BYTES_MAX {
        scratch.parts = Parts::default();
    }
    if scratch.value.capacity() > KEEP_BYTES_MAX {
        scratch.value = Vec::new();
    }
    SCRATCH.with(|s| *s.borrow_mut() = Some(scratch));
}

//! A global allocator wrapper that counts: bytes in use now and the most ever in use, for
//! `BoardInfo::heap`. It counts what callers asked for, not the allocator's own overhead.
//!
//! Boards with compare-and-swap atomics wrap their allocator in it (QEMU, STM32); esp-alloc counts
//! by itself.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};

pub struct Counting<A> {
    inner: A,
    used: AtomicUsize,
    peak: AtomicUsize,
}

impl<A> Counting<A> {
    pub const fn new(inner: A) -> Self {
        Counting {
            inner,
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// The wrapped allocator (to hand it its memory at boot).
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// `(used, peak)` bytes.
    pub fn usage(&self) -> (usize, usize) {
        (
            self.used.load(Ordering::Relaxed),
            self.peak.load(Ordering::Relaxed),
        )
    }
}

// SAFETY: forwards to a sound allocator; the counters do not touch the memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on unchanged.
        let ptr = unsafe { self.inner.alloc(layout) };
        if !ptr.is_null() {
            let now = self.used.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            self.peak.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        unsafe { self.inner.dealloc(ptr, layout) };
        self.used.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    #[test]
    fn counts_use_and_peak() {
        let heap = Counting::new(System);
        let a = Layout::from_size_align(100, 8).unwrap();
        let b = Layout::from_size_align(50, 8).unwrap();
        // SAFETY: non-zero layouts, freed with the layout they were made with.
        unsafe {
            let p = heap.alloc(a);
            let q = heap.alloc(b);
            assert_eq!(heap.usage(), (150, 150));
            heap.dealloc(p, a);
            assert_eq!(heap.usage(), (50, 150));
            heap.dealloc(q, b);
        }
        assert_eq!(heap.usage(), (0, 150));
    }
}

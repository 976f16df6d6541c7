//! Global allocator wrappers for the boards: [`Counting`] reports bytes in use now and the most
//! ever in use (`BoardInfo::heap`); [`Spill`] makes one heap of two memory regions.
//!
//! The counters sit in a critical section, so cores without compare-and-swap (the RP2040) count
//! too; esp-alloc counts by itself.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::ops::Range;

/// One heap over two regions: allocations go to `first` and spill into `second` when it is full
/// (the STM32F407's 64 KiB CCM RAM, then a part of its main SRAM). Each free goes back to the
/// allocator whose region holds the pointer.
pub struct Spill<A, B> {
    first: A,
    first_region: Range<usize>,
    second: B,
}

impl<A, B> Spill<A, B> {
    /// `first` manages exactly the addresses in `first_region`.
    pub const fn new(first: A, first_region: Range<usize>, second: B) -> Self {
        Spill {
            first,
            first_region,
            second,
        }
    }

    pub fn first(&self) -> &A {
        &self.first
    }

    pub fn second(&self) -> &B {
        &self.second
    }
}

// SAFETY: every block comes from one of two sound allocators and is returned to the same one,
// told apart by the (disjoint) region it lies in.
unsafe impl<A: GlobalAlloc, B: GlobalAlloc> GlobalAlloc for Spill<A, B> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on unchanged.
        let ptr = unsafe { self.first.alloc(layout) };
        if ptr.is_null() {
            // SAFETY: as above.
            unsafe { self.second.alloc(layout) }
        } else {
            ptr
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from the allocator whose region holds it.
        unsafe {
            if self.first_region.contains(&(ptr as usize)) {
                self.first.dealloc(ptr, layout)
            } else {
                self.second.dealloc(ptr, layout)
            }
        }
    }
}

pub struct Counting<A> {
    inner: A,
    /// `(used, peak)` bytes.
    counts: critical_section::Mutex<Cell<(usize, usize)>>,
}

impl<A> Counting<A> {
    pub const fn new(inner: A) -> Self {
        Counting {
            inner,
            counts: critical_section::Mutex::new(Cell::new((0, 0))),
        }
    }

    /// The wrapped allocator (to hand it its memory at boot).
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// `(used, peak)` bytes.
    pub fn usage(&self) -> (usize, usize) {
        critical_section::with(|cs| self.counts.borrow(cs).get())
    }
}

// SAFETY: forwards to a sound allocator; the counters do not touch the memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on unchanged.
        let ptr = unsafe { self.inner.alloc(layout) };
        if !ptr.is_null() {
            critical_section::with(|cs| {
                let counts = self.counts.borrow(cs);
                let (used, peak) = counts.get();
                let now = used + layout.size();
                counts.set((now, peak.max(now)));
            });
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        unsafe { self.inner.dealloc(ptr, layout) };
        critical_section::with(|cs| {
            let counts = self.counts.borrow(cs);
            let (used, peak) = counts.get();
            counts.set((used - layout.size(), peak));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;
    use std::cell::Cell;

    /// Hands out blocks of one fixed region until `capacity` bytes are out; counts frees.
    struct Bump {
        region: Range<usize>,
        next: Cell<usize>,
        freed: Cell<usize>,
    }

    // SAFETY (test only): never dereferenced; addresses are only compared.
    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let at = self.next.get();
            if at + layout.size() > self.region.end {
                return core::ptr::null_mut();
            }
            self.next.set(at + layout.size());
            at as *mut u8
        }

        unsafe fn dealloc(&self, _ptr: *mut u8, layout: Layout) {
            self.freed.set(self.freed.get() + layout.size());
        }
    }

    fn bump(region: Range<usize>) -> Bump {
        Bump {
            next: Cell::new(region.start),
            region,
            freed: Cell::new(0),
        }
    }

    #[test]
    fn spills_into_the_second_region_and_frees_to_the_owner() {
        let heap = Spill::new(bump(0x1000..0x1100), 0x1000..0x1100, bump(0x8000..0x9000));
        let big = Layout::from_size_align(0xC0, 1).unwrap();
        // SAFETY: the blocks are never dereferenced.
        unsafe {
            let a = heap.alloc(big);
            let b = heap.alloc(big);
            assert_eq!(a as usize, 0x1000, "the first region first");
            assert_eq!(b as usize, 0x8000, "the first region is full: spilled");
            heap.dealloc(b, big);
            assert_eq!(
                (heap.first().freed.get(), heap.second().freed.get()),
                (0, 0xC0)
            );
            heap.dealloc(a, big);
            assert_eq!(heap.first().freed.get(), 0xC0);
        }
    }

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

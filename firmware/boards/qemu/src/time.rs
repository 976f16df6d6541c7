//! embassy-time driver over the CLINT `mtime` counter (10 MHz on QEMU `virt`, so one tick is one
//! embassy tick: the crate enables `tick-hz-10_000_000`).
//!
//! There is no alarm: the executor polls every future continuously, so a timer only has to be
//! asked again, and `schedule_wake` wakes at once.

use core::ptr::read_volatile;
use core::task::Waker;

const MTIME_LO: *const u32 = 0x0200_BFF8 as *const u32;
const MTIME_HI: *const u32 = 0x0200_BFFC as *const u32;

/// The 64-bit counter read as two 32-bit halves, retried if the low half wrapped in between.
pub fn mtime() -> u64 {
    loop {
        // SAFETY: CLINT registers that QEMU `virt` always maps; reads have no side effects.
        let (hi, lo, hi2) = unsafe {
            (
                read_volatile(MTIME_HI),
                read_volatile(MTIME_LO),
                read_volatile(MTIME_HI),
            )
        };
        if hi == hi2 {
            return (u64::from(hi) << 32) | u64::from(lo);
        }
    }
}

struct Mtime;

impl embassy_time_driver::Driver for Mtime {
    fn now(&self) -> u64 {
        mtime()
    }

    fn schedule_wake(&self, _at: u64, waker: &Waker) {
        waker.wake_by_ref();
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: Mtime = Mtime);

//! Stack high-water measurement shared by the boards: each board paints its stack at reset (the
//! painting is architecture-specific) and asks here how deep the paint has been overwritten.

/// The word boards paint their stack with.
pub const PAINT: u32 = 0x5AFE_C0DE;

/// Fills the stack from `bottom` up to the current stack pointer with [`PAINT`] (RISC-V boards;
/// Cortex-M boards get this from cortex-m-rt's `paint-stack`). Volatile word stores, so the loop
/// cannot become a `memset` call that would use the stack being painted. Call it first thing,
/// before any interrupt is enabled.
///
/// # Safety
/// `bottom` must be the word-aligned lowest address of the current stack, below every live frame.
#[cfg(target_arch = "riscv32")]
#[inline(never)]
pub unsafe fn paint_below_sp(bottom: usize) {
    let sp: usize;
    // SAFETY: reads the stack pointer register, nothing else.
    unsafe { core::arch::asm!("mv {}, sp", out(reg) sp) };
    let mut word = bottom;
    while word < sp {
        // SAFETY: [bottom, sp) is stack memory below every live frame (the caller's promise).
        unsafe { core::ptr::write_volatile(word as *mut u32, PAINT) };
        word += 4;
    }
}

/// Bytes of the stack `[bottom, top)` (word addresses, growing down from `top`) that no longer
/// hold `paint`: the deepest the stack has been.
///
/// # Safety
/// `[bottom, top)` must be readable, word-aligned memory (the board's stack region).
pub unsafe fn high_water(bottom: usize, top: usize, paint: u32) -> usize {
    let mut word = bottom;
    // SAFETY: the caller vouches that every word in [bottom, top) is readable; volatile, because
    // the compiler cannot know that other code wrote there.
    while word < top && unsafe { core::ptr::read_volatile(word as *const u32) } == paint {
        word += 4;
    }
    top - word
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_overwritten_words_from_the_top() {
        let mut stack = [0xAAAA_AAAAu32; 16];
        stack[12..].fill(7);
        let words = stack.as_mut_ptr();
        let (bottom, top) = (words as usize, words as usize + 16 * 4);
        // A word overwritten deeper down marks the high water, even if the words above it kept
        // their paint.
        unsafe { core::ptr::write_volatile(words.add(5), 1) };
        assert_eq!(
            unsafe { super::high_water(bottom, top, 0xAAAA_AAAA) },
            11 * 4
        );
        unsafe { core::ptr::write_volatile(words.add(5), 0xAAAA_AAAA) };
        assert_eq!(
            unsafe { super::high_water(bottom, top, 0xAAAA_AAAA) },
            4 * 4
        );
    }
}

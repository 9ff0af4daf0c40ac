//! Peak stack use: paint the free stack with a pattern at start, find the deepest change later.
//!
//! `cortex-m-rt` places the stack at the top of RAM, growing down towards `__sheap` (the end of
//! `.data` and `.bss`). Nothing else uses that range: there is no heap.

/// The pattern painted on unused stack.
const PAINT: u32 = 0x5EED_CAFE;

/// Bytes below the current stack pointer left unpainted (room for `paint`'s own calls).
const MARGIN: usize = 64;

extern "C" {
    static __sheap: u32;
    static _stack_start: u32;
}

/// The lowest stack address: the end of `.data` and `.bss` (only the symbol's address is used).
fn bottom() -> usize {
    core::ptr::addr_of!(__sheap) as usize
}

/// The top of the stack (the initial stack pointer).
fn top() -> usize {
    core::ptr::addr_of!(_stack_start) as usize
}

/// Paints every word from the bottom of the stack region to just below the stack pointer.
#[inline(never)]
pub fn paint() {
    let sp = cortex_m::register::msp::read() as usize;
    let mut at = bottom();
    while at + 4 <= sp - MARGIN {
        // SAFETY: `at` is word-aligned, inside RAM between the end of `.bss` and the stack
        // pointer, so no live value is there, and nothing else writes it meanwhile.
        unsafe { (at as *mut u32).write_volatile(PAINT) };
        at += 4;
    }
}

/// The deepest the stack has reached since [`paint`], in bytes below its top.
pub fn peak_bytes() -> usize {
    let mut at = bottom();
    // SAFETY: reads word-aligned RAM between the end of `.bss` and the top of the stack.
    while at < top() && unsafe { (at as *const u32).read_volatile() } == PAINT {
        at += 4;
    }
    top() - at
}

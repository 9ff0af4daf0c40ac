//! Firmware for a Cortex-M4F (QEMU machine `mps2-an386`) that trains a muprop network.
//!
//! It runs the experiment of [`experiment`] (MuProp and REINFORCE training steps on 64
//! binarized digits kept in flash, then host-trained weights loaded from flash), prints one
//! `result RUN.KEY VALUE` line per figure through semihosting, the peak stack use, and exits
//! with status 0 only if every check passed. With the feature `measure` it prints instruction
//! counts instead (see [`measure`]). There is no global allocator: this binary linking at all
//! shows the `muprop` core needs none; the feature `allocate-negative-control` allocates once
//! and must fail to build.
#![no_std]
#![no_main]

#[cfg(feature = "allocate-negative-control")]
extern crate alloc;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;

mod digits;
// The measure mode uses only part of the experiment.
#[cfg_attr(feature = "measure", allow(dead_code))]
mod experiment;
#[cfg(feature = "measure")]
mod measure;
mod pretrained;
mod stack;

#[entry]
fn main() -> ! {
    stack::paint();

    #[cfg(feature = "allocate-negative-control")]
    core::hint::black_box(alloc::vec![1u8]);

    let ok = run();
    hprintln!("stack_peak_bytes {}", stack::peak_bytes());
    hprintln!(
        "{}",
        if ok {
            "firmware: PASS"
        } else {
            "firmware: FAIL"
        }
    );
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::bkpt();
    }
}

/// Builds the buffers (on the stack) and runs the experiment or the measurements.
#[inline(never)]
fn run() -> bool {
    let mut b = experiment::Buffers::new();
    #[cfg(feature = "measure")]
    {
        measure::run(&mut b)
    }
    #[cfg(not(feature = "measure"))]
    {
        experiment::run(&mut b, &mut |run, key, value| {
            if experiment::is_hex(key) {
                hprintln!("result {}.{} {:#x}", run, key, value);
            } else {
                hprintln!("result {}.{} {}", run, key, value);
            }
        })
    }
}

//! The host twin of the firmware in `examples/firmware`: the same experiment (its source file
//! is shared), seeds and flash data, run on the host. It prints the same `result` lines the
//! firmware prints under QEMU; `examples/firmware/run.sh` compares the two.
//!
//! ```text
//! cargo run --release --features std --example firmware_twin
//! ```
//!
//! Expect 17 `result RUN.KEY VALUE` lines (losses before and after MuProp and REINFORCE
//! training, parameter checksums, the flash weights' loss and file CRC) and `twin: PASS`.
//!
//! # Precision
//!
//! The results are expected to be bit-identical to the device's: the kernels add in a fixed
//! order on every target, neither build contracts multiply-adds into FMA, the activations use
//! the same lane algorithm (`wide` falls back to scalar code on thumbv7em), and `libm` is the
//! same software on both. run.sh checks equality of every line, so any drift shows.

use std::process::ExitCode;

#[path = "firmware/src/digits.rs"]
mod digits;
// The firmware's measure mode uses parts of the experiment that the twin does not.
#[allow(dead_code)]
#[path = "firmware/src/experiment.rs"]
mod experiment;
#[path = "firmware/src/pretrained.rs"]
mod pretrained;

fn main() -> ExitCode {
    let mut b = Box::new(experiment::Buffers::new());
    let ok = experiment::run(&mut b, &mut |run, key, value| {
        if experiment::is_hex(key) {
            println!("result {run}.{key} {value:#x}");
        } else {
            println!("result {run}.{key} {value}");
        }
    });
    println!("twin: {}", if ok { "PASS" } else { "FAIL" });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

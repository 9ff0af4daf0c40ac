//! Train neural networks with random binary units by unbiased gradient estimators, chief among
//! them MuProp (Gu, Levine, Sutskever and Mnih, ICLR 2016), without allocating.
//!
//! The crate is `#![no_std]` and never allocates, prints or seeds a generator itself: every
//! buffer (parameters, gradients, optimiser state, workspace) is a value the caller owns, with
//! its shape fixed at compile time by const generics. It runs the same code on a host and in
//! microcontroller firmware; the dense products and activations live in the SIMD kernels of
//! [`muprop_kernels`], each with a scalar twin.
//!
//! # Quick start
//!
//! Predict 4 binary targets from 6 binary inputs through two layers of 3 Bernoulli units:
//!
//! ```
//! use muprop::{train_step, Adam, AdamState, MuProp, Network, Sbn2, WorkspaceFor, Zeroable};
//! use rand_core::SeedableRng;
//! use rand_xoshiro::Xoshiro256PlusPlus;
//!
//! type Net = Sbn2<6, 3, 3, 4>;
//! let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
//! let mut net = Net::zeroed();
//! net.init(&mut rng);
//! let mut grad = Net::zeroed();
//! let adam = Adam::new(0.05).unwrap();
//! let mut state = AdamState::<Net>::new();
//! let mut ws = WorkspaceFor::<Net, 6, 4, 2>::new();
//! let mut estimator = MuProp::new();
//!
//! let x = [[1.0, 0.0, 1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]];
//! let y = [[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]];
//! let mut first = 0.0;
//! let mut last = 0.0;
//! for step in 0..300 {
//!     let stats = train_step(
//!         &mut net, &adam, &mut state, &mut estimator, &x, &y, &mut ws, &mut grad, &mut rng,
//!     )
//!     .unwrap();
//!     assert!(stats.applied());
//!     if step < 20 { first += stats.loss } else if step >= 280 { last += stats.loss }
//! }
//! assert!(last < first, "the loss falls: {first} -> {last}");
//! ```
//!
//! # Glossary
//!
//! - **logits** `a = g(x_in)`: a stochastic layer's pre-activations, from its input.
//! - **mean** `mu = sigmoid(a)`: the probability that each unit is 1.
//! - **sample** `x`: each unit 1 with probability `mu`, else 0.
//! - **mean-field pass**: a forward pass feeding every layer's mean instead of its sample,
//!   giving `xbar` and the mean-field loss `fbar`.
//! - **learning signal**: the scalar that multiplies the score `x - mu`: `f - c` for
//!   REINFORCE, the residual `r` for MuProp.
//! - **control variate**: what is subtracted from the learning signal and added back in
//!   expectation: a baseline, or MuProp's first-order Taylor expansion of `f` around `xbar`.
//! - **logit gradient** `delta`: an estimator's per-unit gradient with respect to the logits,
//!   back-propagated through the layer's map `g` with its sampled input held fixed.
//! - **lane**, **chunk**, **tail**: one `f32` of a SIMD vector; a whole number of lanes (or of
//!   rows, for a workspace); the leftover elements after the last whole chunk.
//!
//! # Determinism
//!
//! Nothing seeds itself: the caller passes `rng: &mut R` over [`rand_core::Rng`]
//! (`rand_xoshiro::Xoshiro256PlusPlus` is the documented default). What a seed reproduces:
//!
//! - **Same target and build: bit-identical.** The same seed, inputs and parameters give
//!   bit-identical parameters after any number of steps, whatever the workspace's chunk size
//!   `B` (each row draws its words before its sample pass, and rows enter the gradient in
//!   minibatch order). `tests/training.rs` checks 100 steps and chunk sizes 1 and 4.
//! - **SIMD path against the scalar twins: within 1e-5 after 10 steps.** The dense kernels
//!   match their twins bit for bit; the activations differ by at most 4 ULPs and the
//!   transposed products by their rounding bound (see [`muprop_kernels`]). Building with
//!   `RUSTFLAGS="--cfg muprop_scalar_kernels"` runs everything on the twins; CI trains the
//!   digits network for 10 MuProp steps both ways and requires every parameter to agree
//!   within 1e-5 in absolute value (measured: half the parameters bit-identical, the largest
//!   difference 2.5e-7). A sample can flip where a uniform falls between the two paths' means,
//!   which would exceed that bound; the fixed seed shows it does not happen there.
//! - **Host against device: bit-identical.** On 32-bit Arm (Cortex-M has no float SIMD) the
//!   kernels are the scalar twins; a host built with `--cfg muprop_scalar_kernels` runs the
//!   same code and reproduces the device's parameters bit for bit, as the firmware's run
//!   script checks (`examples/firmware/run.sh`).
//! - The threaded path (feature `parallel`) gives bit-identical results for any number of
//!   threads; it draws per-chunk generators, so its results differ from the sequential path's.
//!
//! # Feature flags
//!
//! - `alloc`: [`boxed_zeroed`], to build large networks, states and workspaces directly on the
//!   heap (a 392-200-200-392 network with its gradient and Adam state is several MB).
//! - `std` (implies `alloc`): the [`data`] loaders (built-in 8x8 digits, MNIST IDX files) and
//!   the source generator for firmware weights.
//! - `parallel` (implies `std`): a minibatch split across threads, reduced in a fixed order.
//!
//! # Minimum Rust version
//!
//! Rust 1.89 (the minimum of `wide`).
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "std")]
pub mod data;

mod error;
pub mod estimator;
mod eval;
mod exact;
mod linear;
mod network;
mod nonlinear;
pub mod optim;
mod output;
#[cfg(feature = "parallel")]
pub mod parallel;
mod sampler;
mod stage;
mod tensors;
mod train;
mod units;
mod vsbn;
mod weights;
mod workspace;

pub use error::{Error, Refusal};
pub use estimator::{
    Arm, Correction, DisArm, Estimator, LearnedMuProp, LeaveOneOut, MovingAverage, MuProp,
    MuPropRollout, Nvil, Reinforce, StraightThrough,
};
pub use eval::{negative_log_likelihood, normalized_weights, LogMeanExp, Replicas};
pub use exact::{exact_expectation, exact_gradient, exact_loss, MAX_EXACT_STATES};
pub use linear::Linear;
pub use network::{
    Backward, BernoulliLayer, CategoricalLayer, LayerView, Layers, LayersTrace, MeanVjp, Network,
    Sbn1, Sbn2, Sbn3,
};
pub use nonlinear::{Activation, LeakyRelu, Nonlinear, NonlinearScratch, Tanh};
pub use optim::{Adam, AdamState, Optimizer, Sgd, SgdState};
pub use output::{BernoulliOutput, OutputTrace};
pub use sampler::{DrawnWords, Sampler};
pub use stage::Stage;
pub use tensors::Tensors;
pub use train::{gradient, train_step, StepStats, StepStatus};
pub use units::{Bernoulli, Categorical, Units};
pub use vsbn::{Prior, SignedCoding, Vsbn1, Vsbn2, VsbnLayer, VsbnTrace};
#[cfg(feature = "std")]
pub use weights::weights_rust_source;
pub use weights::{
    crc32, encoded_len, load_flat, read_weights, write_weights, WeightsError, WEIGHTS_MAGIC,
    WEIGHTS_VERSION,
};
pub use workspace::{Workspace, WorkspaceFor};

pub use bytemuck::Zeroable;
pub use muprop_kernels as kernels;

/// A zeroed value of `T` built directly on the heap, never on the stack.
///
/// Use it for large networks, gradients, optimiser states and workspaces on a host.
#[cfg(feature = "alloc")]
pub fn boxed_zeroed<T: Zeroable>() -> alloc::boxed::Box<T> {
    bytemuck::zeroed_box()
}

//! Multi-core training: a minibatch split into chunks of `B` rows, estimated on several
//! threads, with results that do not depend on the number of threads.
//!
//! A step of `n` rows is cut into `ceil(n / B)` chunks of `B` rows (the last one shorter). The
//! caller's generator gives each chunk a 32-byte seed, in chunk order, before any thread starts;
//! chunk `c` then draws its rows' words from its own `Xoshiro256PlusPlus` seeded with it. Each
//! chunk is estimated by its own copy of the estimator ([`Fork::fork_from`]) into its own
//! gradient buffer and workspace, on whichever thread claims it next (threads take chunks
//! from a shared queue, so a thread slowed by other work on its core holds the step back by
//! one chunk at most; smaller chunks balance better); after the threads join, the chunk
//! gradients are summed into the caller's gradient in chunk order, and the estimators'
//! per-step accumulators ([`Fork::merge`]) likewise. Nothing a thread computes depends on
//! which thread computes it or on what other chunks it computes, so the gradient, the loss,
//! the estimator's state and the parameters after a step are **bit-identical for any thread
//! count**, given the same generator state, inputs, parameters and `B`.
//!
//! # Relation to the sequential path
//!
//! [`crate::gradient`] draws every row's words from the caller's generator and adds the rows
//! into one gradient; here each chunk has its own generator and its own partial sum. Both
//! estimate the same gradient with the same estimator, but from different random words and
//! with a different rounding of the sum, so the two paths do not give the same bits. Changing
//! `B` changes the chunking, hence the seeds and the sums, and so the bits.
//!
//! # Estimators with per-step state
//!
//! An estimator runs here if it implements [`Fork`]. The stateless ones (MuProp and its
//! rollout form, REINFORCE with or without a moving average, straight-through, ARM, DisARM,
//! leave-one-out) only read their state during a step, so a worker copy is a plain copy and
//! there is nothing to merge. [`LearnedMuProp`] and [`Nvil`] accumulate the gradient of their
//! baselines (and NVIL the moments of its signal) while chunks run: a worker copy takes the
//! learned parameters from the caller's estimator and starts its accumulators at zero, and the
//! caller's estimator adds every chunk's accumulators in chunk order before it updates itself
//! in [`Estimator::end_step`], exactly once per applied step as in [`crate::train_step`].
//!
//! # Allocation
//!
//! [`Parallel`] owns, per chunk, a workspace, a gradient buffer (none for chunk 0, which adds
//! into the caller's gradient) and a copy of the estimator. They are allocated when a minibatch
//! first needs that many chunks, and reused after. A step allocates nothing else in this crate;
//! the standard library's thread spawn allocates a little per extra thread and step.

use std::boxed::Box;
use std::sync::Mutex;
use std::vec::Vec;

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::error::Error;
use crate::estimator::{
    Arm, DisArm, Estimator, LearnedMuProp, LeaveOneOut, MuProp, MuPropRollout, Nvil, Reinforce,
    StraightThrough,
};
use crate::network::Network;
use crate::optim::Optimizer;
use crate::train::{guarded, StepStats};
use crate::{boxed_zeroed, Tensors, Workspace};

/// An estimator that can estimate chunks of one step in separate copies and merge them.
pub trait Fork: Estimator + Clone + Send + Sync {
    /// Makes `self`, a worker copy, ready to estimate chunks of `main`'s current step: copies
    /// what a chunk reads from `main` and zeroes what a chunk accumulates.
    fn fork_from(&mut self, main: &Self) {
        self.clone_from(main);
    }

    /// Adds what `part` accumulated over its chunks into `self` (the caller's estimator).
    fn merge(&mut self, _part: &Self) {}
}

impl Fork for MuProp {}
impl Fork for MuPropRollout {}
impl Fork for Reinforce {}
impl Fork for StraightThrough {}
impl Fork for Arm {}
impl Fork for DisArm {}
impl Fork for LeaveOneOut {}

impl<const IN: usize, const HID: usize, const L: usize, const B: usize> Fork
    for LearnedMuProp<IN, HID, L, B>
{
    fn fork_from(&mut self, main: &Self) {
        self.control = main.control;
        self.begin_step();
    }

    fn merge(&mut self, part: &Self) {
        add_tensors(&mut self.grad, &part.grad);
        self.rows = self.rows.saturating_add(part.rows);
    }
}

impl<const IN: usize, const HID: usize, const B: usize> Fork for Nvil<IN, HID, B> {
    fn fork_from(&mut self, main: &Self) {
        self.baseline = main.baseline;
        self.center = main.center;
        self.variance = main.variance;
        self.normalize = main.normalize;
        self.begin_step();
    }

    fn merge(&mut self, part: &Self) {
        add_tensors(&mut self.grad, &part.grad);
        self.rows = self.rows.saturating_add(part.rows);
        self.sum += part.sum;
        self.sum_sq += part.sum_sq;
    }
}

/// `acc += part`, element by element.
fn add_tensors<T: Tensors>(acc: &mut T, part: &T) {
    for k in 0..T::COUNT {
        for (a, p) in acc.tensor_mut(k).iter_mut().zip(part.tensor(k)) {
            *a += *p;
        }
    }
}

/// What one chunk of a step owns.
struct Slot<N: Network<IN, Y>, E, const IN: usize, const Y: usize, const B: usize> {
    ws: Box<Workspace<N::Trace<B>, B>>,
    grad: Box<N>,
    estimator: Box<E>,
    seed: [u8; 32],
    loss: f64,
}

/// The per-chunk buffers and thread count of multi-core training for network `N` (input width
/// `IN`, target width `Y`), estimator `E`, and chunks of `B` rows.
///
/// # Cost
///
/// Memory per chunk: one workspace (`size_of::<WorkspaceFor<N, IN, Y, B>>()`), one gradient
/// (`size_of::<N>()`, except chunk 0) and one copy of the estimator.
pub struct Parallel<N: Network<IN, Y>, E, const IN: usize, const Y: usize, const B: usize> {
    threads: usize,
    slots: Vec<Slot<N, E, IN, Y, B>>,
}

impl<N, E, const IN: usize, const Y: usize, const B: usize> Parallel<N, E, IN, Y, B>
where
    N: Network<IN, Y> + Send + Sync,
    N::Trace<B>: Send,
    E: Fork,
{
    /// A pool for `threads` threads (the calling thread is one of them), with no chunk buffers
    /// yet.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCount`] if `threads` is 0 or `B` is 0.
    pub fn new(threads: usize) -> Result<Self, Error> {
        if threads == 0 || B == 0 {
            return Err(Error::InvalidCount {
                name: if B == 0 { "rows per chunk" } else { "threads" },
                value: 0,
                allowed: ">= 1",
            });
        }
        Ok(Self {
            threads,
            slots: Vec::new(),
        })
    }

    /// The number of threads a step uses at most.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Allocates the buffers of minibatches up to `rows` rows now rather than in the first
    /// step that needs them.
    pub fn reserve(&mut self, rows: usize, estimator: &E) {
        let chunks = rows.div_ceil(B);
        while self.slots.len() < chunks {
            self.slots.push(Slot {
                ws: boxed_zeroed(),
                grad: boxed_zeroed(),
                estimator: Box::new(estimator.clone()),
                seed: [0; 32],
                loss: 0.0,
            });
        }
    }

    /// Writes the estimated gradient of the minibatch's mean loss into `grad` (overwriting it)
    /// and returns the mean sampled loss; the multi-core [`crate::gradient`].
    ///
    /// The estimator's per-step accumulators receive every chunk's, merged in chunk order; call
    /// [`Estimator::begin_step`] before, as [`train_step_parallel`] does.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyBatch`] or [`Error::BatchMismatch`] if `x` and `y` do not hold the same
    /// positive number of rows.
    ///
    /// # Determinism
    ///
    /// Draws 32 bytes per chunk from `rng`, in chunk order, and nothing else; the result is
    /// bit-identical for any thread count (see the module docs).
    #[allow(clippy::too_many_arguments)]
    pub fn gradient<R: Rng + ?Sized>(
        &mut self,
        net: &N,
        estimator: &mut E,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        grad: &mut N,
        rng: &mut R,
    ) -> Result<f32, Error> {
        check_batch(x.len(), y.len())?;
        self.reserve(x.len(), estimator);
        let chunks = x.len().div_ceil(B);
        let slots = &mut self.slots[..chunks];
        for slot in slots.iter_mut() {
            rng.fill_bytes(&mut slot.seed);
        }
        grad.fill_zero();

        // Threads take the next unclaimed chunk until none is left, so a thread slowed by other
        // work on its core delays the step by one chunk at most; chunk 0 adds into the
        // caller's gradient.
        let scale = 1.0 / x.len() as f32;
        let threads = self.threads.min(chunks);
        {
            let main: &E = estimator;
            let first = core::iter::once(Some(&mut *grad)).chain(core::iter::repeat_with(|| None));
            let queue = Mutex::new(
                slots
                    .iter_mut()
                    .zip(x.chunks(B).zip(y.chunks(B)))
                    .zip(first),
            );
            let queue = &queue;
            let work = move || loop {
                let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                let Some(((slot, (xs, ys)), g)) = next else {
                    return;
                };
                estimate_chunk(net, main, slot, xs, ys, g, scale);
            };
            std::thread::scope(|scope| {
                for _ in 1..threads {
                    scope.spawn(work);
                }
                work();
            });
        }

        // Reduce in chunk order.
        let mut loss_sum = 0.0f64;
        for (c, slot) in slots.iter().enumerate() {
            if c > 0 {
                add_tensors(grad, &slot.grad);
            }
            estimator.merge(&slot.estimator);
            loss_sum += slot.loss;
        }
        Ok((loss_sum / x.len() as f64) as f32)
    }
}

/// Estimates one chunk from its own seed into its own buffers (into `caller_grad` if given).
fn estimate_chunk<N, E, const IN: usize, const Y: usize, const B: usize>(
    net: &N,
    main: &E,
    slot: &mut Slot<N, E, IN, Y, B>,
    x: &[[f32; IN]],
    y: &[[f32; Y]],
    caller_grad: Option<&mut N>,
    scale: f32,
) where
    N: Network<IN, Y>,
    E: Fork,
{
    let mut rng = Xoshiro256PlusPlus::from_seed(slot.seed);
    slot.estimator.fork_from(main);
    let grad = match caller_grad {
        Some(g) => g,
        None => {
            slot.grad.fill_zero();
            &mut *slot.grad
        }
    };
    slot.estimator
        .estimate_chunk(net, x, y, &mut slot.ws, grad, scale, &mut rng);
    let n = x.len().min(B);
    slot.loss = slot.ws.f[..n].iter().map(|&v| f64::from(v)).sum();
}

fn check_batch(inputs: usize, targets: usize) -> Result<(), Error> {
    if inputs != targets {
        return Err(Error::BatchMismatch { inputs, targets });
    }
    if inputs == 0 {
        return Err(Error::EmptyBatch);
    }
    Ok(())
}

/// One multi-core training step: [`crate::train_step`] with the gradient from
/// [`Parallel::gradient`].
///
/// The same guard: the inputs, targets, parameters, loss and every gradient element must be
/// finite, or the step is refused, and a refused step leaves the parameters, the optimiser
/// state and the estimator's state bit-identical to before (only the generator, the buffers
/// in `pool` and the estimator's private work buffers advance).
///
/// # Errors
///
/// [`Error::EmptyBatch`] or [`Error::BatchMismatch`] for a malformed minibatch (nothing
/// changes).
///
/// # Determinism
///
/// Bit-identical for any thread count of `pool`; see the module docs for how it relates to
/// [`crate::train_step`].
#[allow(clippy::too_many_arguments)]
pub fn train_step_parallel<N, E, O, R, const IN: usize, const Y: usize, const B: usize>(
    pool: &mut Parallel<N, E, IN, Y, B>,
    net: &mut N,
    optimizer: &O,
    state: &mut O::State,
    estimator: &mut E,
    x: &[[f32; IN]],
    y: &[[f32; Y]],
    grad: &mut N,
    rng: &mut R,
) -> Result<StepStats, Error>
where
    N: Network<IN, Y> + Send + Sync,
    N::Trace<B>: Send,
    E: Fork,
    O: Optimizer<N>,
    R: Rng + ?Sized,
{
    check_batch(x.len(), y.len())?;
    guarded(
        net,
        optimizer,
        state,
        estimator,
        x,
        y,
        grad,
        |net, est, grad| pool.gradient(net, est, x, y, grad, rng),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Adam, AdamState, Refusal, Sbn2, StepStatus, Zeroable};
    use std::vec;

    type Net = Sbn2<12, 8, 8, 10>;
    const ROWS: usize = 23;

    fn data(seed: u64) -> (Vec<[f32; 12]>, Vec<[f32; 10]>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let bit = |rng: &mut Xoshiro256PlusPlus| f32::from(u8::from(rng.next_u32() & 1 == 1));
        let x = (0..ROWS)
            .map(|_| core::array::from_fn(|_| bit(&mut rng)))
            .collect();
        let y = (0..ROWS)
            .map(|_| core::array::from_fn(|_| bit(&mut rng)))
            .collect();
        (x, y)
    }

    /// Parameters, estimator and losses after a few steps with `threads` threads.
    fn run<E: Fork>(threads: usize, mut estimator: E) -> (Box<Net>, E, Vec<u32>) {
        let (x, y) = data(1);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        let mut net: Box<Net> = boxed_zeroed();
        net.init(&mut rng);
        let mut grad: Box<Net> = boxed_zeroed();
        let adam = Adam::new(0.01).unwrap();
        let mut state = AdamState::<Net>::new();
        let mut pool = Parallel::<Net, E, 12, 10, 4>::new(threads).unwrap();
        let mut losses = Vec::new();
        for _ in 0..5 {
            let stats = train_step_parallel(
                &mut pool,
                &mut net,
                &adam,
                &mut state,
                &mut estimator,
                &x,
                &y,
                &mut grad,
                &mut rng,
            )
            .unwrap();
            assert!(stats.applied());
            losses.push(stats.loss.to_bits());
        }
        (net, estimator, losses)
    }

    fn bits<T: Tensors>(t: &T) -> Vec<u32> {
        (0..T::COUNT)
            .flat_map(|k| t.tensor(k).iter().map(|v| v.to_bits()))
            .collect()
    }

    fn assert_thread_independent<E: Fork>(name: &str, estimator: E, state: fn(&E) -> Vec<u32>) {
        let (net1, est1, loss1) = run(1, estimator.clone());
        for threads in [2, 3, 8] {
            let (net, est, loss) = run(threads, estimator.clone());
            assert_eq!(loss, loss1, "{name}: losses differ with {threads} threads");
            assert!(
                bits(&*net) == bits(&*net1),
                "{name}: parameters differ between 1 and {threads} threads"
            );
            assert!(
                state(&est) == state(&est1),
                "{name}: estimator state differs between 1 and {threads} threads"
            );
        }
    }

    fn none<E>(_: &E) -> Vec<u32> {
        Vec::new()
    }

    #[test]
    fn stateless_estimators_are_thread_count_independent() {
        assert_thread_independent("MuProp", MuProp::new(), none);
        assert_thread_independent("ST", StraightThrough, none);
        assert_thread_independent("ARM", Arm, none);
        let reinforce = Reinforce::with_moving_average(0.9).unwrap();
        assert_thread_independent("REINFORCE", reinforce, |e: &Reinforce| {
            vec![e.baseline().to_bits()]
        });
    }

    #[test]
    fn learned_estimators_are_thread_count_independent() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut learned: Box<LearnedMuProp<12, 5, 2, 4>> = boxed_zeroed();
        learned.reset(0.01, &mut rng).unwrap();
        assert_thread_independent("learned MuProp", *learned, |e| bits(&e.control));
        let mut nvil: Box<Nvil<12, 5, 4>> = boxed_zeroed();
        nvil.reset(0.01, 0.8, true, &mut rng).unwrap();
        assert_thread_independent("NVIL", *nvil, |e| {
            let mut b = bits(&e.baseline);
            b.extend([e.center.to_bits(), e.variance.to_bits()]);
            b
        });
    }

    /// The parallel gradient estimates the same thing as the sequential one: on a fixed
    /// parameter point the means of many estimates agree within their standard errors.
    #[test]
    fn agrees_with_the_sequential_gradient_in_mean() {
        let (x, y) = data(4);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let mut net: Box<Net> = boxed_zeroed();
        net.init(&mut rng);
        let mut grad: Box<Net> = boxed_zeroed();
        let mut ws: Box<crate::WorkspaceFor<Net, 12, 10, 4>> = boxed_zeroed();
        let mut pool = Parallel::<Net, MuProp, 12, 10, 4>::new(2).unwrap();
        let mut est = MuProp::new();
        let draws = 2000;
        let count = net.scalar_count();
        let (mut s1, mut s2, mut p1, mut p2) = (
            vec![0.0f64; count],
            vec![0.0f64; count],
            vec![0.0f64; count],
            vec![0.0f64; count],
        );
        let flat = |g: &Net| -> Vec<f64> {
            (0..Net::COUNT)
                .flat_map(|k| {
                    g.tensor(k)
                        .iter()
                        .map(|&v| f64::from(v))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        for _ in 0..draws {
            crate::gradient(&*net, &mut est, &x, &y, &mut ws, &mut grad, &mut rng).unwrap();
            for (k, v) in flat(&grad).into_iter().enumerate() {
                s1[k] += v;
                s2[k] += v * v;
            }
            pool.gradient(&net, &mut est, &x, &y, &mut grad, &mut rng)
                .unwrap();
            for (k, v) in flat(&grad).into_iter().enumerate() {
                p1[k] += v;
                p2[k] += v * v;
            }
        }
        // Bonferroni over the parameters at a two-sided 1e-3 level: |z| < 5.
        let n = f64::from(draws);
        for k in 0..count {
            let (ms, mp) = (s1[k] / n, p1[k] / n);
            let var = (s2[k] / n - ms * ms).max(0.0) + (p2[k] / n - mp * mp).max(0.0);
            let se = (var / n).sqrt();
            let z = if se > 0.0 { (ms - mp) / se } else { 0.0 };
            assert!(
                z.abs() < 5.0,
                "element {k}: sequential mean {ms:e} vs parallel {mp:e}, z = {z}"
            );
        }
    }

    /// Two applied steps of `estimator` on 2 threads, then one whose loss overflows: the
    /// estimator's `state` is the same before and after the refused step.
    fn refusal_keeps<E: Fork>(name: &str, mut estimator: E, state: fn(&E) -> Vec<u64>) {
        let (x, y) = data(8);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let mut net: Box<Net> = boxed_zeroed();
        net.init(&mut rng);
        let mut grad: Box<Net> = boxed_zeroed();
        let adam = Adam::new(0.01).unwrap();
        let mut opt = AdamState::<Net>::new();
        let mut pool = Parallel::<Net, E, 12, 10, 4>::new(2).unwrap();
        let mut step = |net: &mut Net, est: &mut E| {
            let s = train_step_parallel(
                &mut pool, net, &adam, &mut opt, est, &x, &y, &mut grad, &mut rng,
            );
            s.unwrap().status
        };
        for _ in 0..2 {
            assert_eq!(
                step(&mut net, &mut estimator),
                StepStatus::Applied,
                "{name}"
            );
        }
        net.rest
            .rest
            .linear
            .w
            .iter_mut()
            .for_each(|r| r.fill(3.0e38));
        net.rest.rest.linear.b.fill(3.0e38);
        let before = state(&estimator);
        let status = step(&mut net, &mut estimator);
        assert_eq!(
            status,
            StepStatus::Refused(Refusal::NonFiniteLoss),
            "{name}"
        );
        assert!(
            state(&estimator) == before,
            "{name}: the refused step moved its state"
        );
    }

    fn wide(b: Vec<u32>) -> Vec<u64> {
        b.into_iter().map(u64::from).collect()
    }

    #[test]
    fn refused_steps_leave_learned_estimators_unchanged() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut learned: Box<LearnedMuProp<12, 5, 2, 4>> = boxed_zeroed();
        learned.reset(0.01, &mut rng).unwrap();
        refusal_keeps("learned MuProp", *learned, |e| {
            let mut v = wide(bits(&e.control));
            v.extend(wide(bits(&e.grad)));
            v.extend(wide(bits(&e.state.m)));
            v.extend([u64::from(e.state.t), u64::from(e.rows)]);
            v
        });
        let mut nvil: Box<Nvil<12, 5, 4>> = boxed_zeroed();
        nvil.reset(0.01, 0.8, true, &mut rng).unwrap();
        refusal_keeps("NVIL", *nvil, |e| {
            let mut v = wide(bits(&e.baseline));
            v.extend(wide(bits(&e.grad)));
            v.extend(wide(bits(&e.state.v)));
            v.extend([e.center, e.variance].map(|c| u64::from(c.to_bits())));
            v.extend([u64::from(e.rows), e.sum.to_bits(), e.sum_sq.to_bits()]);
            v
        });
    }

    #[test]
    fn refused_steps_change_nothing() {
        let (mut x, y) = data(6);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut net: Box<Net> = boxed_zeroed();
        net.init(&mut rng);
        let before = net.clone();
        let mut grad: Box<Net> = boxed_zeroed();
        let adam = Adam::new(0.01).unwrap();
        let mut state = AdamState::<Net>::new();
        let mut pool = Parallel::<Net, MuProp, 12, 10, 4>::new(2).unwrap();
        x[5][3] = f32::NAN;
        let stats = train_step_parallel(
            &mut pool,
            &mut net,
            &adam,
            &mut state,
            &mut MuProp::new(),
            &x,
            &y,
            &mut grad,
            &mut rng,
        )
        .unwrap();
        assert_eq!(stats.status, StepStatus::Refused(Refusal::NonFiniteInput));
        assert!(bits(&*net) == bits(&*before));
        assert!(bits(&state.m) == bits(&Net::zeroed()) && state.t == 0);
        let empty: [[f32; 12]; 0] = [];
        assert_eq!(
            pool.gradient(&net, &mut MuProp::new(), &empty, &[], &mut grad, &mut rng),
            Err(Error::EmptyBatch)
        );
        assert!(Parallel::<Net, MuProp, 12, 10, 4>::new(0).is_err());
    }
}

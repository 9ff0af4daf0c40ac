//! A training step allocates nothing: a counting global allocator sees zero bytes requested by
//! the thread that runs steps of `Sbn2<392, 200, 200, 392>` after setup, for every estimator
//! of the default flow and for the antithetic one.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use muprop::{
    boxed_zeroed, train_step, Adam, AdamState, Arm, Estimator, LearnedMuProp, MuProp, Network,
    Nvil, Reinforce, Sbn2, StraightThrough, WorkspaceFor,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Counts the bytes each thread asks for; forwards everything to the system allocator.
struct Counting;

thread_local! {
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the `GlobalAlloc`
// contract; the counter is a const-initialised thread-local `Cell` that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        BYTES.with(|b| b.set(b.get() + layout.size()));
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        BYTES.with(|b| b.set(b.get() + layout.size()));
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        BYTES.with(|b| b.set(b.get() + new_size));
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocated() -> usize {
    BYTES.with(Cell::get)
}

type Net = Sbn2<392, 200, 200, 392>;
const B: usize = 25;

/// Bytes allocated by 3 steps of 60 rows (chunks of 25) after setup.
fn step_bytes<E: Estimator>(estimator: &mut E) -> usize {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut net: Box<Net> = boxed_zeroed();
    net.init(&mut rng);
    let mut grad: Box<Net> = boxed_zeroed();
    let mut state: Box<AdamState<Net>> = boxed_zeroed();
    let mut ws: Box<WorkspaceFor<Net, 392, 392, B>> = boxed_zeroed();
    let adam = Adam::new(1e-3).unwrap();
    let x: Vec<[f32; 392]> = (0..60)
        .map(|r| std::array::from_fn(|i| ((i + r) % 3 == 0) as u8 as f32))
        .collect();
    let y: Vec<[f32; 392]> = (0..60)
        .map(|r| std::array::from_fn(|i| ((i * r) % 5 == 0) as u8 as f32))
        .collect();

    let before = allocated();
    for _ in 0..3 {
        let stats = train_step(
            &mut *net, &adam, &mut state, estimator, &x, &y, &mut ws, &mut grad, &mut rng,
        )
        .unwrap();
        assert!(stats.applied());
    }
    allocated() - before
}

#[test]
fn the_counter_sees_allocations() {
    let before = allocated();
    let v = std::hint::black_box(vec![0u8; 1000]);
    assert!(allocated() - before >= 1000 && v.len() == 1000);
}

#[test]
fn a_training_step_allocates_nothing() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    let mut learned: Box<LearnedMuProp<392, 100, 2, B>> = boxed_zeroed();
    learned.reset(1e-2, &mut rng).unwrap();
    let mut nvil: Box<Nvil<392, 100, B>> = boxed_zeroed();
    nvil.reset(1e-2, 0.8, true, &mut rng).unwrap();
    let results = [
        ("MuProp", step_bytes(&mut MuProp::new())),
        ("learned MuProp", step_bytes(&mut *learned)),
        (
            "REINFORCE",
            step_bytes(&mut Reinforce::with_moving_average(0.9).unwrap()),
        ),
        ("NVIL", step_bytes(&mut *nvil)),
        ("straight-through", step_bytes(&mut StraightThrough)),
        ("ARM", step_bytes(&mut Arm)),
    ];
    for (name, bytes) in results {
        assert_eq!(bytes, 0, "{name}: a step allocated {bytes} bytes");
    }
}

//! Caller-owned buffers for a chunk of up to `B` rows.

use bytemuck::Zeroable;

/// Everything a training step or an estimate writes besides the gradient, for up to `B` rows
/// at a time. A minibatch larger than `B` is processed in chunks of `B` rows.
///
/// `T` is the network's trace for `B` rows: for a network `N` with input width `IN` and target
/// width `Y`, use [`WorkspaceFor`]. On a host, build large workspaces with
/// [`crate::boxed_zeroed`] (feature `alloc`) rather than on the stack.
#[derive(Clone, Copy, Zeroable)]
pub struct Workspace<T, const B: usize> {
    /// The network's trace of the main sample and mean-field passes.
    pub trace: T,
    /// A second trace, for estimators that evaluate other samples beside the main one.
    pub alt: T,
    /// Each row's loss `f` at the main samples.
    pub f: [f32; B],
    /// Each row's mean-field loss `fbar`.
    pub fbar: [f32; B],
    /// Each row's loss at other samples (see [`Workspace::alt`]).
    pub f_alt: [f32; B],
}

impl<T: Zeroable, const B: usize> Workspace<T, B> {
    /// A zeroed workspace, built in place by the caller (on the stack for small networks).
    pub fn new() -> Self {
        Self::zeroed()
    }

    /// The rows the workspace holds at once.
    pub const ROWS: usize = B;
}

impl<T: Zeroable, const B: usize> Default for Workspace<T, B> {
    fn default() -> Self {
        Self::new()
    }
}

/// The workspace type of network `N` (input width `IN`, target width `Y`) for `B` rows.
pub type WorkspaceFor<N, const IN: usize, const Y: usize, const B: usize> =
    Workspace<<N as crate::Network<IN, Y>>::Trace<B>, B>;

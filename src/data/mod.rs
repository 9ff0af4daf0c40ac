//! Data sets for the host examples and tests (feature `std`).
//!
//! - [`load_digits`]: the built-in 8x8 digits (1797 images, embedded in the crate), with a
//!   fixed, documented train/test split.
//! - [`load_mnist`] / [`load_idx_dir`]: MNIST or Fashion-MNIST from a directory of IDX files,
//!   raw or gzip-compressed; [`parse_idx_images`] and [`parse_idx_labels`] parse bytes in
//!   memory.
//! - [`Binarization`]: threshold, fixed Bernoulli draw or dynamic per-epoch draw; its
//!   `Display` form is written next to every reported result.
//! - [`PredictionTask`]: the structured-prediction task, top half of an image to bottom half,
//!   as contiguous rows viewable as `&[[f32; N]]`.
//!
//! Every loader validates what it reads and returns a [`DataError`] naming the file and the
//! problem; none panics or fills in zeros, whatever the bytes.
//!
//! ```
//! use muprop::data::{load_digits, Binarization};
//!
//! let digits = load_digits()?.binarized(Binarization::default(), 0)?;
//! let task = digits.prediction_task();
//! let inputs: &[[f32; 32]] = task.train().inputs()?;
//! let targets: &[[f32; 32]] = task.train().targets()?;
//! assert_eq!((inputs.len(), targets.len()), (1438, 1438));
//! assert_ne!(digits.train().content_hash(), digits.test().content_hash());
//! # Ok::<(), muprop::data::DataError>(())
//! ```

mod binarize;
mod digits;
mod error;
mod file;
mod hash;
mod idx;
mod mnist;
mod split;
mod task;

pub use binarize::Binarization;
pub use digits::{
    is_digits_test_row, load_digits, parse_digits, DIGITS_CLASSES, DIGITS_MAX_PIXEL, DIGITS_NAME,
    DIGITS_RECORD, DIGITS_ROWS, DIGITS_SIDE, DIGITS_TEST_ROWS, DIGITS_TRAIN_ROWS,
};
pub use error::{DataError, IN_MEMORY};
pub use file::{has_gz_name, is_gzip, read_data_file, GZIP_MAGIC};
pub use hash::{fnv1a64, Fnv1a};
pub use idx::{
    parse_idx_images, parse_idx_labels, read_idx_images, read_idx_labels, IdxImages, IMAGES_MAGIC,
    LABELS_MAGIC,
};
pub use mnist::{
    find_idx_file, load_idx_dir, load_mnist, FASHION_MNIST_DEBIAN_DIR, MNIST_CLASSES, MNIST_SIDE,
    TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS,
};
pub use split::{column_means, DataSet, Split, SplitKind};
pub use task::{split_halves, PredictionSplit, PredictionTask};

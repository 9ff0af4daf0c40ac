//! MNIST-format data sets from a directory of IDX files (MNIST, Fashion-MNIST).
//!
//! The directory holds the four files under their original names, each either raw or
//! gzip-compressed (`.gz`): [`TRAIN_IMAGES`], [`TRAIN_LABELS`], [`TEST_IMAGES`],
//! [`TEST_LABELS`]. Fashion-MNIST uses the same names; the Debian package
//! `dataset-fashion-mnist` installs them in [`FASHION_MNIST_DEBIAN_DIR`]. Pixels become
//! `f32` intensities `byte / 255` in `[0, 1]`.

use std::path::{Path, PathBuf};
use std::string::ToString;
use std::vec::Vec;

use super::error::DataError;
use super::idx::{read_idx_images, read_idx_labels};
use super::split::{check_labels, DataSet, Split, SplitKind};

/// The base name of the training images file.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// The base name of the training labels file.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// The base name of the test images file.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// The base name of the test labels file.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
/// Where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST.
pub const FASHION_MNIST_DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// The side of an MNIST image, in pixels.
pub const MNIST_SIDE: usize = 28;
/// The number of MNIST (and Fashion-MNIST) classes.
pub const MNIST_CLASSES: u8 = 10;

/// Loads MNIST or Fashion-MNIST (28x28 images, labels 0..9) from `dir`.
///
/// # Errors
///
/// As [`load_idx_dir`].
pub fn load_mnist(dir: &Path) -> Result<DataSet, DataError> {
    load_idx_dir(dir, MNIST_SIDE, MNIST_SIDE, MNIST_CLASSES)
}

/// Loads the four IDX files in `dir`, requiring `height x width` images and labels in
/// `0..classes`; the data set is named after the directory.
///
/// # Errors
///
/// [`DataError::Missing`] when neither `name` nor `name.gz` exists (the error names
/// `name[.gz]`), the errors of [`read_idx_images`] and [`read_idx_labels`],
/// [`DataError::WrongImageSize`], [`DataError::CountMismatch`] when a split's image and label
/// counts differ, [`DataError::EmptySplit`] and [`DataError::LabelOutOfRange`].
///
/// # Cost
///
/// Reads every file once; holds the pixels as `f32` (for MNIST about 220 MB).
pub fn load_idx_dir(
    dir: &Path,
    height: usize,
    width: usize,
    classes: u8,
) -> Result<DataSet, DataError> {
    let shape = SplitShape {
        height,
        width,
        classes,
    };
    let train = load_split(dir, TRAIN_IMAGES, TRAIN_LABELS, SplitKind::Train, shape)?;
    let test = load_split(dir, TEST_IMAGES, TEST_LABELS, SplitKind::Test, shape)?;
    DataSet::new(dir.display().to_string(), classes, train, test)
}

/// The path of `base` in `dir`: the raw file if present, else the `.gz` one.
///
/// # Errors
///
/// [`DataError::Missing`] when neither exists, naming `dir/base[.gz]`.
pub fn find_idx_file(dir: &Path, base: &str) -> Result<PathBuf, DataError> {
    let raw = dir.join(base);
    if raw.is_file() {
        return Ok(raw);
    }
    let gz = dir.join(std::format!("{base}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(DataError::Missing {
        file: dir.join(std::format!("{base}[.gz]")),
    })
}

/// What every split of a directory must agree on.
#[derive(Clone, Copy)]
struct SplitShape {
    height: usize,
    width: usize,
    classes: u8,
}

/// Reads, checks and converts one split.
fn load_split(
    dir: &Path,
    images_base: &str,
    labels_base: &str,
    kind: SplitKind,
    shape: SplitShape,
) -> Result<Split, DataError> {
    let images_file = find_idx_file(dir, images_base)?;
    let labels_file = find_idx_file(dir, labels_base)?;
    let images = read_idx_images(&images_file)?;
    let labels = read_idx_labels(&labels_file)?;

    // Shape, counts and labels, each named by the file at fault.
    if (images.rows(), images.cols()) != (shape.height, shape.width) {
        return Err(DataError::WrongImageSize {
            file: images_file,
            expected: (shape.height, shape.width),
            found: (images.rows(), images.cols()),
        });
    }
    if images.count() != labels.len() {
        return Err(DataError::CountMismatch {
            images_file,
            images: images.count(),
            labels_file,
            labels: labels.len(),
        });
    }
    if labels.is_empty() {
        return Err(DataError::EmptySplit {
            file: images_file,
            split: kind.name(),
        });
    }
    check_labels(&labels, shape.classes, &labels_file)?;

    let pixels: Vec<f32> = images
        .pixels()
        .iter()
        .map(|&b| f32::from(b) / 255.0)
        .collect();
    Split::new(shape.height, shape.width, pixels, labels).map_err(|e| e.with_file(&images_file))
}

//! Splits and data sets: images as contiguous rows of `f32` in `[0, 1]`, with their labels.
//!
//! A [`Split`] is one part of a data set (the training or the test examples); a [`DataSet`]
//! holds both, with the name of its source and the binarization applied to it, if any.

use std::format;
use std::path::{Path, PathBuf};
use std::string::String;
use std::vec::Vec;

use super::binarize::Binarization;
use super::error::{DataError, IN_MEMORY};
use super::hash::Fnv1a;
use super::task::PredictionTask;

/// Which part of a data set a split is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SplitKind {
    /// The examples training may read.
    Train,
    /// The held-out examples evaluation reads.
    Test,
}

impl SplitKind {
    /// `"train"` or `"test"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Test => "test",
        }
    }

    /// The random stream a binarization uses for this split (0 train, 1 test).
    pub const fn stream(self) -> u64 {
        match self {
            Self::Train => 0,
            Self::Test => 1,
        }
    }
}

impl core::fmt::Display for SplitKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Images of `height x width` pixels, row-major and contiguous, with one label per image.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    height: usize,
    width: usize,
    pixels: Vec<f32>,
    labels: Vec<u8>,
}

impl Split {
    /// A split of `labels.len()` images of `height x width` pixels each.
    ///
    /// # Errors
    ///
    /// [`DataError::LengthMismatch`] when `pixels.len()` is not
    /// `labels.len() * height * width`.
    pub fn new(
        height: usize,
        width: usize,
        pixels: Vec<f32>,
        labels: Vec<u8>,
    ) -> Result<Self, DataError> {
        let expected = labels.len() as u128 * height as u128 * width as u128;
        if pixels.len() as u128 != expected {
            return Err(DataError::LengthMismatch {
                file: PathBuf::from(IN_MEMORY),
                expected,
                found: pixels.len(),
            });
        }
        Ok(Self {
            height,
            width,
            pixels,
            labels,
        })
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no images (never true inside a [`DataSet`]).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Rows of pixels per image.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Columns of pixels per image.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Pixels per image, `height * width`.
    pub fn pixels_per_image(&self) -> usize {
        self.height * self.width
    }

    /// Every pixel of every image, image after image.
    pub fn pixels(&self) -> &[f32] {
        &self.pixels
    }

    /// One label per image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The pixels of image `index`, or `None` past the end.
    pub fn image(&self, index: usize) -> Option<&[f32]> {
        let n = self.pixels_per_image();
        self.pixels
            .get(index.checked_mul(n)?..index.checked_add(1)?.checked_mul(n)?)
    }

    /// The images as fixed-size rows, for a network whose input has `N` units.
    ///
    /// # Errors
    ///
    /// [`DataError::WidthMismatch`] when `N` is not [`pixels_per_image`](Self::pixels_per_image).
    pub fn rows<const N: usize>(&self) -> Result<&[[f32; N]], DataError> {
        rows_of(&self.pixels, self.pixels_per_image(), "images")
    }

    /// A stable FNV-1a hash of the shape, pixels (as `f32` bits) and labels.
    ///
    /// Two splits with the same content have the same hash on every platform; used to check
    /// that a test split is not the training split.
    pub fn content_hash(&self) -> u64 {
        let mut hasher = Fnv1a::new();
        for n in [self.height, self.width, self.len()] {
            hasher.update(&(n as u64).to_le_bytes());
        }
        for pixel in &self.pixels {
            hasher.update(&pixel.to_bits().to_le_bytes());
        }
        hasher.update(&self.labels);
        hasher.finish()
    }

    /// The same labels and shape with new pixels (the caller keeps the length).
    pub(crate) fn with_pixels(&self, pixels: Vec<f32>) -> Self {
        Self {
            height: self.height,
            width: self.width,
            pixels,
            labels: self.labels.clone(),
        }
    }
}

/// A training split and a test split of the same image size, with their provenance.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSet {
    name: String,
    classes: u8,
    train: Split,
    test: Split,
    binarization: Option<Binarization>,
}

impl DataSet {
    /// A data set called `name` with labels in `0..classes`.
    ///
    /// # Errors
    ///
    /// [`DataError::EmptySplit`] when either split is empty, [`DataError::WrongImageSize`]
    /// when the test images differ in size from the training images, and
    /// [`DataError::LabelOutOfRange`] for a label not below `classes`. The errors name the
    /// file as `name`.
    pub fn new(
        name: impl Into<String>,
        classes: u8,
        train: Split,
        test: Split,
    ) -> Result<Self, DataError> {
        let name = name.into();
        let file = PathBuf::from(&name);
        for (split, kind) in [(&train, SplitKind::Train), (&test, SplitKind::Test)] {
            if split.is_empty() {
                return Err(DataError::EmptySplit {
                    file,
                    split: kind.name(),
                });
            }
            check_labels(split.labels(), classes, &file)?;
        }
        if (test.height, test.width) != (train.height, train.width) {
            return Err(DataError::WrongImageSize {
                file,
                expected: (train.height, train.width),
                found: (test.height, test.width),
            });
        }
        Ok(Self {
            name,
            classes,
            train,
            test,
            binarization: None,
        })
    }

    /// Where the data came from (for example `digits (embedded)` or a directory).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of classes; every label lies in `0..classes`.
    pub fn classes(&self) -> u8 {
        self.classes
    }

    /// The training split.
    pub fn train(&self) -> &Split {
        &self.train
    }

    /// The test split.
    pub fn test(&self) -> &Split {
        &self.test
    }

    /// The split of the given kind.
    pub fn split(&self, kind: SplitKind) -> &Split {
        match kind {
            SplitKind::Train => &self.train,
            SplitKind::Test => &self.test,
        }
    }

    /// The binarization that produced these pixels, or `None` for intensities in `[0, 1]`.
    pub fn binarization(&self) -> Option<Binarization> {
        self.binarization
    }

    /// A short description for reports: the name, the split sizes and the binarization.
    pub fn describe(&self) -> String {
        let scheme = match self.binarization {
            Some(b) => format!("{b}"),
            None => String::from("intensities"),
        };
        format!(
            "{}: {}x{} images, {} train / {} test, {}",
            self.name,
            self.train.height,
            self.train.width,
            self.train.len(),
            self.test.len(),
            scheme
        )
    }

    /// Both splits binarized by `scheme` at `epoch` (the epoch matters only for
    /// [`Binarization::Dynamic`]); see [`Binarization::apply`].
    ///
    /// Binarize the intensity data set each epoch, not an already binarized one: draws from
    /// binary pixels are those pixels again.
    ///
    /// # Errors
    ///
    /// [`DataError::InvalidThreshold`] for a threshold outside `[0, 1)`.
    ///
    /// # Cost
    ///
    /// One pass over every pixel and a copy of the data set.
    pub fn binarized(&self, scheme: Binarization, epoch: u64) -> Result<Self, DataError> {
        let train = scheme.apply(self.train.pixels(), SplitKind::Train.stream(), epoch)?;
        let test = scheme.apply(self.test.pixels(), SplitKind::Test.stream(), epoch)?;
        Ok(Self {
            name: self.name.clone(),
            classes: self.classes,
            train: self.train.with_pixels(train),
            test: self.test.with_pixels(test),
            binarization: Some(scheme),
        })
    }

    /// The structured-prediction task on this data set: the top half of each image predicts
    /// the bottom half.
    pub fn prediction_task(&self) -> PredictionTask {
        PredictionTask::new(self)
    }
}

/// Checks that every label lies in `0..classes`.
pub(crate) fn check_labels(labels: &[u8], classes: u8, file: &Path) -> Result<(), DataError> {
    match labels
        .iter()
        .enumerate()
        .find(|&(_, &label)| label >= classes)
    {
        Some((index, &label)) => Err(DataError::LabelOutOfRange {
            file: file.to_path_buf(),
            index,
            label,
            classes,
        }),
        None => Ok(()),
    }
}

/// The mean of each column of `values`, read as rows of `width` (a trailing partial row is
/// ignored), summed and divided in `f64`; zeros when there are no rows.
pub fn column_means(values: &[f32], width: usize) -> Vec<f64> {
    let mut sums = std::vec![0.0f64; width];
    let mut rows = 0usize;
    for row in values.chunks_exact(width.max(1)) {
        for (s, v) in sums.iter_mut().zip(row) {
            *s += f64::from(*v);
        }
        rows += 1;
    }
    let n = rows.max(1) as f64;
    sums.into_iter().map(|s| s / n).collect()
}

/// `values` as rows of `N`, when `N` is the row width `width` (never panics: `N = 0` is an
/// error, and the split invariant makes `values.len()` a multiple of `width`).
pub(crate) fn rows_of<'a, const N: usize>(
    values: &'a [f32],
    width: usize,
    what: &'static str,
) -> Result<&'a [[f32; N]], DataError> {
    let mismatch = DataError::WidthMismatch {
        what,
        width,
        requested: N,
    };
    if N == 0 || N != width {
        return Err(mismatch);
    }
    let (rows, tail) = values.as_chunks::<N>();
    if !tail.is_empty() {
        return Err(mismatch);
    }
    Ok(rows)
}

//! The error type of the data loaders: one variant per way a file or a data set can be wrong.
//!
//! Every variant names the file (or, for bytes parsed in memory, the placeholder
//! [`IN_MEMORY`]) and the problem, so a message alone tells the user what to fix.

use core::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// The name used for bytes parsed in memory, before a loader attaches a file name.
pub const IN_MEMORY: &str = "<bytes>";

/// Why a data file or data set was rejected.
///
/// No loader returns zeros or panics on bad input: every check that fails becomes one of these
/// variants.
#[derive(Debug)]
#[non_exhaustive]
pub enum DataError {
    /// The file does not exist.
    Missing {
        /// The path looked for (a directory loader writes `name[.gz]` when it tried both).
        file: PathBuf,
    },
    /// The file exists but could not be read.
    Io {
        /// The file.
        file: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The content is gzip-compressed (starts with `1f 8b`) but the name does not end in `.gz`.
    UnexpectedGzip {
        /// The file.
        file: PathBuf,
    },
    /// The name ends in `.gz` but the content is not gzip-compressed.
    ExpectedGzip {
        /// The file.
        file: PathBuf,
    },
    /// The gzip stream could not be decompressed (corrupt or cut short).
    Decompress {
        /// The file.
        file: PathBuf,
        /// The decompressor's error.
        source: io::Error,
    },
    /// The IDX magic number is not the one for this kind of file.
    WrongMagic {
        /// The file.
        file: PathBuf,
        /// The magic number required (`0x00000803` images, `0x00000801` labels).
        expected: u32,
        /// The first four bytes of the file, big-endian.
        found: u32,
    },
    /// The file is shorter than its header, or than the size its header's counts imply.
    Truncated {
        /// The file.
        file: PathBuf,
        /// Bytes required by the format and the header's counts.
        expected: u128,
        /// Bytes present.
        found: usize,
    },
    /// The file is longer than its header's counts imply (trailing bytes), or, for a file of
    /// fixed-size records, not a whole number of records.
    LengthMismatch {
        /// The file.
        file: PathBuf,
        /// Bytes implied by the counts (or the record size, for a record file).
        expected: u128,
        /// Bytes present.
        found: usize,
    },
    /// The images are not of the size the loader expects.
    WrongImageSize {
        /// The file.
        file: PathBuf,
        /// Expected `(height, width)`.
        expected: (usize, usize),
        /// `(rows, columns)` in the file.
        found: (usize, usize),
    },
    /// A split holds no examples.
    EmptySplit {
        /// The file the split was read from.
        file: PathBuf,
        /// Which split (`"train"` or `"test"`).
        split: &'static str,
    },
    /// A label is not below the number of classes.
    LabelOutOfRange {
        /// The file.
        file: PathBuf,
        /// The example's position in the file.
        index: usize,
        /// The label found.
        label: u8,
        /// The number of classes; labels must lie in `0..classes`.
        classes: u8,
    },
    /// A pixel value exceeds the largest value of the format (16 for the 8x8 digits).
    PixelOutOfRange {
        /// The file.
        file: PathBuf,
        /// The example's position in the file.
        index: usize,
        /// The value found.
        value: u8,
        /// The largest value allowed.
        max: u8,
    },
    /// The images file and the labels file hold different numbers of examples.
    CountMismatch {
        /// The images file.
        images_file: PathBuf,
        /// The number of images.
        images: usize,
        /// The labels file.
        labels_file: PathBuf,
        /// The number of labels.
        labels: usize,
    },
    /// Rows were requested as `[f32; N]` with `N` different from the row width.
    WidthMismatch {
        /// What was being viewed (for example `"train inputs"`).
        what: &'static str,
        /// The actual number of values per row.
        width: usize,
        /// The `N` requested.
        requested: usize,
    },
    /// A binarization threshold outside `[0, 1)` (or NaN), which would give a constant image.
    InvalidThreshold {
        /// The threshold given.
        threshold: f32,
    },
}

impl DataError {
    /// Replaces the file named by the error (used when bytes parsed in memory came from a file).
    pub(crate) fn with_file(mut self, path: &Path) -> Self {
        if let Some(file) = self.file_mut() {
            *file = path.to_path_buf();
        }
        self
    }

    /// The file the error is about, if it is about one file.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::Missing { file }
            | Self::Io { file, .. }
            | Self::UnexpectedGzip { file }
            | Self::ExpectedGzip { file }
            | Self::Decompress { file, .. }
            | Self::WrongMagic { file, .. }
            | Self::Truncated { file, .. }
            | Self::LengthMismatch { file, .. }
            | Self::WrongImageSize { file, .. }
            | Self::EmptySplit { file, .. }
            | Self::LabelOutOfRange { file, .. }
            | Self::PixelOutOfRange { file, .. } => Some(file),
            Self::CountMismatch { images_file, .. } => Some(images_file),
            Self::WidthMismatch { .. } | Self::InvalidThreshold { .. } => None,
        }
    }

    fn file_mut(&mut self) -> Option<&mut PathBuf> {
        match self {
            Self::Missing { file }
            | Self::Io { file, .. }
            | Self::UnexpectedGzip { file }
            | Self::ExpectedGzip { file }
            | Self::Decompress { file, .. }
            | Self::WrongMagic { file, .. }
            | Self::Truncated { file, .. }
            | Self::LengthMismatch { file, .. }
            | Self::WrongImageSize { file, .. }
            | Self::EmptySplit { file, .. }
            | Self::LabelOutOfRange { file, .. }
            | Self::PixelOutOfRange { file, .. } => Some(file),
            Self::CountMismatch { .. }
            | Self::WidthMismatch { .. }
            | Self::InvalidThreshold { .. } => None,
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { file } => write!(f, "{}: file not found", file.display()),
            Self::Io { file, source } => write!(f, "{}: cannot read: {source}", file.display()),
            Self::UnexpectedGzip { file } => write!(
                f,
                "{}: content is gzip-compressed but the name does not end in .gz",
                file.display()
            ),
            Self::ExpectedGzip { file } => write!(
                f,
                "{}: name ends in .gz but the content is not gzip (no 1f 8b magic bytes)",
                file.display()
            ),
            Self::Decompress { file, source } => {
                write!(f, "{}: corrupt gzip stream: {source}", file.display())
            }
            Self::WrongMagic {
                file,
                expected,
                found,
            } => write!(
                f,
                "{}: wrong magic number 0x{found:08x}, expected 0x{expected:08x}",
                file.display()
            ),
            Self::Truncated {
                file,
                expected,
                found,
            } => write!(
                f,
                "{}: truncated file: {found} bytes, the format and header need {expected}",
                file.display()
            ),
            Self::LengthMismatch {
                file,
                expected,
                found,
            } => write!(
                f,
                "{}: the counts disagree with the file length: {found} bytes, expected {expected}",
                file.display()
            ),
            Self::WrongImageSize {
                file,
                expected,
                found,
            } => write!(
                f,
                "{}: images of the wrong size: {}x{}, expected {}x{}",
                file.display(),
                found.0,
                found.1,
                expected.0,
                expected.1
            ),
            Self::EmptySplit { file, split } => {
                write!(f, "{}: the {split} split is empty", file.display())
            }
            Self::LabelOutOfRange {
                file,
                index,
                label,
                classes,
            } => write!(
                f,
                "{}: label {label} of example {index} is out of range 0..{classes}",
                file.display()
            ),
            Self::PixelOutOfRange {
                file,
                index,
                value,
                max,
            } => write!(
                f,
                "{}: pixel value {value} in example {index} exceeds {max}",
                file.display()
            ),
            Self::CountMismatch {
                images_file,
                images,
                labels_file,
                labels,
            } => write!(
                f,
                "{}: {images} images, but {} has {labels} labels",
                images_file.display(),
                labels_file.display()
            ),
            Self::WidthMismatch {
                what,
                width,
                requested,
            } => write!(
                f,
                "{what}: rows have {width} values, but rows of {requested} were requested"
            ),
            Self::InvalidThreshold { threshold } => {
                write!(f, "binarization threshold {threshold} is outside [0, 1)")
            }
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } | Self::Decompress { source, .. } => Some(source),
            _ => None,
        }
    }
}

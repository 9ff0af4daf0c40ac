//! The built-in data set: 1797 handwritten digits of 8x8 pixels, embedded in the crate.
//!
//! Source: E. Alpaydin and C. Kaynak (1998), the test part of the UCI "Optical Recognition of
//! Handwritten Digits" data set, as redistributed by scikit-learn (`load_digits`); licensed
//! CC BY 4.0. Each record is 65 bytes: 64 pixels, row by row, each a count `0..=16` of set
//! pixels in a 4x4 block of the original 32x32 bitmap, then the label `0..=9`.
//!
//! # The split
//!
//! The split is fixed, not random: record `i` (counting from 0 in file order) is a **test**
//! example when `i % 5 == 4` ([`is_digits_test_row`]), a training example otherwise. That
//! gives [`DIGITS_TRAIN_ROWS`] = 1438 training and [`DIGITS_TEST_ROWS`] = 359 test images.
//! Pixels become `f32` intensities `count / 16` in `[0, 1]`.

use std::path::{Path, PathBuf};
use std::vec::Vec;

use super::error::DataError;
use super::split::{DataSet, Split};

/// The name under which the embedded file is reported in errors and data set names.
pub const DIGITS_NAME: &str = "digits_u8_1797x65.bin (embedded)";
/// Bytes per record: 64 pixels and a label.
pub const DIGITS_RECORD: usize = 65;
/// The side of a digit image, in pixels.
pub const DIGITS_SIDE: usize = 8;
/// The largest pixel value.
pub const DIGITS_MAX_PIXEL: u8 = 16;
/// The number of classes.
pub const DIGITS_CLASSES: u8 = 10;
/// Records in the embedded file.
pub const DIGITS_ROWS: usize = 1797;
/// Records in the test split (`i % 5 == 4`).
pub const DIGITS_TEST_ROWS: usize = 359;
/// Records in the training split.
pub const DIGITS_TRAIN_ROWS: usize = DIGITS_ROWS - DIGITS_TEST_ROWS;

/// The embedded file.
const DIGITS_BYTES: &[u8] = include_bytes!("digits_u8_1797x65.bin");

/// Whether record `index` belongs to the test split (`index % 5 == 4`).
pub const fn is_digits_test_row(index: usize) -> bool {
    index % 5 == 4
}

/// Loads the embedded digits with the fixed split described in the module documentation.
///
/// # Errors
///
/// [`DataError::LengthMismatch`] unless the embedded file holds exactly 1797 records, and the
/// errors of [`parse_digits`]; none occurs for the file shipped with the crate.
pub fn load_digits() -> Result<DataSet, DataError> {
    let expected = DIGITS_ROWS * DIGITS_RECORD;
    if DIGITS_BYTES.len() != expected {
        return Err(DataError::LengthMismatch {
            file: PathBuf::from(DIGITS_NAME),
            expected: expected as u128,
            found: DIGITS_BYTES.len(),
        });
    }
    parse_digits(DIGITS_BYTES)
}

/// Parses records in the digits format (any number of them) into a data set with the fixed
/// split; errors name the file as [`DIGITS_NAME`].
///
/// # Errors
///
/// [`DataError::LengthMismatch`] when the length is not a whole number of records (expected:
/// the whole records present), [`DataError::PixelOutOfRange`] for a pixel above 16,
/// [`DataError::LabelOutOfRange`] for a label above 9, and [`DataError::EmptySplit`] with fewer
/// than 5 records (the test split is empty).
pub fn parse_digits(bytes: &[u8]) -> Result<DataSet, DataError> {
    let file = Path::new(DIGITS_NAME);
    let (records, tail) = bytes.as_chunks::<DIGITS_RECORD>();
    if !tail.is_empty() {
        return Err(DataError::LengthMismatch {
            file: file.to_path_buf(),
            expected: (records.len() * DIGITS_RECORD) as u128,
            found: bytes.len(),
        });
    }

    // Split the records, converting pixels and checking their range.
    let mut parts = [Part::default(), Part::default()];
    for (index, record) in records.iter().enumerate() {
        let (pixels, label) = (&record[..DIGITS_RECORD - 1], record[DIGITS_RECORD - 1]);
        if let Some(&value) = pixels.iter().find(|&&v| v > DIGITS_MAX_PIXEL) {
            return Err(DataError::PixelOutOfRange {
                file: file.to_path_buf(),
                index,
                value,
                max: DIGITS_MAX_PIXEL,
            });
        }
        if label >= DIGITS_CLASSES {
            return Err(DataError::LabelOutOfRange {
                file: file.to_path_buf(),
                index,
                label,
                classes: DIGITS_CLASSES,
            });
        }
        let part = &mut parts[usize::from(is_digits_test_row(index))];
        part.pixels.extend(
            pixels
                .iter()
                .map(|&v| f32::from(v) / f32::from(DIGITS_MAX_PIXEL)),
        );
        part.labels.push(label);
    }

    let [train, test] = parts.map(|part| {
        Split::new(DIGITS_SIDE, DIGITS_SIDE, part.pixels, part.labels)
            .map_err(|e| e.with_file(file))
    });
    DataSet::new(DIGITS_NAME, DIGITS_CLASSES, train?, test?)
}

/// Pixels and labels gathered for one split.
#[derive(Default)]
struct Part {
    pixels: Vec<f32>,
    labels: Vec<u8>,
}

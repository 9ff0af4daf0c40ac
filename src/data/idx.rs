//! The IDX format of MNIST and Fashion-MNIST: a big-endian header, then unsigned bytes.
//!
//! Layout (LeCun et al.): a 4-byte magic number `0x0000_08_NN` (`08` = unsigned bytes,
//! `NN` = number of dimensions), one big-endian `u32` per dimension, then the values,
//! last dimension fastest. Image files have magic [`IMAGES_MAGIC`] (dimensions: count, rows,
//! columns); label files have [`LABELS_MAGIC`] (dimension: count). The parsers check that
//! the file holds exactly the bytes its header announces, and never panic on any input.

use std::path::{Path, PathBuf};
use std::vec::Vec;

use super::error::{DataError, IN_MEMORY};
use super::file::read_data_file;

/// The magic number of an IDX file of unsigned-byte images (3 dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// The magic number of an IDX file of unsigned-byte labels (1 dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Images read from an IDX file: `count` images of `rows x cols` bytes, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    count: usize,
    rows: usize,
    cols: usize,
    pixels: Vec<u8>,
}

impl IdxImages {
    /// The number of images.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Rows of pixels per image.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of pixels per image.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Every pixel, image after image, row by row (`count * rows * cols` bytes).
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The pixels of image `index`, or `None` past the end.
    pub fn image(&self, index: usize) -> Option<&[u8]> {
        let n = self.rows * self.cols;
        self.pixels
            .get(index.checked_mul(n)?..index.checked_add(1)?.checked_mul(n)?)
    }

    /// The pixels, giving up the shape.
    pub fn into_pixels(self) -> Vec<u8> {
        self.pixels
    }
}

/// Parses an IDX images file held in memory (uncompressed).
///
/// # Errors
///
/// [`DataError::WrongMagic`] unless the file starts with [`IMAGES_MAGIC`],
/// [`DataError::Truncated`] when it is shorter than its 16-byte header or than
/// `16 + count * rows * cols`, and [`DataError::LengthMismatch`] when it is longer. The error
/// names the file as [`IN_MEMORY`].
pub fn parse_idx_images(bytes: &[u8]) -> Result<IdxImages, DataError> {
    let ([count, rows, cols], values) = parse_header::<3>(bytes, IMAGES_MAGIC)?;
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: values.to_vec(),
    })
}

/// Parses an IDX labels file held in memory (uncompressed).
///
/// # Errors
///
/// [`DataError::WrongMagic`] unless the file starts with [`LABELS_MAGIC`],
/// [`DataError::Truncated`] when it is shorter than `8 + count` bytes, and
/// [`DataError::LengthMismatch`] when it is longer. The error names the file as
/// [`IN_MEMORY`].
pub fn parse_idx_labels(bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    let (_, values) = parse_header::<1>(bytes, LABELS_MAGIC)?;
    Ok(values.to_vec())
}

/// Reads an IDX images file, raw or gzip-compressed (see [`read_data_file`]).
///
/// # Errors
///
/// Those of [`read_data_file`] and [`parse_idx_images`], naming `path`.
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    parse_idx_images(&read_data_file(path)?).map_err(|e| e.with_file(path))
}

/// Reads an IDX labels file, raw or gzip-compressed (see [`read_data_file`]).
///
/// # Errors
///
/// Those of [`read_data_file`] and [`parse_idx_labels`], naming `path`.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    parse_idx_labels(&read_data_file(path)?).map_err(|e| e.with_file(path))
}

/// Checks the magic number and that the length is exactly header plus values; returns the
/// `D` dimensions and the values.
fn parse_header<const D: usize>(
    bytes: &[u8],
    magic: u32,
) -> Result<([usize; D], &[u8]), DataError> {
    let file = || PathBuf::from(IN_MEMORY);
    let header_len = 4 + 4 * D;
    let truncated = |expected: u128| DataError::Truncated {
        file: file(),
        expected,
        found: bytes.len(),
    };

    // Magic number first: a wrong kind of file is the more useful message.
    let found = be_u32(bytes, 0).ok_or_else(|| truncated(header_len as u128))?;
    if found != magic {
        return Err(DataError::WrongMagic {
            file: file(),
            expected: magic,
            found,
        });
    }

    // Dimensions, and the length they imply (at most 2^96 + 16: no overflow in u128).
    let mut dims = [0_u32; D];
    for (k, dim) in dims.iter_mut().enumerate() {
        *dim = be_u32(bytes, 4 + 4 * k).ok_or_else(|| truncated(header_len as u128))?;
    }
    let expected = header_len as u128 + dims.iter().map(|&d| u128::from(d)).product::<u128>();
    let found_len = bytes.len() as u128;
    if found_len < expected {
        return Err(truncated(expected));
    }
    if found_len > expected {
        return Err(DataError::LengthMismatch {
            file: file(),
            expected,
            found: bytes.len(),
        });
    }

    // The length check bounds every dimension's product by the file size.
    let values = bytes.get(header_len..).ok_or_else(|| truncated(expected))?;
    Ok((dims.map(|d| d as usize), values))
}

/// The big-endian `u32` at `offset`, or `None` past the end.
fn be_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let word = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_be_bytes(word.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images_file(count: u32, rows: u32, cols: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        for word in [IMAGES_MAGIC, count, rows, cols] {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        bytes.extend((0..count * rows * cols).map(|i| i as u8));
        bytes
    }

    #[test]
    fn parses_a_small_images_file() {
        let images = parse_idx_images(&images_file(2, 3, 4)).unwrap();
        assert_eq!((images.count(), images.rows(), images.cols()), (2, 3, 4));
        assert_eq!(images.image(1).unwrap(), &(12..24).collect::<Vec<u8>>()[..]);
        assert_eq!(images.image(2), None);
    }

    #[test]
    fn a_huge_header_is_truncation_not_overflow() {
        let mut bytes = images_file(1, 1, 1);
        bytes[4..16].copy_from_slice(&[0xff; 12]);
        let err = parse_idx_images(&bytes).unwrap_err();
        let expected = 16 + u128::from(u32::MAX).pow(3);
        assert!(matches!(err, DataError::Truncated { expected: e, .. } if e == expected));
    }

    #[test]
    fn labels_file_with_images_magic_is_rejected() {
        let err = parse_idx_labels(&images_file(1, 1, 1)).unwrap_err();
        assert!(matches!(
            err,
            DataError::WrongMagic {
                expected: LABELS_MAGIC,
                ..
            }
        ));
    }
}

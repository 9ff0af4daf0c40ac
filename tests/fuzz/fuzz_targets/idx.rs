//! The IDX parsers and the digits parser on arbitrary and corrupted files: an error or a
//! consistent result, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muprop::data::{parse_digits, parse_idx_images, parse_idx_labels};

mod mutate;

/// A valid IDX images file: 2 images of 2x3 pixels.
const IMAGES: [u8; 28] = [
    0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 255,
];

/// A valid IDX labels file: 3 labels.
const LABELS: [u8; 11] = [0, 0, 8, 1, 0, 0, 0, 3, 1, 7, 9];

fuzz_target!(|data: &[u8]| {
    let images = mutate::file_from(data, &IMAGES);
    if let Ok(parsed) = parse_idx_images(&images) {
        assert_eq!(
            parsed.pixels().len(),
            parsed.count() * parsed.rows() * parsed.cols()
        );
        assert_eq!(parsed.pixels().len() + 16, images.len());
    }
    let labels = mutate::file_from(data, &LABELS);
    if let Ok(parsed) = parse_idx_labels(&labels) {
        assert_eq!(parsed.len() + 8, labels.len());
    }
    let _ = parse_digits(data);
});

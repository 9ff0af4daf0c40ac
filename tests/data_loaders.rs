//! The data loaders: every error variant from a small malformed file, the built-in digits,
//! binarization, the top/bottom task, the real MNIST files when present, and a proptest that
//! the IDX parsers never panic on corrupted bytes.
#![cfg(feature = "std")]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::write::GzEncoder;
use flate2::Compression;
use muprop::data::{
    load_digits, load_idx_dir, load_mnist, parse_digits, parse_idx_images, parse_idx_labels,
    read_data_file, read_idx_images, read_idx_labels, Binarization, DataError, DataSet,
    IMAGES_MAGIC, LABELS_MAGIC, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Helpers: IDX bytes, gzip, and a fresh directory per test.

/// An IDX images file of `count` images of `rows x cols`, pixel `k` of the file equal to `k % 251`.
fn idx_images(count: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [IMAGES_MAGIC, count, rows, cols] {
        bytes.extend_from_slice(&word.to_be_bytes());
    }
    bytes.extend((0..count * rows * cols).map(|k| (k % 251) as u8));
    bytes
}

/// An IDX labels file.
fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [LABELS_MAGIC, labels.len() as u32] {
        bytes.extend_from_slice(&word.to_be_bytes());
    }
    bytes.extend_from_slice(labels);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A new empty directory under the system temp dir, unique to this process and call.
fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("muprop-data-{}-{n}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The four files of a small valid data set (`rows x cols` images, labels cycling 0..9),
/// raw or gzip-compressed.
fn write_idx_dir(dir: &Path, rows: u32, cols: u32, gz: bool) {
    let labels: Vec<u8> = (0..7).map(|i| i % 10).collect();
    let files = [
        (TRAIN_IMAGES, idx_images(7, rows, cols)),
        (TRAIN_LABELS, idx_labels(&labels)),
        (TEST_IMAGES, idx_images(3, rows, cols)),
        (TEST_LABELS, idx_labels(&labels[..3])),
    ];
    for (name, bytes) in files {
        write_file(dir, name, &bytes, gz);
    }
}

/// Writes `bytes` as `dir/name` (raw) or `dir/name.gz` (compressed), replacing either.
fn write_file(dir: &Path, name: &str, bytes: &[u8], gz: bool) -> PathBuf {
    let _ = fs::remove_file(dir.join(name));
    let _ = fs::remove_file(dir.join(format!("{name}.gz")));
    let (path, content) = if gz {
        (dir.join(format!("{name}.gz")), gzip(bytes))
    } else {
        (dir.join(name), bytes.to_vec())
    };
    fs::write(&path, content).unwrap();
    path
}

/// Asserts that the message names the file at fault.
fn assert_names(err: &DataError, file: &str) {
    let message = err.to_string();
    assert!(
        message.contains(file),
        "message {message:?} does not name {file:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// One test per error variant.

#[test]
fn a_missing_file_is_reported_by_name() {
    let dir = temp_dir("missing");
    let err = read_idx_images(&dir.join("nothing-here")).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err}");
    assert_names(&err, "nothing-here");

    // A directory without the training images reports the name it looked for, raw or .gz.
    let err = load_mnist(&dir).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err}");
    assert_names(&err, "train-images-idx3-ubyte[.gz]");
}

#[test]
fn gzip_content_under_a_raw_name_is_rejected() {
    let dir = temp_dir("unexpected-gzip");
    let path = dir.join("labels-idx1-ubyte");
    fs::write(&path, gzip(&idx_labels(&[1, 2]))).unwrap();
    let err = read_idx_labels(&path).unwrap_err();
    assert!(matches!(err, DataError::UnexpectedGzip { .. }), "{err}");
    assert_names(&err, "labels-idx1-ubyte");
}

#[test]
fn raw_content_under_a_gz_name_is_rejected() {
    let dir = temp_dir("expected-gzip");
    let path = dir.join("labels-idx1-ubyte.gz");
    fs::write(&path, idx_labels(&[1, 2])).unwrap();
    let err = read_idx_labels(&path).unwrap_err();
    assert!(matches!(err, DataError::ExpectedGzip { .. }), "{err}");
    assert_names(&err, "labels-idx1-ubyte.gz");
}

#[test]
fn a_corrupt_gzip_stream_is_a_decompression_error() {
    let dir = temp_dir("decompress");
    let compressed = gzip(&idx_images(4, 5, 5));
    let path = dir.join("cut.gz");
    fs::write(&path, &compressed[..compressed.len() / 2]).unwrap();
    let err = read_data_file(&path).unwrap_err();
    assert!(matches!(err, DataError::Decompress { .. }), "{err}");
    assert_names(&err, "cut.gz");
}

#[test]
fn a_wrong_magic_number_is_rejected_raw_and_compressed() {
    let dir = temp_dir("magic");
    for gz in [false, true] {
        let path = write_file(&dir, "images", &idx_labels(&[1, 2, 3]), gz);
        let err = read_idx_images(&path).unwrap_err();
        let expected = matches!(
            err,
            DataError::WrongMagic {
                expected: IMAGES_MAGIC,
                found: LABELS_MAGIC,
                ..
            }
        );
        assert!(expected, "{err}");
        assert_names(&err, "images");
    }
}

#[test]
fn a_truncated_file_is_rejected_raw_and_compressed() {
    let dir = temp_dir("truncated");
    let full = idx_images(3, 4, 4);
    for gz in [false, true] {
        // Cut inside the pixels: the header's counts promise more than is there.
        let path = write_file(&dir, "images", &full[..full.len() - 1], gz);
        let err = read_idx_images(&path).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    expected: 64,
                    found: 63,
                    ..
                }
            ),
            "{err}"
        );
        assert_names(&err, "images");

        // Cut inside the header.
        let path = write_file(&dir, "images", &full[..10], gz);
        let err = read_idx_images(&path).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    expected: 16,
                    found: 10,
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn counts_that_disagree_with_the_length_are_rejected() {
    let dir = temp_dir("length");
    let mut bytes = idx_labels(&[1, 2, 3]);
    bytes.push(4);
    for gz in [false, true] {
        let path = write_file(&dir, "labels", &bytes, gz);
        let err = read_idx_labels(&path).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::LengthMismatch {
                    expected: 11,
                    found: 12,
                    ..
                }
            ),
            "{err}"
        );
        assert_names(&err, "labels");
    }
}

#[test]
fn images_of_the_wrong_size_are_rejected() {
    let dir = temp_dir("size");
    write_idx_dir(&dir, 4, 5, true);
    let err = load_mnist(&dir).unwrap_err();
    let expected = matches!(
        err,
        DataError::WrongImageSize {
            expected: (28, 28),
            found: (4, 5),
            ..
        }
    );
    assert!(expected, "{err}");
    assert_names(&err, "train-images-idx3-ubyte.gz");
}

#[test]
fn an_empty_split_is_rejected() {
    let dir = temp_dir("empty");
    write_idx_dir(&dir, 2, 2, false);
    write_file(&dir, TEST_IMAGES, &idx_images(0, 2, 2), false);
    write_file(&dir, TEST_LABELS, &idx_labels(&[]), true);
    let err = load_idx_dir(&dir, 2, 2, 10).unwrap_err();
    assert!(
        matches!(err, DataError::EmptySplit { split: "test", .. }),
        "{err}"
    );
    assert_names(&err, "t10k-images-idx3-ubyte");

    // Four digit records: every one of them is a training record (the fifth would be test).
    let err = parse_digits(&[0; 4 * 65]).unwrap_err();
    assert!(
        matches!(err, DataError::EmptySplit { split: "test", .. }),
        "{err}"
    );
}

#[test]
fn a_label_out_of_range_is_rejected() {
    let dir = temp_dir("label");
    write_idx_dir(&dir, 2, 2, false);
    write_file(
        &dir,
        TRAIN_LABELS,
        &idx_labels(&[0, 1, 2, 10, 4, 5, 6]),
        false,
    );
    let err = load_idx_dir(&dir, 2, 2, 10).unwrap_err();
    let expected = matches!(
        err,
        DataError::LabelOutOfRange {
            index: 3,
            label: 10,
            classes: 10,
            ..
        }
    );
    assert!(expected, "{err}");
    assert_names(&err, "train-labels-idx1-ubyte");

    let mut records = vec![0_u8; 5 * 65];
    records[2 * 65 + 64] = 11;
    let err = parse_digits(&records).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 2,
                label: 11,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = temp_dir("count");
    write_idx_dir(&dir, 2, 2, true);
    write_file(&dir, TRAIN_LABELS, &idx_labels(&[0, 1, 2, 3, 4, 5]), true);
    let err = load_idx_dir(&dir, 2, 2, 10).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                images: 7,
                labels: 6,
                ..
            }
        ),
        "{err}"
    );
    assert_names(&err, "train-images-idx3-ubyte.gz");
    assert_names(&err, "train-labels-idx1-ubyte.gz");
}

#[test]
fn digit_records_are_checked() {
    let err = parse_digits(&[0; 5 * 65 + 1]).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LengthMismatch {
                expected: 325,
                found: 326,
                ..
            }
        ),
        "{err}"
    );
    assert_names(&err, "digits_u8_1797x65.bin");

    let mut records = vec![0_u8; 5 * 65];
    records[65 + 3] = 17;
    let err = parse_digits(&records).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::PixelOutOfRange {
                index: 1,
                value: 17,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn rows_of_the_wrong_width_are_an_error() {
    let digits = load_digits().unwrap();
    assert_eq!(digits.train().rows::<64>().unwrap().len(), 1438);
    let err = digits.train().rows::<63>().unwrap_err();
    assert!(
        matches!(
            err,
            DataError::WidthMismatch {
                width: 64,
                requested: 63,
                ..
            }
        ),
        "{err}"
    );
    assert!(digits.train().rows::<0>().is_err());
}

#[test]
fn a_threshold_outside_the_unit_interval_is_rejected() {
    let digits = load_digits().unwrap();
    for t in [f32::NAN, -0.5, 1.0] {
        let err = digits.binarized(Binarization::Threshold(t), 0).unwrap_err();
        assert!(
            matches!(err, DataError::InvalidThreshold { .. }),
            "{t}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A small valid directory, raw and compressed mixed.

#[test]
fn a_valid_directory_loads_raw_and_compressed_files_alike() {
    let dir = temp_dir("valid");
    write_idx_dir(&dir, 3, 2, false);
    write_file(&dir, TEST_IMAGES, &idx_images(3, 3, 2), true);
    let data = load_idx_dir(&dir, 3, 2, 10).unwrap();
    assert_eq!((data.train().len(), data.test().len()), (7, 3));
    assert_eq!(data.train().labels(), &[0, 1, 2, 3, 4, 5, 6]);
    // File pixel k is k % 251, scaled by 1/255.
    let image = data.train().image(6).unwrap();
    assert_eq!(image[0], 36.0 / 255.0);
    assert_eq!(data.test().image(2).unwrap()[5], 17.0 / 255.0);
    let _ = fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// The built-in digits.

/// The label counts of data/README.md, over all 1797 records.
const DIGIT_LABEL_COUNTS: [usize; 10] = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180];

fn label_counts(labels: impl IntoIterator<Item = u8>) -> [usize; 10] {
    let mut counts = [0; 10];
    for label in labels {
        counts[usize::from(label)] += 1;
    }
    counts
}

#[test]
fn the_digits_load_with_the_documented_counts() {
    let digits = load_digits().unwrap();
    let (train, test) = (digits.train(), digits.test());
    assert_eq!((train.len(), test.len()), (1438, 359));
    assert_eq!(train.len() + test.len(), 1797);
    assert_eq!((train.height(), train.width()), (8, 8));
    let all = train.labels().iter().chain(test.labels()).copied();
    assert_eq!(label_counts(all), DIGIT_LABEL_COUNTS);
    assert!(train
        .pixels()
        .iter()
        .chain(test.pixels())
        .all(|p| (0.0..=1.0).contains(p)));
    assert!(digits.binarization().is_none());
}

/// The split read independently from the file on disk: record i is test when i % 5 == 4.
#[test]
fn the_digits_split_is_every_fifth_record() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/data/digits_u8_1797x65.bin");
    let raw = fs::read(path).unwrap();
    let digits = load_digits().unwrap();
    let (mut train, mut test) = (0, 0);
    for (i, record) in raw.chunks_exact(65).enumerate() {
        let (split, index) = if i % 5 == 4 {
            test += 1;
            (digits.test(), test - 1)
        } else {
            train += 1;
            (digits.train(), train - 1)
        };
        let expected: Vec<f32> = record[..64].iter().map(|&b| f32::from(b) / 16.0).collect();
        assert_eq!(split.image(index).unwrap(), &expected[..], "record {i}");
        assert_eq!(split.labels()[index], record[64], "record {i}");
    }
}

#[test]
fn the_test_split_hashes_differently_from_the_training_split() {
    let digits = load_digits().unwrap();
    assert_ne!(digits.train().content_hash(), digits.test().content_hash());
    assert_eq!(
        digits.test().content_hash(),
        load_digits().unwrap().test().content_hash()
    );
    let task = digits
        .binarized(Binarization::default(), 0)
        .unwrap()
        .prediction_task();
    assert_ne!(task.train().content_hash(), task.test().content_hash());
}

// ---------------------------------------------------------------------------------------------
// Binarization.

fn all_pixels(data: &DataSet) -> impl Iterator<Item = f32> + '_ {
    data.train()
        .pixels()
        .iter()
        .chain(data.test().pixels())
        .copied()
}

#[test]
fn every_binarization_gives_only_zeros_and_ones() {
    let digits = load_digits().unwrap();
    let schemes = [
        Binarization::default(),
        Binarization::Threshold(0.0),
        Binarization::FixedDraw { seed: 3 },
        Binarization::Dynamic { seed: 3 },
    ];
    for scheme in schemes {
        for epoch in [0, 1, 1000] {
            let binary = digits.binarized(scheme, epoch).unwrap();
            assert!(
                all_pixels(&binary).all(|p| p == 0.0 || p == 1.0),
                "{scheme}"
            );
            // Neither all zeros nor all ones: about a third of digit pixels carry ink.
            let ones = all_pixels(&binary).filter(|&p| p == 1.0).count();
            let total = 1797 * 64;
            assert!(
                ones > total / 5 && ones < total * 3 / 5,
                "{scheme}: {ones} of {total}"
            );
            assert_eq!(binary.binarization(), Some(scheme));
            assert!(binary.describe().contains(&scheme.to_string()));
        }
    }
}

#[test]
fn the_threshold_is_strictly_greater_than() {
    let digits = load_digits().unwrap();
    let binary = digits.binarized(Binarization::Threshold(0.5), 0).unwrap();
    for (x, b) in all_pixels(&digits).zip(all_pixels(&binary)) {
        assert_eq!(b, if x > 0.5 { 1.0 } else { 0.0 }, "intensity {x}");
    }
}

#[test]
fn a_fixed_draw_is_reproducible_and_depends_on_the_seed() {
    let digits = load_digits().unwrap();
    let a = digits
        .binarized(Binarization::FixedDraw { seed: 11 }, 0)
        .unwrap();
    let b = digits
        .binarized(Binarization::FixedDraw { seed: 11 }, 7)
        .unwrap();
    let c = digits
        .binarized(Binarization::FixedDraw { seed: 12 }, 0)
        .unwrap();
    assert_eq!(a, b, "a fixed draw must not depend on the epoch");
    assert_ne!(a.train().pixels(), c.train().pixels());
    assert_ne!(a.test().pixels(), c.test().pixels());
    // Pixels of intensity 0 and 1 are never redrawn.
    for (x, p) in all_pixels(&digits).zip(all_pixels(&a)) {
        if x == 0.0 || x == 1.0 {
            assert_eq!(p, x);
        }
    }
}

#[test]
fn a_dynamic_draw_changes_with_the_epoch_only() {
    let digits = load_digits().unwrap();
    let scheme = Binarization::Dynamic { seed: 11 };
    let epoch0 = digits.binarized(scheme, 0).unwrap();
    let again = digits.binarized(scheme, 0).unwrap();
    let epoch1 = digits.binarized(scheme, 1).unwrap();
    assert_eq!(epoch0, again);
    assert_ne!(epoch0.train().pixels(), epoch1.train().pixels());
    assert_ne!(epoch0.test().pixels(), epoch1.test().pixels());
    assert!(scheme.is_per_epoch());
}

/// Draws match intensities: the mean binary pixel over the training split is within 5 standard
/// errors of the mean intensity (the standard error is at most 0.5 / sqrt(92 032) = 0.0017).
#[test]
fn draws_preserve_the_mean_intensity() {
    let digits = load_digits().unwrap();
    let n = digits.train().pixels().len() as f64;
    let mean = |p: &[f32]| p.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let intensity = mean(digits.train().pixels());
    for scheme in [
        Binarization::FixedDraw { seed: 1 },
        Binarization::Dynamic { seed: 1 },
    ] {
        let binary = mean(digits.binarized(scheme, 4).unwrap().train().pixels());
        assert!(
            (binary - intensity).abs() < 5.0 * 0.0017,
            "{scheme}: {binary} vs {intensity}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The top-to-bottom task.

#[test]
fn digits_halves_are_32_and_32() {
    let digits = load_digits()
        .unwrap()
        .binarized(Binarization::FixedDraw { seed: 2 }, 0)
        .unwrap();
    let task = digits.prediction_task();
    assert_eq!(
        task.binarization(),
        Some(Binarization::FixedDraw { seed: 2 })
    );
    let (train, test) = (task.train(), task.test());
    assert_eq!((train.input_width(), train.target_width()), (32, 32));
    assert_eq!((train.len(), test.len()), (1438, 359));
    let inputs = train.inputs::<32>().unwrap();
    let targets = train.targets::<32>().unwrap();
    for (i, (input, target)) in inputs.iter().zip(targets).enumerate() {
        let image = digits.train().image(i).unwrap();
        assert_eq!(&input[..], &image[..32]);
        assert_eq!(&target[..], &image[32..]);
    }
    assert!(train.inputs::<64>().is_err());
    assert!(test.targets::<31>().is_err());
}

// ---------------------------------------------------------------------------------------------
// The real MNIST files, when this checkout sits next to the shared data.

#[test]
fn mnist_loads_with_the_published_counts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist");
    if !dir.join("train-images-idx3-ubyte.gz").is_file() {
        println!("skipped: no MNIST files in {}", dir.display());
        return;
    }
    let mnist = load_mnist(&dir).unwrap();
    assert_eq!((mnist.train().len(), mnist.test().len()), (60_000, 10_000));
    assert_eq!((mnist.train().height(), mnist.train().width()), (28, 28));
    let counts = label_counts(mnist.train().labels().iter().copied());
    assert_eq!(
        counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_ne!(mnist.train().content_hash(), mnist.test().content_hash());

    // The published training pixel mean is 0.1307.
    let pixels = mnist.train().pixels();
    let mean = pixels.iter().map(|&x| f64::from(x)).sum::<f64>() / pixels.len() as f64;
    assert!((mean - 0.1307).abs() < 1e-3, "mean intensity {mean}");

    let task = mnist
        .binarized(Binarization::default(), 0)
        .unwrap()
        .prediction_task();
    assert_eq!(task.train().inputs::<392>().unwrap().len(), 60_000);
    assert_eq!(task.test().targets::<392>().unwrap().len(), 10_000);
}

/// Fashion-MNIST where Debian's `dataset-fashion-mnist` installs it: balanced classes, 6000 per
/// class in training and 1000 in test (Xiao, Rasul, Vollgraf 2017).
#[test]
fn fashion_mnist_loads_when_installed() {
    let dir = Path::new(muprop::data::FASHION_MNIST_DEBIAN_DIR);
    if !dir.is_dir() {
        println!("skipped: no Fashion-MNIST in {}", dir.display());
        return;
    }
    let fashion = load_mnist(dir).unwrap();
    assert_eq!(
        label_counts(fashion.train().labels().iter().copied()),
        [6000; 10]
    );
    assert_eq!(
        label_counts(fashion.test().labels().iter().copied()),
        [1000; 10]
    );
}

// ---------------------------------------------------------------------------------------------
// The parsers never panic.

/// A corruption of a valid file.
#[derive(Clone, Debug)]
enum Corruption {
    Truncate(usize),
    FlipBit(usize, u8),
    SetHeaderWord(usize, u32),
    Append(Vec<u8>),
}

fn corruption() -> impl Strategy<Value = Corruption> {
    prop_oneof![
        any::<usize>().prop_map(Corruption::Truncate),
        (any::<usize>(), 0..8_u8).prop_map(|(i, b)| Corruption::FlipBit(i, b)),
        (0..4_usize, any::<u32>()).prop_map(|(i, w)| Corruption::SetHeaderWord(i, w)),
        proptest::collection::vec(any::<u8>(), 1..8).prop_map(Corruption::Append),
    ]
}

fn corrupt(mut bytes: Vec<u8>, corruptions: &[Corruption]) -> Vec<u8> {
    for c in corruptions {
        match c {
            Corruption::Truncate(n) => bytes.truncate(n % (bytes.len() + 1)),
            Corruption::FlipBit(i, bit) if !bytes.is_empty() => {
                let i = i % bytes.len();
                bytes[i] ^= 1 << bit;
            }
            Corruption::SetHeaderWord(k, word) if bytes.len() >= 4 * (k + 1) => {
                bytes[4 * k..4 * (k + 1)].copy_from_slice(&word.to_be_bytes());
            }
            Corruption::Append(extra) => bytes.extend_from_slice(extra),
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn corrupted_images_never_panic(cs in proptest::collection::vec(corruption(), 1..4)) {
        let bytes = corrupt(idx_images(3, 5, 4), &cs);
        if let Ok(images) = parse_idx_images(&bytes) {
            let n = images.count() * images.rows() * images.cols();
            prop_assert_eq!(images.pixels().len(), n);
            prop_assert_eq!(bytes.len(), 16 + n);
        }
    }

    #[test]
    fn corrupted_labels_never_panic(cs in proptest::collection::vec(corruption(), 1..4)) {
        let bytes = corrupt(idx_labels(&[1, 2, 3, 4, 5]), &cs);
        if let Ok(labels) = parse_idx_labels(&bytes) {
            prop_assert_eq!(bytes.len(), 8 + labels.len());
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = parse_idx_images(&bytes);
        let _ = parse_idx_labels(&bytes);
        let _ = parse_digits(&bytes);
    }
}

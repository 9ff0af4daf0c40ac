//! A versioned binary file for any parameter set, and Rust source that puts weights in flash.
//!
//! # The format (version 1)
//!
//! All integers and floats are little-endian; `C` is the tensor count, `N` the scalar count.
//!
//! | bytes          | content                                                        |
//! | -------------- | -------------------------------------------------------------- |
//! | `0..4`         | magic `b"MUPW"`                                                |
//! | `4..8`         | format version, `u32` (= [`WEIGHTS_VERSION`])                  |
//! | `8..12`        | tensor count `C`, `u32`                                        |
//! | `12..12+4C`    | each tensor's length, `u32`: the shape signature                |
//! | next `4N`      | every scalar as `f32`, tensor by tensor in [`Tensors`] order   |
//! | last `4`       | CRC-32 (IEEE 802.3) of every byte before it, `u32`             |
//!
//! A reader checks, in this order, the length of the fixed header, the magic, the version, the
//! shape signature against the target's, the total length, the checksum and finally that every
//! value is finite; the target changes only after every check has passed. Weights are never
//! non-finite in a file this module writes, so a non-finite value means a forged file.
//!
//! The file holds the [`Tensors`] and nothing else: configuration outside them, such as a
//! variational SBN's signed coding ([`crate::VsbnLayer::use_signed_coding`]), is not written
//! and must be set again on the model the weights are read into.
//!
//! # Weights in flash
//!
//! [`weights_rust_source`] (feature `std`) turns a parameter set into Rust source: a `static`
//! array of every scalar written as `f32::from_bits(0x...)` (exact), its shape, and a loader
//! that calls [`load_flat`]. Firmware `include!`s the generated file, so trained weights live
//! in flash and move from host to device without hand copying.

use core::fmt;

use crate::Tensors;

/// The first four bytes of every weights file.
pub const WEIGHTS_MAGIC: [u8; 4] = *b"MUPW";

/// The format version this crate writes and reads.
pub const WEIGHTS_VERSION: u32 = 1;

/// Bytes before the shape signature: magic, version, tensor count.
const FIXED_HEADER: usize = 12;

/// Bytes of the trailing checksum.
const CHECKSUM_LEN: usize = 4;

/// Why weights could not be written or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightsError {
    /// The output buffer cannot hold the encoded file.
    BufferTooSmall {
        /// Bytes the file needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// The file does not start with [`WEIGHTS_MAGIC`].
    BadMagic,
    /// The file has a format version this crate does not read.
    UnsupportedVersion(u32),
    /// The file's shape signature differs from the target's.
    ShapeMismatch {
        /// The first tensor whose length differs, or the tensor count if the counts differ.
        tensor: usize,
        /// The target's length of that tensor (its tensor count if the counts differ).
        expected: usize,
        /// The file's length of that tensor (its tensor count if the counts differ).
        found: usize,
    },
    /// The file is shorter or longer than its header says.
    LengthMismatch {
        /// Bytes the header implies.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
    /// The checksum does not match the content: the file is corrupt.
    ChecksumMismatch {
        /// The checksum stored in the file.
        stored: u32,
        /// The checksum of the content.
        computed: u32,
    },
    /// A value is NaN or infinite.
    NonFinite {
        /// The tensor holding it.
        tensor: usize,
        /// Its index within the tensor.
        index: usize,
    },
    /// A tensor count or length does not fit the format's `u32` fields.
    TooLarge,
}

impl fmt::Display for WeightsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { needed, available } => {
                write!(
                    f,
                    "the buffer holds {available} bytes; the weights need {needed}"
                )
            }
            Self::BadMagic => write!(f, "not a muprop weights file (bad magic)"),
            Self::UnsupportedVersion(v) => write!(
                f,
                "weights format version {v} is not supported (this crate reads {WEIGHTS_VERSION})"
            ),
            Self::ShapeMismatch {
                tensor,
                expected,
                found,
            } => write!(
                f,
                "shape mismatch at tensor {tensor}: the network has {expected}, the file {found}"
            ),
            Self::LengthMismatch { expected, found } => {
                write!(
                    f,
                    "the file has {found} bytes; its header implies {expected}"
                )
            }
            Self::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch: stored {stored:#010x}, content has {computed:#010x}"
            ),
            Self::NonFinite { tensor, index } => {
                write!(f, "non-finite value at tensor {tensor}, index {index}")
            }
            Self::TooLarge => write!(f, "a tensor count or length exceeds u32"),
        }
    }
}

impl core::error::Error for WeightsError {}

/// The CRC-32 of `bytes` (IEEE 802.3: reflected polynomial `0xEDB88320`, initial value and
/// final XOR `0xFFFFFFFF`), the checksum of the weights format.
///
/// # Cost
///
/// Bitwise, no table: 8 shift-and-mask rounds per byte, and no flash spent on a table.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// The length in bytes of the encoded file of `p`.
pub fn encoded_len<P: Tensors>(p: &P) -> usize {
    FIXED_HEADER + 4 * P::COUNT + 4 * p.scalar_count() + CHECKSUM_LEN
}

/// Encodes `p` into the front of `out` and returns the number of bytes written.
///
/// # Errors
///
/// [`WeightsError::BufferTooSmall`] if `out` is shorter than [`encoded_len`],
/// [`WeightsError::NonFinite`] for a NaN or infinite parameter, [`WeightsError::TooLarge`] if a
/// count does not fit `u32`. Nothing is written on error.
pub fn write_weights<P: Tensors>(p: &P, out: &mut [u8]) -> Result<usize, WeightsError> {
    let needed = encoded_len(p);
    if out.len() < needed {
        return Err(WeightsError::BufferTooSmall {
            needed,
            available: out.len(),
        });
    }
    check_finite(P::COUNT, |k| p.tensor(k))?;
    let count = to_u32(P::COUNT)?;
    for k in 0..P::COUNT {
        to_u32(p.tensor(k).len())?;
    }

    // Header and shape signature, then the payload, then the checksum of all of it.
    let mut w = Writer { out, at: 0 };
    w.put(&WEIGHTS_MAGIC);
    w.put(&WEIGHTS_VERSION.to_le_bytes());
    w.put(&count.to_le_bytes());
    for k in 0..P::COUNT {
        w.put(&to_u32(p.tensor(k).len())?.to_le_bytes());
    }
    for k in 0..P::COUNT {
        for v in p.tensor(k) {
            w.put(&v.to_le_bytes());
        }
    }
    let crc = crc32(w.out.get(..w.at).unwrap_or(&[]));
    w.put(&crc.to_le_bytes());
    Ok(w.at)
}

/// Decodes a file written by [`write_weights`] into `p`.
///
/// # Errors
///
/// In the order checked: [`WeightsError::LengthMismatch`] if the file is too short for its
/// header, [`WeightsError::BadMagic`], [`WeightsError::UnsupportedVersion`],
/// [`WeightsError::ShapeMismatch`] if the tensor count or a tensor length differs from `p`'s,
/// [`WeightsError::LengthMismatch`] if the total length differs from what the header implies,
/// [`WeightsError::ChecksumMismatch`], [`WeightsError::NonFinite`]. On any error `p` is left
/// unchanged; no input makes this function panic.
pub fn read_weights<P: Tensors>(bytes: &[u8], p: &mut P) -> Result<(), WeightsError> {
    let payload_at = check_header(bytes, p)?;

    // The payload, checked whole before anything is copied.
    let expected = encoded_len(p);
    if bytes.len() != expected {
        return Err(WeightsError::LengthMismatch {
            expected,
            found: bytes.len(),
        });
    }
    let (content, tail) = bytes.split_at(expected - CHECKSUM_LEN);
    let stored = read_u32(tail, 0).unwrap_or(0);
    let computed = crc32(content);
    if stored != computed {
        return Err(WeightsError::ChecksumMismatch { stored, computed });
    }
    let payload = content.get(payload_at..).unwrap_or(&[]);
    let mut at = 0;
    for k in 0..P::COUNT {
        for index in 0..p.tensor(k).len() {
            if !f32_at(payload, at + index).is_finite() {
                return Err(WeightsError::NonFinite { tensor: k, index });
            }
        }
        at += p.tensor(k).len();
    }

    // Every check passed: copy.
    let mut at = 0;
    for k in 0..P::COUNT {
        for v in p.tensor_mut(k).iter_mut() {
            *v = f32_at(payload, at);
            at += 1;
        }
    }
    Ok(())
}

/// Copies a flat array of every scalar (tensor by tensor, with the tensor lengths `shape`)
/// into `p`: the loader of the source [`weights_rust_source`] generates.
///
/// # Errors
///
/// [`WeightsError::ShapeMismatch`] if `shape` is not `p`'s shape,
/// [`WeightsError::LengthMismatch`] if `flat` does not hold `shape`'s total (counted in
/// scalars), [`WeightsError::NonFinite`] for a NaN or infinite value. On error `p` is left
/// unchanged.
pub fn load_flat<P: Tensors>(shape: &[usize], flat: &[f32], p: &mut P) -> Result<(), WeightsError> {
    check_shape(P::COUNT, shape.len(), |k| shape.get(k).copied(), p)?;
    let expected = p.scalar_count();
    if flat.len() != expected {
        return Err(WeightsError::LengthMismatch {
            expected,
            found: flat.len(),
        });
    }
    let mut rest = flat;
    check_finite(P::COUNT, |k| {
        let (head, tail) = rest.split_at(shape.get(k).copied().unwrap_or(0).min(rest.len()));
        rest = tail;
        head
    })?;

    let mut rest = flat;
    for k in 0..P::COUNT {
        let t = p.tensor_mut(k);
        let (head, tail) = rest.split_at(t.len().min(rest.len()));
        t.copy_from_slice(head);
        rest = tail;
    }
    Ok(())
}

/// Rust source that holds `p` in flash: `pub static {name}: [f32; N]` (every scalar as
/// `f32::from_bits(0x...)`, so the values are exact), `pub static {name}_SHAPE: [usize; C]`,
/// and `pub fn load_{name in lower case}<P: muprop::Tensors>(p: &mut P)` calling
/// [`load_flat`]. `name` must be a Rust identifier in upper snake case.
///
/// The layout is the one rustfmt gives (one element per line), so a generated file passes
/// `cargo fmt --check`.
///
/// # Errors
///
/// [`WeightsError::NonFinite`] for a NaN or infinite parameter.
#[cfg(feature = "std")]
pub fn weights_rust_source<P: Tensors>(
    p: &P,
    name: &str,
) -> Result<std::string::String, WeightsError> {
    let mut file = std::vec![0u8; encoded_len(p)];
    let len = write_weights(p, &mut file)?;
    let crc = read_u32(&file, len - CHECKSUM_LEN).unwrap_or(0);

    // One element per line, as rustfmt lays out a long array.
    let count = P::COUNT;
    let n = p.scalar_count();
    let lower = name.to_ascii_lowercase();
    let lengths: std::vec::Vec<_> = (0..count)
        .map(|k| std::format!("{}", p.tensor(k).len()))
        .collect();
    let shape = lengths.join(", ");
    let values: std::string::String = (0..count)
        .flat_map(|k| p.tensor(k).iter())
        .map(|v| std::format!("    f32::from_bits({:#010x}),\n", v.to_bits()))
        .collect();
    Ok(std::format!(
        "// @generated by muprop::weights_rust_source: do not edit by hand.
// {n} scalars in {count} tensors; CRC-32 of the weights file {crc:#010x}.

/// Tensor lengths of [`{name}`], in order.
pub static {name}_SHAPE: [usize; {count}] = [{shape}];

/// Every parameter, tensor by tensor, as exact bit patterns.
pub static {name}: [f32; {n}] = [
{values}];

/// Copies [`{name}`] into `p`.
///
/// # Errors
///
/// Those of `muprop::load_flat`: a different shape or a non-finite value.
pub fn load_{lower}<P: muprop::Tensors>(p: &mut P) -> Result<(), muprop::WeightsError> {{
    muprop::load_flat(&{name}_SHAPE, &{name}, p)
}}
"
    ))
}

/// Checks the fixed header and the shape signature; returns where the payload starts.
fn check_header<P: Tensors>(bytes: &[u8], p: &P) -> Result<usize, WeightsError> {
    let too_short = |expected| WeightsError::LengthMismatch {
        expected,
        found: bytes.len(),
    };
    if bytes.len() < FIXED_HEADER {
        return Err(too_short(FIXED_HEADER));
    }
    if bytes.get(..4) != Some(&WEIGHTS_MAGIC[..]) {
        return Err(WeightsError::BadMagic);
    }
    let version = read_u32(bytes, 4).unwrap_or(0);
    if version != WEIGHTS_VERSION {
        return Err(WeightsError::UnsupportedVersion(version));
    }
    let count = read_u32(bytes, 8).unwrap_or(0) as usize;
    if count != P::COUNT {
        return Err(WeightsError::ShapeMismatch {
            tensor: P::COUNT,
            expected: P::COUNT,
            found: count,
        });
    }
    let payload_at = FIXED_HEADER + 4 * count;
    if bytes.len() < payload_at {
        return Err(too_short(encoded_len(p)));
    }
    let length = |k: usize| read_u32(bytes, FIXED_HEADER + 4 * k).map(|v| v as usize);
    check_shape(P::COUNT, count, length, p)?;
    Ok(payload_at)
}

/// Compares a shape signature (`count` tensors, lengths from `length`) with `p`'s.
fn check_shape<P: Tensors>(
    tensors: usize,
    count: usize,
    length: impl Fn(usize) -> Option<usize>,
    p: &P,
) -> Result<(), WeightsError> {
    if count != tensors {
        return Err(WeightsError::ShapeMismatch {
            tensor: tensors,
            expected: tensors,
            found: count,
        });
    }
    for k in 0..tensors {
        let expected = p.tensor(k).len();
        let found = length(k).unwrap_or(usize::MAX);
        if found != expected {
            return Err(WeightsError::ShapeMismatch {
                tensor: k,
                expected,
                found,
            });
        }
    }
    Ok(())
}

/// The first non-finite value among `count` tensors given by `tensor`, as an error.
fn check_finite<'a>(
    count: usize,
    mut tensor: impl FnMut(usize) -> &'a [f32],
) -> Result<(), WeightsError> {
    for k in 0..count {
        if let Some(index) = tensor(k).iter().position(|v| !v.is_finite()) {
            return Err(WeightsError::NonFinite { tensor: k, index });
        }
    }
    Ok(())
}

/// `n` as a format field.
fn to_u32(n: usize) -> Result<u32, WeightsError> {
    u32::try_from(n).map_err(|_| WeightsError::TooLarge)
}

/// The little-endian `u32` at byte `at`, if the slice holds it.
fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// The `index`th little-endian `f32` of `payload` (NaN if out of range, which the caller's
/// length check rules out).
fn f32_at(payload: &[u8], index: usize) -> f32 {
    read_u32(payload, index.saturating_mul(4)).map_or(f32::NAN, f32::from_bits)
}

/// Appends bytes to a buffer whose length was checked beforehand.
struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.at..self.at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.at += bytes.len();
    }
}

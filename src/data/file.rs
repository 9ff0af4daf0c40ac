//! Reading a data file that may be gzip-compressed, with the name and the content agreeing.
//!
//! A file whose name ends in `.gz` must hold gzip data (magic bytes `1f 8b`) and is
//! decompressed; any other file must not hold gzip data and is returned as read. A
//! disagreement is an error naming the file: it usually means a file was renamed, or
//! decompressed without dropping its suffix.

use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::vec::Vec;

use flate2::read::MultiGzDecoder;

use super::error::DataError;

/// The two bytes every gzip member starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `bytes` start with the gzip magic bytes.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Whether the file name ends in `.gz`.
pub fn has_gz_name(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "gz")
}

/// The bytes of the file at `path`, decompressed when its name ends in `.gz`.
///
/// # Errors
///
/// [`DataError::Missing`] when there is no such file, [`DataError::Io`] when it cannot be
/// read, [`DataError::ExpectedGzip`] for a `.gz` name over content that is not gzip,
/// [`DataError::UnexpectedGzip`] for gzip content under another name, and
/// [`DataError::Decompress`] for a corrupt or cut-short gzip stream.
///
/// # Cost
///
/// Holds the whole file, and its decompressed content, in memory.
pub fn read_data_file(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = fs::read(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => DataError::Missing {
            file: path.to_path_buf(),
        },
        _ => DataError::Io {
            file: path.to_path_buf(),
            source,
        },
    })?;

    match (has_gz_name(path), is_gzip(&bytes)) {
        (false, false) => Ok(bytes),
        (false, true) => Err(DataError::UnexpectedGzip {
            file: path.to_path_buf(),
        }),
        (true, false) => Err(DataError::ExpectedGzip {
            file: path.to_path_buf(),
        }),
        (true, true) => gunzip(&bytes).map_err(|source| DataError::Decompress {
            file: path.to_path_buf(),
            source,
        }),
    }
}

/// Decompresses every gzip member of `bytes`.
fn gunzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

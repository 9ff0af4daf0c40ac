//! Turns fuzzer input into a file to read: either the raw bytes (first byte 0), or a valid
//! file corrupted by the input (its bytes XOR-ed into the file, cycling, then truncated to a
//! length chosen by the first byte), so the fuzzer starts deep inside the format.

/// The file the reader under test gets for fuzzer input `data`.
pub fn file_from(data: &[u8], valid: &[u8]) -> Vec<u8> {
    let Some((&mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    if mode == 0 || valid.is_empty() {
        return rest.to_vec();
    }
    let mut file = valid.to_vec();
    for (i, b) in rest.iter().enumerate() {
        let at = i % file.len();
        file[at] ^= b;
    }
    if mode < 128 {
        let keep = file.len() * usize::from(mode) / 128;
        file.truncate(keep);
    }
    file
}

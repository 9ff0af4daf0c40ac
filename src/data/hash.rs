//! A stable 64-bit content hash (FNV-1a), to tell splits and data sets apart.
//!
//! FNV-1a (Fowler, Noll, Vo): for each byte, `h = (h ^ byte) * 0x100000001b3`, starting from
//! `0xcbf29ce484222325`. Not cryptographic; stable across platforms and releases, so a hash
//! can be written next to a result and compared later.

/// The FNV-1a 64-bit offset basis.
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// The FNV-1a 64-bit prime.
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// An incremental FNV-1a 64-bit hasher.
#[derive(Clone, Copy, Debug)]
pub struct Fnv1a {
    state: u64,
}

impl Fnv1a {
    /// A hasher that has seen no bytes.
    pub const fn new() -> Self {
        Self {
            state: OFFSET_BASIS,
        }
    }

    /// Feeds `bytes` into the hash.
    pub fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.state = (self.state ^ u64::from(byte)).wrapping_mul(PRIME);
        }
    }

    /// The hash of every byte fed so far.
    pub const fn finish(&self) -> u64 {
        self.state
    }
}

impl Default for Fnv1a {
    fn default() -> Self {
        Self::new()
    }
}

/// The FNV-1a 64-bit hash of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hasher = Fnv1a::new();
    hasher.update(bytes);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from the FNV authors' test suite (isthe.com/chongo/tech/comp/fnv).
    #[test]
    fn matches_published_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn incremental_equals_one_shot() {
        let mut hasher = Fnv1a::new();
        hasher.update(b"foo");
        hasher.update(b"bar");
        assert_eq!(hasher.finish(), fnv1a64(b"foobar"));
    }
}

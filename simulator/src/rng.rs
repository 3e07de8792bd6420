//! Seeded randomness: one root seed, one independent ChaCha stream per named component.
//!
//! A component's stream depends only on the root seed and its name, so turning a fault on or
//! changing the workload does not reshuffle the network's dice (DESIGN.md, "one seed").

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The random stream of one component.
pub type Stream = ChaCha8Rng;

/// The stream named `name` under `root`. The name picks ChaCha's stream number, so streams of one
/// root never overlap.
#[must_use]
pub fn stream(root: u64, name: &str) -> Stream {
    let mut rng = ChaCha8Rng::seed_from_u64(root);
    rng.set_stream(fnv1a(name.as_bytes()));
    rng
}

/// FNV-1a, 64 bits: a stable hash of a component's name.
#[must_use]
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// True with probability `ppm` in a million. Integer ratios keep results identical everywhere.
#[inline]
pub fn chance(rng: &mut Stream, ppm: u32) -> bool {
    ppm > 0 && rng.gen_range(0..1_000_000) < ppm
}

/// A uniform draw from `[min, max]`, tolerating `min == max`.
#[inline]
pub fn between(rng: &mut Stream, min: u64, max: u64) -> u64 {
    if max <= min {
        min
    } else {
        rng.gen_range(min..=max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_depends_only_on_the_root_and_the_name() {
        let a: Vec<u64> = (0..4).map(|_| stream(7, "network").gen()).collect();
        let mut s = stream(7, "network");
        let b: Vec<u64> = (0..4).map(|_| s.gen()).collect();
        let mut other_name = stream(7, "disk");
        let mut other_root = stream(8, "network");
        assert_eq!(a[0], b[0]);
        assert_ne!(b[0], other_name.gen::<u64>());
        assert_ne!(b[0], other_root.gen::<u64>());
    }

    #[test]
    fn chance_respects_the_extremes() {
        let mut s = stream(1, "x");
        assert!((0..1000).all(|_| !chance(&mut s, 0)));
        assert!((0..1000).all(|_| chance(&mut s, 1_000_000)));
        assert_eq!(between(&mut s, 5, 5), 5);
    }
}

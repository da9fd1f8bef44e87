//! The synthetic CPU load behind `--cpu-work`: the article's "WORK" knob.
//!
//! It lets a user push the bottleneck onto the CPU on purpose and watch which modes scale with
//! cores. The loop is a dependent chain of multiply-xorshift steps whose result feeds
//! [`std::hint::black_box`], so the optimiser can neither skip it nor fold it into a formula.

use std::hint::black_box;

/// Runs `rounds` rounds of integer mixing seeded by `seed` and returns the final state.
pub fn burn(rounds: u64, seed: u64) -> u64 {
    let mut x = black_box(seed) | 1;
    for i in 0..black_box(rounds) {
        x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(i);
        x ^= x >> 29;
    }
    black_box(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_on_rounds_and_seed() {
        assert_ne!(burn(1000, 1), burn(1001, 1));
        assert_ne!(burn(1000, 1), burn(1000, 2));
        assert_eq!(burn(1000, 7), burn(1000, 7));
        assert_eq!(burn(0, 6), 7);
    }
}

//! How sure a ratio of two modes' costs is: paired bootstrap intervals for `bench exploration`.
//!
//! A hunt's cost (events until the first catch) is close to geometric, with a long tail, so a
//! hundred trials leave a ratio of means uncertain by a tenth or more, and a ratio near 1 says
//! little on its own. Trial `t` of both modes starts at the same root seed, so the trials are
//! resampled in pairs: each resample draws `n` trial indexes with replacement and takes the
//! statistic of plain seeds' costs over guided exploration's at those indexes. The interval is
//! the 2.5th and 97.5th percentiles of [`RESAMPLES`] such ratios.
//!
//! The resampling is seeded with a constant: the same costs always give the same interval, as
//! everything a bench counts must.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Resamples per interval: enough that the percentiles move by less than the printed digits.
pub const RESAMPLES: usize = 4000;

/// The statistic whose ratio is taken.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stat {
    Mean,
    /// The upper median (the value at index `n / 2` once sorted), as the bench's medians are.
    Median,
}

impl Stat {
    /// The statistic of `values` (0 for none).
    #[must_use]
    pub fn of(self, values: &mut [u64]) -> f64 {
        if values.is_empty() {
            return 0.0;
        }
        match self {
            Stat::Mean => values.iter().map(|v| *v as f64).sum::<f64>() / values.len() as f64,
            Stat::Median => {
                values.sort_unstable();
                values[values.len() / 2] as f64
            }
        }
    }
}

/// A 95% interval for `stat(plain) / stat(guided)`, resampling the pairs `(plain[i],
/// guided[i])`; None if the two differ in length, are empty, or a resample's guided statistic
/// is 0 (no work: nothing to divide by).
#[must_use]
pub fn ratio_interval(plain: &[u64], guided: &[u64], stat: Stat) -> Option<(f64, f64)> {
    let n = plain.len();
    if n == 0 || guided.len() != n {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0x6f6f_7473_7472_6170);
    let mut ratios = Vec::with_capacity(RESAMPLES);
    let (mut p, mut g) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..RESAMPLES {
        p.clear();
        g.clear();
        for _ in 0..n {
            let i = rng.gen_range(0..n);
            p.push(plain[i]);
            g.push(guided[i]);
        }
        let below = stat.of(&mut g);
        if below <= 0.0 {
            return None;
        }
        ratios.push(stat.of(&mut p) / below);
    }
    ratios.sort_unstable_by(f64::total_cmp);
    let at = |q: f64| ratios[((RESAMPLES as f64 * q) as usize).min(RESAMPLES - 1)];
    Some((at(0.025), at(0.975)))
}

/// `(low, high)` as the bench prints it: `0.98-1.46`, or `-` for none.
#[must_use]
pub fn show(interval: Option<(f64, f64)>) -> String {
    interval.map_or_else(|| "-".to_string(), |(lo, hi)| format!("{lo:.2}-{hi:.2}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Costs spread like hunts': geometric-ish, from a fixed stream.
    fn costs(seed: u64, n: usize, scale: f64) -> Vec<u64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| (-(1.0 - rng.gen::<f64>()).ln() * scale) as u64 + 1).collect()
    }

    #[test]
    fn equal_costs_give_an_interval_of_exactly_one() {
        let c = costs(1, 50, 1000.0);
        for stat in [Stat::Mean, Stat::Median] {
            assert_eq!(ratio_interval(&c, &c, stat), Some((1.0, 1.0)));
        }
    }

    #[test]
    fn guided_costing_half_of_every_trial_gives_two() {
        let plain = costs(2, 60, 1000.0);
        let guided: Vec<u64> = plain.iter().map(|v| v * 10).collect();
        let plain: Vec<u64> = plain.iter().map(|v| v * 20).collect();
        for stat in [Stat::Mean, Stat::Median] {
            let (lo, hi) = ratio_interval(&plain, &guided, stat).expect("same lengths");
            assert!((lo - 2.0).abs() < 1e-9 && (hi - 2.0).abs() < 1e-9, "{stat:?}: {lo}..{hi}");
        }
    }

    #[test]
    fn the_interval_brackets_the_estimate_narrows_with_trials_and_separates_a_real_gap() {
        // Independent draws, guided three times cheaper on average.
        let few = (costs(3, 30, 3000.0), costs(4, 30, 1000.0));
        let many = (costs(3, 600, 3000.0), costs(4, 600, 1000.0));
        let (lo, hi) = ratio_interval(&few.0, &few.1, Stat::Mean).expect("same lengths");
        let estimate = Stat::Mean.of(&mut few.0.clone()) / Stat::Mean.of(&mut few.1.clone());
        assert!(lo < estimate && estimate < hi, "{lo} < {estimate} < {hi}");
        let (lo_many, hi_many) = ratio_interval(&many.0, &many.1, Stat::Mean).expect("same lengths");
        assert!(hi_many - lo_many < (hi - lo) / 2.0, "600 trials: {lo_many}..{hi_many}, 30: {lo}..{hi}");
        assert!(lo_many > 2.0 && hi_many < 4.5, "{lo_many}..{hi_many}");
        // The same draws both ways: an interval around 1 that does not exclude it.
        let same = costs(5, 600, 1000.0);
        let other = costs(6, 600, 1000.0);
        let (lo, hi) = ratio_interval(&same, &other, Stat::Mean).expect("same lengths");
        assert!(lo < 1.0 && 1.0 < hi, "{lo}..{hi}");
    }

    #[test]
    fn the_interval_is_the_same_every_time_and_refuses_what_it_cannot_divide() {
        let (p, g) = (costs(7, 40, 500.0), costs(8, 40, 400.0));
        assert_eq!(ratio_interval(&p, &g, Stat::Median), ratio_interval(&p, &g, Stat::Median));
        assert_eq!(ratio_interval(&p, &g[..39], Stat::Mean), None);
        assert_eq!(ratio_interval(&[], &[], Stat::Mean), None);
        assert_eq!(ratio_interval(&[5, 6], &[0, 0], Stat::Mean), None);
        assert_eq!(show(None), "-");
        assert_eq!(show(Some((0.984, 1.456))), "0.98-1.46");
    }
}

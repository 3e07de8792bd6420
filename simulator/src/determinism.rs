//! Finding where two runs of one seed part ways.

use crate::run::{Outcome, RunOptions};

/// The first event after which the two runs' rolling hashes differ (or one run ended early).
#[must_use]
pub fn first_divergence(a: &[u64], b: &[u64]) -> Option<usize> {
    let common = a.len().min(b.len());
    (0..common).find(|&i| a[i] != b[i]).or((a.len() != b.len()).then_some(common))
}

/// Reruns the seed twice with full traces and shows event `index` of each.
#[must_use]
pub fn describe_divergence(run: impl Fn(&RunOptions) -> Outcome, index: usize) -> String {
    let options = RunOptions { trace_lines: true, ..RunOptions::default() };
    let first = run(&options).trace_lines;
    let second = run(&options).trace_lines;
    let pick = |lines: &str| {
        lines
            .lines()
            .find(|l| l.contains(&format!("\"n\":{index},")))
            .unwrap_or("(no trace line for that event)")
            .to_string()
    };
    format!("  first run:  {}\n  second run: {}", pick(&first), pick(&second))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divergence_is_the_first_differing_checkpoint() {
        assert_eq!(first_divergence(&[1, 2, 3], &[1, 2, 3]), None);
        assert_eq!(first_divergence(&[1, 2, 3], &[1, 5, 3]), Some(1));
        assert_eq!(first_divergence(&[1, 2], &[1, 2, 3]), Some(2));
    }
}

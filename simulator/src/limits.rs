//! Every number a user can give, with the range it must fall in, in one place.
//!
//! A value outside its range is refused before anything runs (exit 2, with a message naming the
//! flag or field and the range), so that no arithmetic on it can wrap and no run can be asked to
//! hold more than a job's share of memory (about 1 GiB, so that `--jobs` runs fit on a 2-core,
//! 24 GiB machine). The ranges are generous for testing Raft and tight enough that the products
//! the simulator forms (time plus delay, operations times value size) stay far from overflow.
//!
//! | what | range | why |
//! |---|---|---|
//! | nodes | 1 to 32 | partitions are bitmasks of 32 nodes |
//! | clients | 1 to 4,096 | each client is a clerk with its own timers and session |
//! | operations (`ops`, a scenario's `submit`) | 0 to 1,000,000 | the history and the logs hold every one |
//! | keys | 1 to 1,000,000 | |
//! | value size (`value_bytes`) | 0 to 1 MiB; operations x value size at most 64 MiB | every node's log and disk hold every value |
//! | tick | 1 µs to 1 s | |
//! | heartbeat, election timeouts (ticks) | 1 to 100,000 | |
//! | batch (`append_entries_max`) | 1 to 100,000 entries | |
//! | simulated durations (fault phase, liveness bound, scenario `at`, `within`) | up to 24 h | time is u64 nanoseconds: 24 h is 8.6e13, far from 1.8e19 |
//! | delays, fsync latencies, think times, timeouts | up to 1 h each | |
//! | probabilities (`_ppm`) | 0 to 1,000,000 | parts per million |
//! | clock drift | below 500,000 ppm either way | a tick may not shrink to nothing |
//! | seeds | any u64 | |
//! | a sweep's seeds (`--seeds A..B`, `--count N`) | at most 10^12 seeds, never built in memory | |
//! | shards (`--shard K/N`) | N up to 65,536 | |
//! | jobs | 1 to 1,024 | |
//! | event budget (`--max-events`) | 1 to 10^11 | |
//! | wall-clock limits (`--run-time-limit`, `--check-time-limit`) | 1 ms to 24 h | |
//! | scenario `seeds` | 1 to 1,000,000 | |
//! | scenario `repeat` | 1 to 1,000,000, and at most 100,000 steps unrolled | |
//! | files read (scenarios, reports, sweep summaries) | at most 64 MiB each | |

use std::io::Read;
use std::path::Path;

pub const NODES_MAX: u64 = 32;
pub const CLIENTS_MAX: u64 = 4_096;
pub const OPS_MAX: u64 = 1_000_000;
pub const KEYS_MAX: u64 = 1_000_000;
pub const VALUE_BYTES_MAX: u64 = 1 << 20;
/// Operations times value size: what the clients can make every node's log and disk hold.
pub const PAYLOAD_BYTES_MAX: u64 = 64 << 20;
pub const TICK_NS_MIN: u64 = 1_000;
pub const TICK_NS_MAX: u64 = 1_000_000_000;
pub const TICKS_MAX: u64 = 100_000;
pub const BATCH_MAX: u64 = 100_000;
/// The longest simulated phase: 24 hours.
pub const SIM_NS_MAX: u64 = 24 * 3_600 * 1_000_000_000;
/// The longest single delay, latency, think time or timeout: 1 hour.
pub const DELAY_NS_MAX: u64 = 3_600 * 1_000_000_000;
pub const PPM_MAX: u64 = 1_000_000;
pub const DRIFT_PPM_LIMIT: u64 = 500_000;
pub const SWEEP_SEEDS_MAX: u64 = 1_000_000_000_000;
pub const SHARDS_MAX: u64 = 65_536;
pub const JOBS_MAX: u64 = 1_024;
pub const MAX_EVENTS_MAX: u64 = 100_000_000_000;
pub const WALL_LIMIT_MS_MIN: u64 = 1;
pub const WALL_LIMIT_MS_MAX: u64 = 24 * 3_600 * 1_000;
pub const SCENARIO_SEEDS_MAX: u64 = 1_000_000;
pub const REPEAT_MAX: u64 = 1_000_000;
/// The largest file the simulator reads.
pub const FILE_BYTES_MAX: u64 = 64 << 20;

/// `value` if it lies in `min..=max`; otherwise a message naming `what` and the range.
pub fn in_range(what: &str, value: u64, min: u64, max: u64) -> Result<u64, String> {
    if value < min || value > max {
        return Err(format!("{what}: expected {} to {}, got {}", grouped(min), grouped(max), grouped(value)));
    }
    Ok(value)
}

/// A clap value parser for an integer flag with a range: the message names the range.
pub fn flag_range(
    min: u64,
    max: u64,
) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    move |text: &str| {
        let value: u64 = text.trim().parse().map_err(|_| {
            format!("expected a whole number from {} to {}, found {text:?}", grouped(min), grouped(max))
        })?;
        if value < min || value > max {
            return Err(format!("expected {} to {}, found {}", grouped(min), grouped(max), grouped(value)));
        }
        Ok(value)
    }
}

/// Reads a whole file of at most [`FILE_BYTES_MAX`] bytes as text; the error names the file.
pub fn read_file(path: &Path) -> Result<String, String> {
    let name = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(FILE_BYTES_MAX + 1).read_to_end(&mut bytes).map_err(|e| format!("{name}: cannot read: {e}"))?;
    if bytes.len() as u64 > FILE_BYTES_MAX {
        return Err(format!(
            "{name}: larger than {} MiB, the most the simulator reads",
            FILE_BYTES_MAX >> 20
        ));
    }
    String::from_utf8(bytes)
        .map_err(|e| format!("{name}: not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))
}

/// `1234567` as `1,234,567`, for messages.
#[must_use]
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_name_what_is_wrong_and_what_was_expected() {
        assert_eq!(in_range("workload.clients", 5, 1, CLIENTS_MAX), Ok(5));
        let e = in_range("workload.clients", 18_446_744_073_709_551_615, 1, CLIENTS_MAX).unwrap_err();
        assert!(e.contains("workload.clients") && e.contains("1 to 4,096"), "{e}");
        assert!(flag_range(1, 32)("33").unwrap_err().contains("1 to 32"));
        assert!(flag_range(1, 32)("-1").is_err());
        assert_eq!(flag_range(1, 32)("32"), Ok(32));
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn files_past_the_cap_are_refused_without_reading_them_whole() {
        let e = read_file(Path::new("/dev/zero")).unwrap_err();
        assert!(e.contains("/dev/zero") && e.contains("64 MiB"), "{e}");
        assert!(read_file(Path::new("/no/such/file")).unwrap_err().contains("/no/such/file"));
    }
}

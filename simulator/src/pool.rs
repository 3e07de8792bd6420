//! Running many seeds on all cores. Each seed's run stays on one thread and is deterministic;
//! only the order in which results arrive depends on scheduling, so callers order them.
//!
//! Items are the numbers `0..count`, handed out in increasing order and never built as a list,
//! so a sweep over a trillion seeds costs no memory up front.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

/// What the consumer of results wants next.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Start no new items; items already running finish and are still reported.
    Stop,
    /// Start no item above this one; items already running finish and are still reported.
    /// Since items start in increasing order, every item below it has started already.
    StopAbove(u64),
}

/// The items running now, each with the moment it started, for progress reports.
pub type Running = Vec<(u64, Instant)>;

/// Runs `work` on items `0..count` with `jobs` threads, handing each result to `consume` on the
/// calling thread as it arrives (in completion order, not item order). While results are
/// awaited, `idle` is called about once a second with the items still running.
pub fn run_parallel<R, W, C, I>(count: u64, jobs: usize, work: W, mut consume: C, mut idle: I)
where
    R: Send,
    W: Fn(u64) -> R + Sync,
    C: FnMut(u64, R) -> Flow,
    I: FnMut(&Running),
{
    let jobs = jobs.max(1).min(usize::try_from(count).unwrap_or(usize::MAX).max(1));
    let next = AtomicU64::new(0);
    let limit = AtomicU64::new(count.saturating_sub(1));
    let stop = AtomicBool::new(false);
    let running: Mutex<Vec<Option<(u64, Instant)>>> = Mutex::new(vec![None; jobs]);
    let (tx, rx) = mpsc::channel::<(u64, R)>();
    std::thread::scope(|scope| {
        for worker in 0..jobs {
            let tx = tx.clone();
            let (next, limit, stop, work, running) = (&next, &limit, &stop, &work, &running);
            scope.spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= count || i > limit.load(Ordering::SeqCst) {
                    break;
                }
                set_running(running, worker, Some((i, Instant::now())));
                let result = work(i);
                set_running(running, worker, None);
                if tx.send((i, result)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        loop {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok((i, result)) => match consume(i, result) {
                    Flow::Continue => {}
                    Flow::Stop => stop.store(true, Ordering::SeqCst),
                    Flow::StopAbove(above) => {
                        limit.fetch_min(above, Ordering::SeqCst);
                    }
                },
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now: Running =
                        running.lock().map(|r| r.iter().flatten().copied().collect()).unwrap_or_default();
                    idle(&now);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    });
}

fn set_running(running: &Mutex<Vec<Option<(u64, Instant)>>>, worker: usize, value: Option<(u64, Instant)>) {
    if let Ok(mut r) = running.lock() {
        r[worker] = value;
    }
}

/// The number of cores, for a default `--jobs`.
#[must_use]
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_run_once_whatever_the_job_count() {
        for jobs in [1, 2, 5] {
            let mut seen = vec![0u32; 50];
            run_parallel(
                50,
                jobs,
                |x| x * 2,
                |i, r| {
                    assert_eq!(r, i * 2);
                    seen[i as usize] += 1;
                    Flow::Continue
                },
                |_| {},
            );
            assert!(seen.iter().all(|n| *n == 1), "jobs {jobs}: {seen:?}");
        }
    }

    #[test]
    fn stop_above_still_runs_every_item_below_it() {
        for jobs in [1, 2, 4] {
            let mut seen = Vec::new();
            run_parallel(
                1000,
                jobs,
                |x| x,
                |i, _| {
                    seen.push(i);
                    if i == 37 {
                        Flow::StopAbove(37)
                    } else {
                        Flow::Continue
                    }
                },
                |_| {},
            );
            seen.sort_unstable();
            // Which items above 37 ran depends on the threads; every one below it ran, once.
            let below: Vec<u64> = seen.iter().copied().filter(|i| *i <= 37).collect();
            assert_eq!(below, (0..=37).collect::<Vec<_>>(), "jobs {jobs}");
        }
    }

    #[test]
    fn a_huge_count_costs_nothing_up_front() {
        let mut n = 0;
        run_parallel(
            u64::MAX,
            2,
            |x| x,
            |_, _| {
                n += 1;
                if n == 10 {
                    Flow::Stop
                } else {
                    Flow::Continue
                }
            },
            |_| {},
        );
        assert!(n >= 10);
    }
}

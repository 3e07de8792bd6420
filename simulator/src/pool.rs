//! Running many seeds on all cores. Each seed's run stays on one thread and is deterministic;
//! only the order in which results arrive depends on scheduling, so callers order them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// What the consumer of results wants next.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Start no new items; items already running finish and are still reported.
    Stop,
}

/// Runs `work` on every item with `jobs` threads, handing each result to `consume` on the
/// calling thread as it arrives (in completion order, not item order).
pub fn run_parallel<T, R, W, C>(items: &[T], jobs: usize, work: W, mut consume: C)
where
    T: Sync,
    R: Send,
    W: Fn(&T) -> R + Sync,
    C: FnMut(usize, R) -> Flow,
{
    let jobs = jobs.max(1).min(items.len().max(1));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, R)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, stop, work) = (&next, &stop, &work);
            scope.spawn(move || loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                if tx.send((i, work(item))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (i, result) in rx {
            if consume(i, result) == Flow::Stop {
                stop.store(true, Ordering::Relaxed);
            }
        }
    });
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
            let items: Vec<u64> = (0..50).collect();
            let mut seen = vec![0u32; 50];
            run_parallel(
                &items,
                jobs,
                |x| x * 2,
                |i, r| {
                    assert_eq!(r, items[i] * 2);
                    seen[i] += 1;
                    Flow::Continue
                },
            );
            assert!(seen.iter().all(|n| *n == 1), "jobs {jobs}: {seen:?}");
        }
    }

    #[test]
    fn stop_starts_no_new_items() {
        let items: Vec<u64> = (0..1000).collect();
        let mut count = 0;
        // Work that takes a moment, so that the workers cannot finish everything before the stop.
        let slow = |x: &u64| {
            std::thread::sleep(std::time::Duration::from_micros(200));
            *x
        };
        run_parallel(&items, 2, slow, |_, _| {
            count += 1;
            if count == 10 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        });
        assert!((10..1000).contains(&count), "{count}");
    }
}

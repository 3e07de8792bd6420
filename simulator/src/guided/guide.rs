//! The knobs of guided exploration ([`Guide`]): their defaults, the `--guide name=value,...`
//! text that changes them (`sweep --guided --guide`, `bench exploration --guide`), and the
//! same text back from a guide, which a guided sweep's summary records.

/// The knobs of the exploration; [`Guide::default`] is what `sweep --guided` uses.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Guide {
    /// Runs planned at once (results are taken in plan order after the whole batch ran).
    pub batch: usize,
    /// Branches started at a point no run reached before.
    pub fanout_new: u32,
    /// Branches started at a rarely reached point (see `rare_below` and `rare_share`).
    pub fanout_rare: u32,
    /// Branches started at a hazard (`Point::hazard`: a moment at which a rule is at stake)
    /// however often it was reached; they queue behind new and rare points, the hazard with the
    /// fewest branches so far first. 16 rather than 64 (the default until 2026-12-01): over
    /// 100 trials of `bench exploration`, 16 spread over four times as many roots' hazards
    /// catch install-stale-snapshot, stale-leader-read and read-before-confirm with less work,
    /// since whether a hazard's branches can catch those depends on the root, while
    /// commit-previous-term, which any such election can show, loses a little (README).
    pub fanout_hazard: u32,
    /// How long a branch's fault phase goes on after its fork (see `branch.rs`); None runs
    /// branches to the end of the schedule and through the liveness phase, like their roots.
    pub horizon_ns: Option<u64>,
    /// A point reached by fewer runs than this is rare...
    pub rare_below: u64,
    /// ...and so is one reached by at most one run in `rare_share` so far.
    pub rare_share: u64,
    /// Branches started at a combination not seen before: a point reached, after its fork, by
    /// a run that had already reached another point first (an ordered pair of points).
    pub fanout_pair: u32,
    /// Share of each batch's work (in sixteenths) that may go to branches while root seeds
    /// remain.
    pub branch_sixteenths: usize,
    /// Share of the branches' work (in sixteenths) that goes to hazards while new or rare
    /// points have branches waiting too.
    pub hazard_sixteenths: u64,
    /// Forks one path may hold.
    pub depth_max: usize,
    /// Branches fork this many events before the point was reached (not before the last fork),
    /// so that the moment leading to it is drawn anew too.
    pub fork_back: u64,
    /// Root runs done before any branch runs: a guided sweep starts as plain seeds do, so a
    /// bug those first seeds catch costs no more (branches are planned from the start and
    /// wait). The default is one batch: branches cannot start before a batch's results anyway,
    /// and a longer warm-up only delays the bugs that hazards lead to (64 cost
    /// install-stale-snapshot under the quiet base 1.6 times its events).
    pub warm_up: u64,
    /// Branches waiting at most; past it the ones at the most common points are dropped.
    pub queue_max: usize,
    /// Branches started where a root's fault phase ended, when its liveness phase healed only a
    /// core (`liveness: only a core healed`): each runs the liveness phase alone (no horizon),
    /// with the core and the fates of the other servers drawn anew. Horizon branches never reach
    /// the liveness phase, so without these a guided sweep would try no liveness bug again.
    /// Each root asks for them as it runs (`Task::rides`), as far as the share of branches
    /// pays for them. 4 rather than 8 (the default until 2026-12-01): over 300 swarm trials of
    /// `bench exploration` with the branches forked as their roots run, 4 catch active-on-send,
    /// stale-leader-read and read-before-confirm with less work than 8 (1.18, 0.99 and 0.91
    /// times plain seeds' work on the mean, against 1.17, 0.99 and 0.88); 2 lose
    /// active-on-send's gain (1.05).
    pub fanout_liveness: u32,
}

impl Default for Guide {
    fn default() -> Guide {
        Guide {
            batch: 32,
            fanout_new: 4,
            fanout_rare: 0,
            fanout_hazard: 16,
            horizon_ns: Some(20_000_000),
            rare_below: 4,
            rare_share: 0,
            fanout_pair: 0,
            branch_sixteenths: 12,
            hazard_sixteenths: 12,
            depth_max: 6,
            warm_up: 32,
            fork_back: 0,
            queue_max: 4096,
            fanout_liveness: 4,
        }
    }
}

impl Guide {
    /// This guide with some knobs changed by `text`, a comma-separated list of `name=value`
    /// (names: batch, new, rare, hazard, horizon (ms; 0: none), below, share, pair, sixteenths,
    /// hazards, depth, warm, back, queue, live), for
    /// `raftsim bench exploration --guide`. Errors name the knob and what was expected.
    pub fn with_overrides(mut self, text: &str) -> Result<Guide, String> {
        for kv in text.split(',').map(str::trim).filter(|kv| !kv.is_empty()) {
            let Some((k, v)) = kv.split_once('=') else {
                return Err(format!("{kv:?}: expected name=value"));
            };
            let v: u64 = v.trim().parse().map_err(|_| format!("{kv:?}: expected a whole number"))?;
            let millis = |ms: u64| (ms > 0).then_some(ms * 1_000_000);
            let small = |max: u64| -> Result<u64, String> {
                if v <= max {
                    Ok(v)
                } else {
                    Err(format!("{kv:?}: at most {max}"))
                }
            };
            match k.trim() {
                "batch" if v >= 1 => self.batch = small(4096)? as usize,
                "new" => self.fanout_new = small(64)? as u32,
                "rare" => self.fanout_rare = small(64)? as u32,
                "hazard" => self.fanout_hazard = small(1024)? as u32,
                "horizon" => self.horizon_ns = millis(small(86_400_000)?),
                "below" => self.rare_below = v,
                "share" => self.rare_share = v,
                "pair" => self.fanout_pair = small(64)? as u32,
                "sixteenths" => self.branch_sixteenths = small(16)? as usize,
                "hazards" => self.hazard_sixteenths = small(16)?,
                "depth" => self.depth_max = small(64)? as usize,
                "warm" => self.warm_up = v,
                "back" => self.fork_back = v,
                "queue" if v >= 1 => self.queue_max = small(1 << 20)? as usize,
                "live" => self.fanout_liveness = small(64)? as u32,
                other => {
                    return Err(format!(
                        "{other:?}: expected batch (1 or more), new, rare, hazard, horizon, below, share, pair, sixteenths, hazards, depth, warm, back, queue (1 or more) or live"
                    ))
                }
            }
        }
        Ok(self)
    }

    /// The knobs this guide changes from the default, as `--guide` takes them (empty for the
    /// default guide): a guided sweep records them, so that only shards explored alike merge.
    #[must_use]
    pub fn changes(&self) -> String {
        let d = Guide::default();
        let ms = |ns: Option<u64>| ns.map_or(0, |ns| ns / 1_000_000);
        let knobs: [(&str, u64, u64); 15] = [
            ("batch", self.batch as u64, d.batch as u64),
            ("new", self.fanout_new.into(), d.fanout_new.into()),
            ("rare", self.fanout_rare.into(), d.fanout_rare.into()),
            ("hazard", self.fanout_hazard.into(), d.fanout_hazard.into()),
            ("horizon", ms(self.horizon_ns), ms(d.horizon_ns)),
            ("below", self.rare_below, d.rare_below),
            ("share", self.rare_share, d.rare_share),
            ("pair", self.fanout_pair.into(), d.fanout_pair.into()),
            ("sixteenths", self.branch_sixteenths as u64, d.branch_sixteenths as u64),
            ("hazards", self.hazard_sixteenths, d.hazard_sixteenths),
            ("depth", self.depth_max as u64, d.depth_max as u64),
            ("warm", self.warm_up, d.warm_up),
            ("back", self.fork_back, d.fork_back),
            ("queue", self.queue_max as u64, d.queue_max as u64),
            ("live", self.fanout_liveness.into(), d.fanout_liveness.into()),
        ];
        let changed: Vec<String> =
            knobs.iter().filter(|(_, v, d)| v != d).map(|(k, v, _)| format!("{k}={v}")).collect();
        changed.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guide_names_the_knobs_it_changes_as_guide_takes_them() {
        assert_eq!(Guide::default().changes(), "");
        let text = "batch=8,new=1,rare=2,hazard=32,horizon=0,below=3,share=5,pair=1,sixteenths=4,hazards=8,depth=3,warm=8,back=10,queue=100,live=2";
        let guide = Guide::default().with_overrides(text).expect("valid knobs");
        assert_eq!(guide.changes(), text);
        assert_eq!(Guide::default().with_overrides(&guide.changes()), Ok(guide));
        // A knob set to its default value changes nothing.
        assert_eq!(
            Guide::default().with_overrides("batch=32,horizon=20").map(|g| g.changes()),
            Ok(String::new())
        );
    }

    #[test]
    fn bad_knobs_are_named() {
        let err = |text: &str| Guide::default().with_overrides(text).expect_err(text);
        assert!(err("batch=0").contains("batch (1 or more)"));
        assert!(err("fanout=3").contains("\"fanout\""));
        assert!(err("new").contains("name=value"));
        assert!(err("new=-1").contains("whole number"));
        assert!(err("sixteenths=17").contains("at most 16"));
        assert!(err("horizon=x").contains("whole number"));
        assert_eq!(Guide::default().with_overrides("").map(|g| g.batch), Ok(32));
        assert_eq!(Guide::default().with_overrides("horizon=0").map(|g| g.horizon_ns), Ok(None));
        assert_eq!(Guide::default().with_overrides("horizon=50").map(|g| g.horizon_ns), Ok(Some(50_000_000)));
    }
}

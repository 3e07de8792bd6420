//! Branches: a run that follows its seed up to some event and then goes on with fresh randomness.
//!
//! A branch path names the points where a run forks off its seed's path: `1200.3` is "at event
//! 1200, take fork 3"; `1200.3/5400.1` then forks again at event 5400 of that branch. At each
//! point every random stream of the world (network, disks, clients, faults, a scenario's draws,
//! the seeds of future node incarnations) is derived anew from the root seed and the path so far,
//! so a branch is as reproducible as a seed: `raftsim run --seed N --branch PATH` replays it
//! exactly. The state at the fork is the seed's own (nothing is cloned: the run replays up to the
//! point, which keeps branching independent of what an implementation can copy). Guided
//! exploration and `raftsim explain` use branches to try other continuations of one moment.
//!
//! A path may end with a horizon, `1200.3+300ms`: the fault phase then ends that much virtual
//! time after the path's last fork (if it had not ended before), the liveness phase is skipped
//! and the run is judged on what it did up to there: every check that watches the run, the
//! lost-write check and linearizability of the history so far (linearizability is closed under
//! prefixes, so a history cut short that fails would fail in the whole run too). Guided
//! exploration gives its branches a horizon: a branch is there to try one moment again, and
//! the rest of the run would cost as much as a fresh seed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One fork: at `event` (numbered from 0 as in the trace), take fork `fork` (1 or more).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Fork {
    pub event: u64,
    pub fork: u32,
}

/// A branch path: forks at strictly increasing events, and perhaps a horizon (see the module).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BranchPath {
    forks: Vec<Fork>,
    horizon_ns: Option<u64>,
}

impl BranchPath {
    /// The seed's own path, with no fork.
    #[must_use]
    pub fn root() -> BranchPath {
        BranchPath::default()
    }

    /// Whether this is the seed's own path: no fork (and so no horizon either).
    #[must_use]
    pub fn is_root(&self) -> bool {
        self.forks.is_empty()
    }

    #[must_use]
    pub fn forks(&self) -> &[Fork] {
        &self.forks
    }

    /// How long the fault phase goes on after the last fork, if the path bounds it.
    #[must_use]
    pub fn horizon_ns(&self) -> Option<u64> {
        self.horizon_ns
    }

    /// This path with its fault phase ending `ns` after its last fork (no effect on the root).
    #[must_use]
    pub fn with_horizon(mut self, ns: Option<u64>) -> BranchPath {
        self.horizon_ns = if self.forks.is_empty() { None } else { ns };
        self
    }

    /// The path without its last fork (and without a horizon): the run this one branched off.
    #[must_use]
    pub fn parent(&self) -> BranchPath {
        let mut forks = self.forks.clone();
        forks.pop();
        BranchPath { forks, horizon_ns: None }
    }

    /// This path, forking once more at `event` (after its last fork), with its horizon.
    ///
    /// # Panics
    /// If `event` is not after the last fork, or `fork` is 0.
    #[must_use]
    pub fn then(&self, event: u64, fork: u32) -> BranchPath {
        assert!(fork >= 1, "fork 0 is the path itself");
        assert!(self.forks.last().is_none_or(|f| f.event < event), "forks must come at increasing events");
        let mut forks = self.forks.clone();
        forks.push(Fork { event, fork });
        BranchPath { forks, horizon_ns: self.horizon_ns }
    }

    /// The salt the world's streams are derived from after the first `forks` forks.
    #[must_use]
    pub fn salt(&self, forks: usize) -> u64 {
        let mut salt = 0u64;
        for f in &self.forks[..forks.min(self.forks.len())] {
            let bytes = [f.event.to_le_bytes(), u64::from(f.fork).to_le_bytes()].concat();
            salt = crate::rng::fnv1a(&[salt.to_le_bytes().as_slice(), &bytes].concat());
        }
        salt
    }
}

impl fmt::Display for BranchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.forks.iter().map(|k| format!("{}.{}", k.event, k.fork)).collect();
        f.write_str(&parts.join("/"))?;
        match self.horizon_ns {
            Some(ns) => write!(f, "+{}", crate::config::ms(ns)),
            None => Ok(()),
        }
    }
}

impl std::str::FromStr for BranchPath {
    type Err = String;
    fn from_str(text: &str) -> Result<BranchPath, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(BranchPath::root());
        }
        let (text, horizon_ns) = match text.split_once('+') {
            Some((path, horizon)) => {
                let ns = crate::config::parse_sim_duration(horizon.trim())
                    .map_err(|e| format!("after '+', a horizon such as 300ms: {e}"))?;
                if ns == 0 || ns > crate::limits::SIM_NS_MAX {
                    return Err(format!(
                        "a horizon is more than 0 and at most {}, found {horizon:?}",
                        crate::config::ms(crate::limits::SIM_NS_MAX)
                    ));
                }
                (path.trim(), Some(ns))
            }
            None => (text, None),
        };
        if text.is_empty() {
            return Err("a horizon needs a fork before it, as in 1200.3+300ms".into());
        }
        let mut forks: Vec<Fork> = Vec::new();
        for part in text.split('/') {
            let (event, fork) = part.split_once('.').ok_or_else(|| {
                format!("expected a branch such as 1200.3 or 1200.3/5400.1, found {part:?}")
            })?;
            let event: u64 =
                event.parse().map_err(|_| format!("expected an event number before '.', found {event:?}"))?;
            let fork: u32 =
                fork.parse().map_err(|_| format!("expected a fork number after '.', found {fork:?}"))?;
            if fork == 0 {
                return Err(format!("fork numbers start at 1, found {part:?}"));
            }
            if forks.last().is_some_and(|f| f.event >= event) {
                return Err(format!("forks must come at increasing events, found {text:?}"));
            }
            forks.push(Fork { event, fork });
        }
        if forks.len() > 64 {
            return Err(format!("a branch path has at most 64 forks, found {}", forks.len()));
        }
        Ok(BranchPath { forks, horizon_ns })
    }
}

impl TryFrom<String> for BranchPath {
    type Error = String;
    fn try_from(text: String) -> Result<BranchPath, String> {
        text.parse()
    }
}

impl From<BranchPath> for String {
    fn from(path: BranchPath) -> String {
        path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_print_and_refuse_what_cannot_be_a_branch() {
        let p: BranchPath = "1200.3/5400.1".parse().expect("a path");
        assert_eq!(p.to_string(), "1200.3/5400.1");
        assert_eq!(p.forks().len(), 2);
        assert_eq!("".parse::<BranchPath>(), Ok(BranchPath::root()));
        assert!("1200".parse::<BranchPath>().is_err());
        assert!("1200.0".parse::<BranchPath>().is_err());
        assert!("5.1/5.2".parse::<BranchPath>().is_err());
        assert!("x.1".parse::<BranchPath>().is_err());
        assert_eq!(BranchPath::root().then(7, 2).then(9, 1).to_string(), "7.2/9.1");
        let h: BranchPath = "1200.3/5400.1+300ms".parse().expect("a path with a horizon");
        assert_eq!(h.horizon_ns(), Some(300_000_000));
        assert_eq!(h.to_string(), "1200.3/5400.1+300ms");
        assert_eq!(h.parent().to_string(), "1200.3");
        assert_eq!(h.parent().then(6000, 2).to_string(), "1200.3/6000.2");
        assert!("+300ms".parse::<BranchPath>().is_err(), "a horizon without a fork");
        assert!("1200.3+0ms".parse::<BranchPath>().is_err());
        assert!("1200.3+soon".parse::<BranchPath>().is_err());
        assert_eq!(BranchPath::root().with_horizon(Some(5)), BranchPath::root());
    }

    #[test]
    fn each_fork_salts_the_streams_differently() {
        let a = BranchPath::root().then(100, 1);
        let b = BranchPath::root().then(100, 2);
        let c = BranchPath::root().then(101, 1);
        assert_ne!(a.salt(1), b.salt(1));
        assert_ne!(a.salt(1), c.salt(1));
        assert_eq!(a.salt(0), 0);
        assert_eq!(a.then(200, 1).salt(1), a.salt(1), "a longer path agrees on the forks it shares");
    }
}

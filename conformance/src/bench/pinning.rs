//! Pinning: the server on some cores, the load generator on the others.
//!
//! On a shared machine a load generator and the server it measures compete
//! for the same cores, and then the client's own cost hides the server's:
//! a server that needs 30% more CPU per call may lose only a little
//! throughput, because the client was the bottleneck anyway. Pinning them
//! apart makes the server's share visible, the way an independent load
//! generator on another machine would see it:
//!
//! ```text
//!   2 cores:   CPU 0 ─ server (spawned worker, or the null worker's threads)
//!              CPU 1 ─ client (this process's runtime threads)
//! ```
//!
//! The default splits the CPUs this process may use into halves (the
//! server takes the lower half); `--server-cpus` and `--client-cpus` name
//! them (`0`, `0-1`, `0,2`), and `--no-pin` turns pinning off. Threads are
//! pinned with `sched_setaffinity(2)`: every thread of a spawned worker
//! (its `/proc/PID/task` list, taken after it listens, so threads created
//! later inherit the mask from their creator), every thread of this
//! process, and the null worker's runtime threads as they start.

use std::{collections::BTreeSet, fmt, fs, str::FromStr};

use nix::{
    sched::{CpuSet, sched_getaffinity, sched_setaffinity},
    unistd::Pid,
};

/// A set of CPU numbers, as `taskset -c` writes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuList(pub BTreeSet<usize>);

impl FromStr for CpuList {
    type Err = String;

    /// `0`, `0-3`, `0,2,4-5`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut cpus = BTreeSet::new();
        for part in text.split(',') {
            let number = |s: &str| {
                s.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("{text:?} is not a CPU list like 0, 0-3 or 0,2"))
            };
            match part.split_once('-') {
                Some((low, high)) => {
                    let (low, high) = (number(low)?, number(high)?);
                    if low > high {
                        return Err(format!("{part:?}: the range runs backwards"));
                    }
                    cpus.extend(low..=high);
                }
                None => {
                    cpus.insert(number(part)?);
                }
            }
        }
        Ok(CpuList(cpus))
    }
}

impl fmt::Display for CpuList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(usize::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// Where the server and the client run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pinning {
    /// The worker measured, and the null worker.
    pub server: CpuList,
    /// This process: the load generator.
    pub client: CpuList,
}

impl Pinning {
    /// The split asked for: both lists given, or the halves of `allowed`
    /// for the ones left out. `None` when there is nothing to split (one
    /// CPU) and nothing was asked.
    pub fn choose(
        allowed: &CpuList,
        server: Option<CpuList>,
        client: Option<CpuList>,
    ) -> Result<Option<Pinning>, String> {
        let cpus: Vec<usize> = allowed.0.iter().copied().collect();
        let half = cpus.len() / 2;
        let (low, high) = cpus.split_at(half.max(1).min(cpus.len()));
        let lower = CpuList(low.iter().copied().collect());
        let upper = CpuList(high.iter().copied().collect());
        if server.is_none() && client.is_none() && upper.0.is_empty() {
            return Ok(None);
        }
        let pinning = Pinning {
            server: server.unwrap_or(lower),
            client: client.unwrap_or(upper),
        };
        for (flag, list) in [
            ("--server-cpus", &pinning.server),
            ("--client-cpus", &pinning.client),
        ] {
            if list.0.is_empty() {
                return Err(format!("{flag}: no CPU left for it on this machine"));
            }
            if let Some(cpu) = list.0.iter().find(|cpu| !allowed.0.contains(cpu)) {
                return Err(format!(
                    "{flag}: CPU {cpu} is not one this process may use ({allowed})"
                ));
            }
        }
        Ok(Some(pinning))
    }
}

impl fmt::Display for Pinning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server on CPUs {}, client on CPUs {}",
            self.server, self.client
        )
    }
}

/// Pinning failed: the kernel refused, or a CPU number is out of range.
#[derive(Debug, thiserror::Error)]
#[error("cannot pin thread {tid} to CPUs {cpus}: {reason}")]
pub struct PinError {
    tid: i32,
    cpus: CpuList,
    reason: String,
}

/// The CPUs this process may run on.
pub fn allowed() -> Result<CpuList, PinError> {
    let failed = |reason: String| PinError {
        tid: 0,
        cpus: CpuList::default(),
        reason,
    };
    let set = sched_getaffinity(Pid::from_raw(0)).map_err(|e| failed(e.to_string()))?;
    Ok(CpuList(
        (0..CpuSet::count())
            .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
            .collect(),
    ))
}

/// Pins one thread (`0`: the calling one) to `cpus`.
pub fn pin_thread(tid: i32, cpus: &CpuList) -> Result<(), PinError> {
    let failed = |reason: String| PinError {
        tid,
        cpus: cpus.clone(),
        reason,
    };
    let mut set = CpuSet::new();
    for &cpu in &cpus.0 {
        set.set(cpu).map_err(|e| failed(e.to_string()))?;
    }
    sched_setaffinity(Pid::from_raw(tid), &set).map_err(|e| failed(e.to_string()))
}

/// Pins the calling thread to `cpus` (if any), saying on stderr, under
/// `who`, when the kernel refuses: a thread that runs unpinned skews the
/// figures but does not make them wrong.
pub fn pin_this_thread(cpus: Option<&CpuList>, who: &str) {
    if let Some(Err(err)) = cpus.map(|cpus| pin_thread(0, cpus)) {
        eprintln!("{who}: {err}");
    }
}

/// Pins every thread process `pid` has now.
pub fn pin_process(pid: u32, cpus: &CpuList) -> Result<(), PinError> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).map_err(|e| PinError {
        tid: i32::try_from(pid).unwrap_or(-1),
        cpus: cpus.clone(),
        reason: e.to_string(),
    })?;
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        pin_thread(tid, cpus)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> CpuList {
        text.parse().unwrap()
    }

    #[test]
    fn cpu_lists_parse_like_taskset() {
        assert_eq!(list("0").0, BTreeSet::from([0]));
        assert_eq!(list("0-2,5").0, BTreeSet::from([0, 1, 2, 5]));
        assert_eq!(list("3,1").to_string(), "1,3");
        for bad in ["", "a", "2-1", "1,,2", "-1"] {
            assert!(bad.parse::<CpuList>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_default_gives_the_server_the_lower_half() {
        let split = Pinning::choose(&list("0-3"), None, None).unwrap().unwrap();
        assert_eq!((split.server, split.client), (list("0-1"), list("2-3")));
        let two = Pinning::choose(&list("0,1"), None, None).unwrap().unwrap();
        assert_eq!((two.server, two.client), (list("0"), list("1")));
        let odd = Pinning::choose(&list("0-2"), None, None).unwrap().unwrap();
        assert_eq!((odd.server, odd.client), (list("0"), list("1-2")));
    }

    #[test]
    fn one_cpu_is_not_split_unless_asked() {
        assert_eq!(Pinning::choose(&list("0"), None, None), Ok(None));
        let asked = Pinning::choose(&list("0"), Some(list("0")), Some(list("0")));
        assert_eq!(asked.unwrap().unwrap().client, list("0"));
    }

    #[test]
    fn cpus_outside_the_allowed_set_are_refused_by_flag() {
        let err = Pinning::choose(&list("0-1"), Some(list("4")), None).unwrap_err();
        assert!(
            err.contains("--server-cpus") && err.contains("CPU 4"),
            "{err}"
        );
        let err = Pinning::choose(&list("0-1"), None, Some(list("0-7"))).unwrap_err();
        assert!(err.contains("--client-cpus"), "{err}");
    }

    #[test]
    fn this_thread_can_be_pinned_to_a_cpu_it_may_use() {
        let allowed = allowed().unwrap();
        let first = CpuList(allowed.0.iter().take(1).copied().collect());
        std::thread::spawn(move || {
            pin_thread(0, &first).unwrap();
            assert_eq!(super::allowed().unwrap(), first);
        })
        .join()
        .unwrap();
        assert!(pin_thread(0, &list("100000")).is_err());
    }
}

//! What Linux's `/proc` says about a server: memory and CPU time.
//!
//! Throughput on a shared 2-core machine mixes the server's cost with the
//! load generator's. CPU time per call separates them: the server's user +
//! system time during a run, divided by the calls it answered, is its own
//! cost per call whatever else runs. For a spawned worker that is its
//! process; for the in-process null worker, its threads (named
//! `null-worker`).

use std::{fs, path::Path, time::Duration};

/// Linux reports CPU times in clock ticks of `USER_HZ`, 100 on every
/// architecture the kernel exposes to user space.
const TICKS_PER_SECOND: u64 = 100;

/// Whose CPU time to read.
#[derive(Clone, Debug)]
pub enum CpuSource {
    /// A whole process.
    Process(u32),
    /// The threads of this process whose name is this.
    Threads(&'static str),
}

impl CpuSource {
    /// User + system time so far, if `/proc` can tell.
    pub fn cpu_time(&self) -> Option<Duration> {
        match self {
            CpuSource::Process(pid) => {
                stat_cpu(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
            }
            CpuSource::Threads(name) => {
                let mut total = Duration::ZERO;
                for task in fs::read_dir("/proc/self/task").ok()? {
                    // A thread may end between the listing and the read
                    // (the tests' own threads do): it is not one of ours.
                    let Ok(task) = task else { continue };
                    let Ok(stat) = fs::read_to_string(task.path().join("stat")) else {
                        continue;
                    };
                    if stat_comm(&stat) == Some(*name) {
                        total += stat_cpu(&stat)?;
                    }
                }
                Some(total)
            }
        }
    }
}

/// The name between the parentheses of a `stat` line.
fn stat_comm(stat: &str) -> Option<&str> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    stat.get(open + 1..close)
}

/// utime + stime (fields 14 and 15) of a `stat` line. Fields are counted
/// after the closing parenthesis, because the name may contain spaces.
fn stat_cpu(stat: &str) -> Option<Duration> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND))
}

/// The number (in kB) after `field` in a `/proc` file such as
/// `/proc/meminfo` or `/proc/PID/status`.
pub fn read_field(path: impl AsRef<Path>, field: &str) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    parse_field(&text, field)
}

fn parse_field(text: &str, field: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// Resident memory of process `pid`, bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    read_field(format!("/proc/{pid}/status"), "VmRSS:").map(|kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_name_and_cpu_even_with_spaces_in_the_name() {
        let stat =
            "4242 (tokio rt) worker) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(stat_comm(stat), Some("tokio rt) worker"));
        assert_eq!(stat_cpu(stat), Some(Duration::from_secs(3)));
        assert_eq!(stat_cpu("1 (x) S 1"), None);
    }

    #[test]
    fn proc_fields_are_read_in_kilobytes() {
        let status = "Name:\tdistgo-worker\nVmPeak:\t  2000 kB\nVmRSS:\t   12345 kB\n";
        assert_eq!(parse_field(status, "VmRSS:"), Some(12345));
        assert_eq!(parse_field(status, "VmSwap:"), None);
    }

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
        let own = CpuSource::Process(std::process::id()).cpu_time();
        assert!(own.is_some());
        assert_eq!(
            CpuSource::Threads("no-such-thread").cpu_time(),
            Some(Duration::ZERO)
        );
    }
}

//! A small disk for one worker: a size-limited tmpfs in a private mount
//! namespace.
//!
//! "Disk full on one node" needs a file system that fills up in a test's
//! time, for one process only, without touching the machine's disks and
//! without leaving a mount behind if the test dies. A mount namespace gives
//! all of that: a process in its own namespace can mount a tmpfs of a few
//! hundred kilobytes over a directory, and nobody else sees it; when the
//! last process of the namespace exits, the kernel unmounts it.
//!
//! ```text
//!   holder:  unshare --mount sh -c 'mount -t tmpfs -o size=N … DIR; exec sleep'
//!                 │ owns the namespace (and the tmpfs) while it lives
//!   worker:  nsenter --target <holder> --mount -- distgo-worker --config …
//!                 │ sees DIR as the tmpfs; everything else as the host does
//!   test:    /proc/<holder>/root/DIR  reads the tmpfs from outside
//! ```
//!
//! Why a separate holder instead of `unshare … exec distgo-worker`: the
//! namespace, and with it the worker's data, must outlive the worker. A
//! worker killed on a full disk is restarted on the same files (after
//! [`Disk::resize`] gives it room), which is how a real operator recovers.
//! Both `unshare` and `nsenter` exec their command, so the process the
//! harness spawned *is* the worker: signals reach it directly.
//!
//! Mounting needs CAP_SYS_ADMIN in the namespace: as root, `unshare
//! --mount`; as any other user, a user namespace that maps the user to root
//! (`unshare --map-root-user`), which some kernels forbid (Ubuntu 24.04's
//! AppArmor, `kernel.unprivileged_userns_clone=0`). Where neither works,
//! [`Disk::new`] says why, and the test says so loudly (see
//! [`super::unsupported`]).

use std::{
    ffi::OsString,
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use super::HarnessError;

/// The holder's script: mount the tmpfs over `$1` with size `$2`, say so,
/// then become a process that does nothing for as long as it is needed.
const MOUNT_AND_HOLD: &str =
    r#"mount -t tmpfs -o "size=$2" distgo-disk "$1" && echo ready && exec sleep infinity"#;
/// The tmpfs's source name, as `/proc/mounts` shows it.
const SOURCE: &str = "distgo-disk";

/// How long mounting may take before the harness gives up.
const MOUNT_TIMEOUT: Duration = Duration::from_secs(10);

/// A tmpfs of a fixed size, mounted over a directory in a private mount
/// namespace that a holder process keeps alive. Dropping it kills the
/// holder; the tmpfs goes once no worker is left inside either.
#[derive(Debug)]
pub struct Disk {
    holder: Child,
    mount_point: PathBuf,
    /// Entered through a user namespace (not root).
    user_namespace: bool,
}

impl Disk {
    /// Mounts a tmpfs of `bytes` over `mount_point` (an existing, empty
    /// directory) in a new mount namespace.
    pub fn new(mount_point: &Path, bytes: u64) -> Result<Disk, HarnessError> {
        let user_namespace = !nix::unistd::geteuid().is_root();
        let mut line: Vec<OsString> = vec!["unshare".into()];
        if user_namespace {
            line.push("--map-root-user".into());
        }
        line.extend(
            [
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                MOUNT_AND_HOLD,
                "sh",
            ]
            .map(OsString::from),
        );
        line.push(mount_point.into());
        line.push(bytes.to_string().into());
        let mut holder = super::process::spawn_with_parent_death_signal(
            line,
            Stdio::null(),
            Stdio::piped(),
            Stdio::piped(),
        )
        .map_err(|err| HarnessError::Unsupported(format!("cannot run unshare: {err}")))?;
        let ready = wait_for_ready(&mut holder);
        if let Err(reason) = ready {
            let _ = holder.kill();
            let _ = holder.wait();
            return Err(HarnessError::Unsupported(format!(
                "cannot mount a {bytes}-byte tmpfs in a private mount namespace \
                 ({}): {reason}",
                if user_namespace {
                    "not root: tried a user namespace; run as root or allow unprivileged user namespaces"
                } else {
                    "as root"
                }
            )));
        }
        Ok(Disk {
            holder,
            mount_point: mount_point.to_owned(),
            user_namespace,
        })
    }

    /// Where the tmpfs is mounted, as processes inside the namespace see it.
    pub fn mount_point(&self) -> &Path {
        &self.mount_point
    }

    /// The tmpfs seen from outside the namespace, through the holder.
    pub fn outside_view(&self) -> PathBuf {
        let relative = self
            .mount_point
            .strip_prefix("/")
            .unwrap_or(&self.mount_point);
        PathBuf::from(format!("/proc/{}/root", self.holder.id())).join(relative)
    }

    /// The command line that runs `program` inside the namespace:
    /// `nsenter` execs it, so the spawned process is `program` itself.
    pub fn enter(&self, program: Vec<OsString>) -> Vec<OsString> {
        let mut line: Vec<OsString> = vec!["nsenter".into(), "--target".into()];
        line.push(self.holder.id().to_string().into());
        if self.user_namespace {
            line.extend(["--user".into(), "--preserve-credentials".into()]);
        }
        line.extend(["--mount".into(), "--".into()]);
        line.extend(program);
        line
    }

    /// Changes the size of the tmpfs (`mount -o remount`): smaller fills
    /// it now, larger frees room for a worker to recover.
    pub fn resize(&self, bytes: u64) -> Result<(), HarnessError> {
        // Type and source spelled out: in a user namespace, a bare
        // `mount -o remount DIR` is refused ("not mounted or bad option").
        let mut line = self.enter(vec![
            "mount".into(),
            "-t".into(),
            "tmpfs".into(),
            "-o".into(),
            format!("remount,size={bytes}").into(),
            SOURCE.into(),
            self.mount_point.clone().into(),
        ]);
        let program = line.remove(0);
        let output = Command::new(program)
            .args(line)
            .stdin(Stdio::null())
            .output()
            .map_err(HarnessError::io("run nsenter mount -o remount"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(HarnessError::Unsupported(format!(
                "remount to {bytes} bytes failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )))
        }
    }

    /// The bytes of the files on the tmpfs (what the worker wrote).
    pub fn used_bytes(&self) -> u64 {
        tree_size(&self.outside_view(), 8)
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Waits for the holder's "ready" line; on failure, its standard error.
fn wait_for_ready(holder: &mut Child) -> Result<(), String> {
    let Some(stdout) = holder.stdout.take() else {
        return Err("no stdout pipe".into());
    };
    let (sender, receiver) = mpsc::channel();
    // A reader thread, because a blocking read has no timeout; it ends at
    // the line or at EOF (the holder exited, or was killed below).
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    match receiver.recv_timeout(MOUNT_TIMEOUT) {
        Ok(line) if line.trim() == "ready" => Ok(()),
        Ok(_) => {
            let _ = holder.wait();
            let mut stderr = String::new();
            if let Some(mut pipe) = holder.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            Err(stderr.trim().to_owned())
        }
        Err(_) => Err(format!("no answer within {MOUNT_TIMEOUT:?}")),
    }
}

/// The total length of the files under `dir`, `depth` levels deep at most.
fn tree_size(dir: &Path, depth: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() && depth > 0 => tree_size(&entry.path(), depth - 1),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

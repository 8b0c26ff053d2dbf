//! The child processes a run measures: this binary re-executed with a hidden `serve-*`
//! subcommand (see `serve.rs` for what each one serves), so that their CPU time and resident
//! memory are their own, not the load generator's.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use hyper::StatusCode;

use crate::client::Conn;

/// How long a child may take to listen, and then to answer `/readyz` with 200.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// A running child process; killed when dropped, so a failed run leaves nothing behind.
pub struct ChildProcess {
    child: Child,
    /// A peer (`start_group`): leads its own process group, stopped as a group.
    group: bool,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Spawn to the first `/readyz` 200.
    pub ready_after: Duration,
}

impl ChildProcess {
    /// Re-execute this binary as `subcommand` with `extra` arguments, its port file and log in
    /// `dir`, and wait for its `/readyz` to answer 200.
    pub async fn start(subcommand: &str, extra: &[&str], dir: &Path) -> anyhow::Result<Self> {
        let port_file = dir.join(format!("{subcommand}.port"));
        let _ = std::fs::remove_file(&port_file);
        let log_path = dir.join(format!("{subcommand}.log"));
        let log = std::fs::File::create(&log_path)?;
        let exe = std::env::current_exe().context("where is this binary?")?;
        let started = Instant::now();
        let child = Command::new(exe)
            .arg(subcommand)
            .args(extra)
            .arg("--port-file")
            .arg(&port_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("could not start {subcommand}"))?;
        let mut this = Self {
            child,
            group: false,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            ready_after: Duration::ZERO,
        };
        let give_up = started + GIVE_UP_AFTER;
        let fail = |this: &mut Self, why: &str| -> anyhow::Error {
            let _ = this.child.kill();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            anyhow::anyhow!("{subcommand} {why}; its log:\n{log}")
        };
        let port: u16 = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                break text.trim().parse()?;
            }
            if let Ok(Some(status)) = this.child.try_wait() {
                return Err(fail(&mut this, &format!("exited with {status}")));
            }
            if Instant::now() > give_up {
                return Err(fail(&mut this, "did not listen within 60 s"));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        this.addr.set_port(port);
        let mut conn = Conn::new(this.addr);
        loop {
            if let Ok((StatusCode::OK, _)) = conn.get("/readyz", None).await {
                break;
            }
            if Instant::now() > give_up {
                return Err(fail(&mut this, "was not ready within 60 s"));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        this.ready_after = started.elapsed();
        Ok(this)
    }

    /// Start `command` (a peer server: uvicorn with its workers) as the leader of a new process
    /// group, its output in `dir/<name>.log`, and wait until it answers `GET ready_path` with
    /// 200 on `port` (chosen by the caller). Dropping it stops the whole group.
    pub async fn start_group(
        name: &str,
        mut command: Command,
        port: u16,
        ready_path: &str,
        dir: &Path,
    ) -> anyhow::Result<Self> {
        use std::os::unix::process::CommandExt as _;
        let log_path = dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path)?;
        let started = Instant::now();
        let child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("could not start {name}"))?;
        let mut this = Self {
            child,
            group: true,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            ready_after: Duration::ZERO,
        };
        let give_up = started + GIVE_UP_AFTER;
        let mut conn = Conn::new(this.addr);
        loop {
            if let Ok((StatusCode::OK, _)) = conn.get(ready_path, None).await {
                break;
            }
            if let Ok(Some(status)) = this.child.try_wait() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                anyhow::bail!("{name} exited with {status}; its log:\n{log}");
            }
            if Instant::now() > give_up {
                drop(this);
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                anyhow::bail!("{name} was not ready within 60 s; its log:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        this.ready_after = started.elapsed();
        Ok(this)
    }

    /// The operating system's id of the process (for its `/proc` figures).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if self.group {
            // SIGTERM to the group (uvicorn's supervisor and its workers) and a few seconds
            // to shut down, then SIGKILL for whatever is left.
            let group = format!("-{}", self.child.id());
            let signal = |sig: &str| {
                let _ = Command::new("kill")
                    .args([sig, "--", &group])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            };
            signal("-TERM");
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            signal("-KILL");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

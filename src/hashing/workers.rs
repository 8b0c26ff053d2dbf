//! The threads that hash, and the argon2 working memory they reuse.

use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow};
use argon2::Block;

use super::HashError;

pub(super) type Job = Box<dyn FnOnce() + Send>;

/// The threads that hash: one per slot, at the lowest CPU priority (Linux: `SCHED_IDLE`, else
/// nice 19). A login storm then takes only the CPU that request handling leaves over, so token
/// checks stay fast while every core hashes (the benchmark's `storm` scenario). They exit when
/// the last `Hasher` is dropped.
#[derive(Clone)]
pub(super) struct Workers(std::sync::mpsc::Sender<Job>);

impl Workers {
    pub(super) fn start(count: usize) -> anyhow::Result<Self> {
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..count {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("authgate-hash-{i}"))
                .spawn(move || {
                    lowest_priority();
                    loop {
                        let job = receiver.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                })
                .context("could not start a hashing thread")?;
        }
        Ok(Self(sender))
    }

    pub(super) fn send(&self, job: Job) -> Result<(), HashError> {
        self.0
            .send(job)
            .map_err(|_| HashError::Failed(anyhow!("the hashing threads have stopped")))
    }
}

/// Lower the calling thread's CPU priority as far as an unprivileged process may; if that fails,
/// hash anyway.
///
/// On Linux `SCHED_IDLE`, not only nice 19: a request-handling thread that wakes preempts a
/// `SCHED_IDLE` thread at once, whereas a nice-19 thread that the scheduler has just picked
/// may finish its slice first (EEVDF's run-to-parity), which showed as the protected route's
/// p99 more than doubling during a login storm (the benchmark's `storm`, 2.2-2.5x calm).
fn lowest_priority() {
    use thread_priority::{ThreadPriority, set_current_thread_priority};
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle).is_ok() {
            return;
        }
    }
    let _ = set_current_thread_priority(ThreadPriority::Min);
}

/// argon2's working memory (`m_kib` each), one per hashing slot, reused. Allocating 19 MiB per
/// hash made glibc keep hundreds of MiB resident after a burst of logins (measured by the
/// benchmark's `storm`: 600–800 MiB with 2 slots), and faulted the pages in on every hash.
/// At most `permits` jobs run at once, so the pool never holds more than `permits` buffers.
pub(super) struct MemoryPool {
    free: Mutex<Vec<Vec<Block>>>,
    blocks: usize,
}

impl MemoryPool {
    /// An empty pool of buffers of `blocks` argon2 blocks each.
    pub(super) fn new(blocks: usize) -> Self {
        Self {
            free: Mutex::new(Vec::new()),
            blocks,
        }
    }

    pub(super) fn take(&self) -> Vec<Block> {
        let reused = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop();
        reused.unwrap_or_else(|| vec![Block::default(); self.blocks])
    }

    pub(super) fn give(&self, memory: Vec<Block>) {
        self.free
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(memory);
    }
}

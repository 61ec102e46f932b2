//! Runtime limits enforced by wasmtime itself, as the Kubewarden engine
//! enforces them: a wall-clock deadline per guest call (epoch interruption)
//! and a cap on the guest's linear memory (growth past it fails).
//!
//! The deadline: the engine is built with `Config::epoch_interruption`, a
//! ticker thread increments the engine's epoch every [`EPOCH_TICK`], and
//! every fresh instance gets `EpochDeadlines { wapc_init, wapc_func }` of
//! `ceil(deadline / EPOCH_TICK)` ticks, which `wasmtime-provider` sets on
//! the store before `wapc_init` and before each `__guest_call`. Compiled
//! code checks the epoch at function entries and loop back-edges, so a
//! spinning guest traps (`Trap::Interrupt`) within one tick of the
//! deadline; time spent in host calls counts too, as in policy-server.
//!
//! The memory cap: `wasmtime-provider` keeps the `Store` private, so no
//! `ResourceLimiter`/`StoreLimits` can be attached; the cap is enforced by
//! the engine's memory creator instead (see `host::memory`), whose
//! `grow_to` refuses any size above the cap. Wasmtime turns that refusal
//! into `memory.grow` returning -1, exactly what a `StoreLimits` refusal
//! does, and the creator records the refused size so that the host can
//! report [`crate::host::HostError::MemoryLimit`] when the guest then
//! fails (a Rust guest aborts on allocation failure).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime_provider::wasmtime::Engine;
use wasmtime_provider::EpochDeadlines;

/// How often the ticker thread advances the engine's epoch: the deadline's
/// resolution.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// What `wasmtime-provider` reports when the epoch deadline interrupts the
/// guest: "guest code interrupted, execution deadline exceeded" for a call,
/// "Initialization failed: wapc_init init interrupted, execution deadline
/// exceeded" for `wapc_init`.
pub(crate) const INTERRUPTED: &str = "interrupted, execution deadline exceeded";

/// Bounds on one evaluation, enforced by the wasm runtime. `None` (the
/// default) leaves the dimension unbounded, as `kwctl run` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeLimits {
    /// Wall-clock budget of one guest call (and of `wapc_init`, which runs
    /// once per fresh instance). policy-server's default is 2 s
    /// (`timeoutEvalSeconds`).
    pub deadline: Option<Duration>,
    /// The most linear memory the guest may have, in bytes (rounded down to
    /// whole 64 KiB pages by the guest's own `memory.grow`). Enforcing it
    /// swaps wasmtime's guard-page memories for bounds-checked ones, as
    /// [`crate::host::HostOptions::measure_memory`] does.
    pub memory_bytes: Option<usize>,
}

impl RuntimeLimits {
    /// The limits the adversarial tests run under: policy-server's default
    /// 2 s evaluation timeout and a 64 MiB memory cap.
    pub fn adversarial() -> Self {
        RuntimeLimits {
            deadline: Some(Duration::from_secs(2)),
            memory_bytes: Some(64 * 1024 * 1024),
        }
    }
}

/// An execution deadline in force: its length in ticks, and the ticker
/// that makes the epochs advance (shared by clones of a host, stopped when
/// the last one is dropped).
#[derive(Debug, Clone)]
pub(crate) struct Deadline {
    pub(crate) duration: Duration,
    ticks: u64,
    _ticker: Arc<EpochTicker>,
}

impl Deadline {
    /// Starts the ticker for `engine`, which must have been built with
    /// `epoch_interruption(true)`.
    pub(crate) fn start(engine: &Engine, duration: Duration) -> std::io::Result<Self> {
        let tick = EPOCH_TICK.as_nanos();
        let ticks = duration.as_nanos().div_ceil(tick).max(1);
        Ok(Deadline {
            duration,
            ticks: u64::try_from(ticks).unwrap_or(u64::MAX),
            _ticker: Arc::new(EpochTicker::start(engine.clone())?),
        })
    }

    /// What `WasmtimeEngineProviderPre::rehydrate` sets on each store.
    pub(crate) fn epoch_deadlines(&self) -> EpochDeadlines {
        EpochDeadlines {
            wapc_init: self.ticks,
            wapc_func: self.ticks,
        }
    }

    /// Whether a failure after `elapsed` with guest error `message` is this
    /// deadline firing: the provider's interruption text, and at least the
    /// deadline (less one tick of resolution) has passed, so that a guest
    /// cannot fake a timeout by setting that text as its own error.
    pub(crate) fn fired(&self, message: &str, elapsed: Duration) -> bool {
        message.contains(INTERRUPTED) && elapsed + EPOCH_TICK >= self.duration
    }
}

/// The thread that advances an engine's epoch every [`EPOCH_TICK`].
#[derive(Debug)]
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("testkit-epoch-ticker".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || {
                    while !stop.load(Ordering::Acquire) {
                        std::thread::park_timeout(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            // The thread only sleeps and ticks: it cannot panic.
            let _ = thread.join();
        }
    }
}

/// What the memory creator saw during one evaluation.
#[derive(Debug, Default)]
pub(crate) struct MemoryObservation {
    /// The largest size the guest's memory reached, in bytes.
    pub(crate) peak: AtomicU64,
    /// The largest size refused because it was above the cap (0: none).
    pub(crate) refused: AtomicU64,
}

impl MemoryObservation {
    pub(crate) fn refused(&self) -> Option<u64> {
        Some(self.refused.load(Ordering::Relaxed)).filter(|&r| r > 0)
    }
}

#[cfg(test)]
mod tests {
    //! The enforcement itself, with tiny waPC guests written in WAT (the
    //! engine's `wat` feature compiles the text): a guest that never returns
    //! must be interrupted, a guest that keeps growing its memory must be
    //! refused, and both must be told apart from an ordinary guest failure.

    use std::path::Path;
    use std::time::Instant;

    use super::super::{HostError, HostOptions, PolicyHost};
    use super::*;

    const MIB: usize = 1024 * 1024;

    fn guest(name: &str, wat: &str, limits: RuntimeLimits) -> PolicyHost {
        PolicyHost::from_bytes(
            Path::new(name),
            wat.as_bytes(),
            &HostOptions::default(),
            limits,
        )
        .unwrap()
    }

    fn deadline(d: Duration) -> RuntimeLimits {
        RuntimeLimits {
            deadline: Some(d),
            memory_bytes: None,
        }
    }

    fn cap(bytes: usize) -> RuntimeLimits {
        RuntimeLimits {
            deadline: None,
            memory_bytes: Some(bytes),
        }
    }

    /// `__guest_call` spins forever.
    const SPIN: &str = r#"(module
        (memory (export "memory") 1)
        (func (export "__guest_call") (param i32 i32) (result i32)
            (loop $forever (br $forever))
            (i32.const 0)))"#;

    /// `wapc_init` spins forever.
    const SPIN_INIT: &str = r#"(module
        (memory (export "memory") 1)
        (func (export "wapc_init") (loop $forever (br $forever)))
        (func (export "__guest_call") (param i32 i32) (result i32) (i32.const 1)))"#;

    /// Grows by 1 MiB until refused, then aborts like a Rust guest whose
    /// allocator failed (`unreachable`).
    const GROW_AND_ABORT: &str = r#"(module
        (memory (export "memory") 1)
        (func (export "__guest_call") (param i32 i32) (result i32)
            (block $refused
                (loop $grow
                    (br_if $refused (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
                    (br $grow)))
            unreachable))"#;

    /// Grows by `$pages` 64 KiB pages at most, stopping when refused, then
    /// answers `{}`: a guest that copes with a failed `memory.grow`.
    fn grow_and_answer(pages: u32) -> String {
        format!(
            r#"(module
            (import "wapc" "__guest_response" (func $response (param i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "{{}}")
            (func (export "__guest_call") (param i32 i32) (result i32)
                (local $left i32)
                (local.set $left (i32.const {pages}))
                (block $done
                    (loop $grow
                        (br_if $done (i32.eqz (local.get $left)))
                        (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
                        (local.set $left (i32.sub (local.get $left) (i32.const 1)))
                        (br $grow)))
                (call $response (i32.const 0) (i32.const 2))
                (i32.const 1)))"#
        )
    }

    /// Fails at once with the provider's interruption text as its own error.
    const FAKE_TIMEOUT: &str = r#"(module
        (import "wapc" "__guest_error" (func $error (param i32 i32)))
        (memory (export "memory") 1)
        (data (i32.const 0) "guest code interrupted, execution deadline exceeded")
        (func (export "__guest_call") (param i32 i32) (result i32)
            (call $error (i32.const 0) (i32.const 51))
            (i32.const 0)))"#;

    /// Scheduling slack on a loaded 2-core machine (fuzzers run alongside).
    const MARGIN: Duration = Duration::from_millis(1500);

    #[test]
    fn a_spinning_guest_is_interrupted_at_the_deadline() {
        let limit = Duration::from_millis(300);
        let host = guest("spin.wat", SPIN, deadline(limit));
        let start = Instant::now();
        let error = host.call("validate", b"{}").err().unwrap();
        let took = start.elapsed();
        match &error {
            HostError::DeadlineExceeded {
                operation,
                deadline,
                elapsed,
                ..
            } => {
                assert_eq!(operation, "validate");
                assert_eq!(*deadline, limit);
                assert!(*elapsed + EPOCH_TICK >= limit, "{error}");
            }
            other => panic!("expected DeadlineExceeded, got {other}"),
        }
        assert!(took + EPOCH_TICK >= limit, "stopped early: {took:?}");
        assert!(took < limit + MARGIN, "stopped late: {took:?}");
        // Every call gets a fresh instance and a fresh deadline.
        let again = host.call("validate", b"{}").err().unwrap();
        assert!(
            matches!(again, HostError::DeadlineExceeded { .. }),
            "{again}"
        );
    }

    #[test]
    fn a_spinning_wapc_init_is_interrupted_too() {
        let limit = Duration::from_millis(200);
        let host = guest("spin-init.wat", SPIN_INIT, deadline(limit));
        let start = Instant::now();
        let error = host.call("validate", b"{}").err().unwrap();
        assert!(
            matches!(error, HostError::DeadlineExceeded { .. }),
            "{error}"
        );
        assert!(start.elapsed() < limit + MARGIN, "{:?}", start.elapsed());
    }

    #[test]
    fn a_guest_error_that_reads_like_a_timeout_is_not_one() {
        let host = guest("fake.wat", FAKE_TIMEOUT, deadline(Duration::from_secs(5)));
        let error = host.call("validate", b"{}").err().unwrap();
        assert!(matches!(error, HostError::GuestCall { .. }), "{error}");
        assert!(error.to_string().contains("deadline exceeded"), "{error}");
    }

    #[test]
    fn growth_past_the_cap_is_refused_and_reported() {
        let host = guest("grow.wat", GROW_AND_ABORT, cap(4 * MIB));
        let start = Instant::now();
        let error = host.call("validate", b"{}").err().unwrap();
        match &error {
            HostError::MemoryLimit {
                limit,
                requested,
                guest_error,
                ..
            } => {
                assert_eq!(*limit, 4 * MIB);
                assert!(*requested > 4 * MIB as u64, "{error}");
                assert!(guest_error.contains("Guest call failure"), "{error}");
            }
            other => panic!("expected MemoryLimit, got {other}"),
        }
        assert!(start.elapsed() < MARGIN, "{:?}", start.elapsed());
    }

    #[test]
    fn a_guest_that_copes_with_a_refusal_still_answers() {
        // Asks for 16 MiB under a 4 MiB cap: growth stops at the cap.
        let host = guest("cope.wat", &grow_and_answer(256), cap(4 * MIB));
        let answer = host.call("validate", b"{}").unwrap();
        assert_eq!(answer.answer, b"{}");
        assert_eq!(answer.refused_memory_bytes, Some(4 * MIB as u64 + 65536));
        // Under the cap nothing is refused.
        let host = guest("small.wat", &grow_and_answer(16), cap(4 * MIB));
        let answer = host.call("validate", b"{}").unwrap();
        assert_eq!(answer.refused_memory_bytes, None);
    }

    #[test]
    fn without_limits_nothing_changes() {
        let host = guest("plain.wat", &grow_and_answer(64), RuntimeLimits::default());
        let answer = host.call("validate", b"{}").unwrap();
        assert_eq!(answer.answer, b"{}");
        assert_eq!(answer.refused_memory_bytes, None);
        assert_eq!(answer.peak_memory_bytes, None);
        let both = RuntimeLimits {
            deadline: Some(Duration::from_secs(5)),
            memory_bytes: Some(64 * MIB),
        };
        let host = guest("both.wat", &grow_and_answer(64), both);
        assert_eq!(host.call("validate", b"{}").unwrap().answer, b"{}");
    }

    #[test]
    fn the_ticker_stops_with_the_last_host() {
        let host = guest("spin.wat", SPIN, deadline(Duration::from_millis(50)));
        let ticker = Arc::downgrade(&host.deadline.as_ref().unwrap()._ticker);
        let clone = host.clone();
        drop(host);
        assert!(ticker.upgrade().is_some());
        drop(clone);
        assert!(ticker.upgrade().is_none());
    }
}

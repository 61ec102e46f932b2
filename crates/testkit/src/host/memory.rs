//! Measuring and capping guest memory needs the memory object itself (or
//! the store, for a `ResourceLimiter`), which `wasmtime-provider` keeps
//! private: the engine gets a memory creator whose memories report their
//! size to the evaluation that created them and refuse to grow past the cap.

use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::limits::MemoryObservation;

use wasmtime_provider::wasmtime::{Config, LinearMemory, MemoryCreator, MemoryType};

/// A wasm page: the unit of growth, and its alignment keeps the base
/// page-aligned as `LinearMemory` asks.
const PAGE: usize = 65536;

#[repr(C, align(65536))]
struct Page([u8; PAGE]);

thread_local! {
    /// The evaluation running on this thread: instantiation happens on
    /// the caller's thread, so this attributes the memory it creates.
    static CURRENT: RefCell<Option<Arc<MemoryObservation>>> = const { RefCell::new(None) };
}

/// Sets [`CURRENT`] for the duration of one evaluation.
pub(super) struct Scope(Option<Arc<MemoryObservation>>);

impl Scope {
    pub(super) fn enter(observed: Option<Arc<MemoryObservation>>) -> Scope {
        Scope(CURRENT.with(|c| c.replace(observed)))
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// No reservation and no guard region: with those the compiled code
/// bounds-checks every access against the current length, which is what
/// lets a plain heap allocation (that may move on growth) back the memory.
/// `cap` bounds every memory the engine creates, in bytes.
pub(super) fn configure(config: &mut Config, cap: Option<usize>) {
    config
        .with_host_memory(Arc::new(TrackingCreator { cap }))
        .memory_reservation(0)
        .memory_guard_size(0)
        .memory_reservation_for_growth(0)
        .memory_init_cow(false);
}

struct TrackingCreator {
    cap: Option<usize>,
}

// SAFETY: the memories it returns satisfy `LinearMemory`'s contract (see
// below); the engine is configured with no reservation and no guard, so
// wasmtime neither expects a fixed base nor elides bounds checks.
unsafe impl MemoryCreator for TrackingCreator {
    fn new_memory(
        &self,
        _ty: MemoryType,
        minimum: usize,
        maximum: Option<usize>,
        reserved_size_in_bytes: Option<usize>,
        guard_size_in_bytes: usize,
    ) -> Result<Box<dyn LinearMemory>, String> {
        if reserved_size_in_bytes.unwrap_or(0) != 0 || guard_size_in_bytes != 0 {
            return Err(
                "the memory-measuring engine needs memory_reservation(0) and memory_guard_size(0)"
                    .into(),
            );
        }
        let mut pages = Vec::new();
        let base = BasePtr::of(&mut pages);
        let mut memory = TrackedMemory {
            pages,
            base,
            len: 0,
            maximum,
            cap: self.cap,
            observed: CURRENT.with(|c| c.borrow().clone()),
        };
        memory.grow_to(minimum).map_err(|e| e.to_string())?;
        Ok(Box::new(memory))
    }
}

/// The base pointer, refreshed after every reallocation.
struct BasePtr(NonNull<u8>);

impl BasePtr {
    /// Taken through `as_mut_ptr`, so wasmtime may write through it.
    fn of(pages: &mut Vec<Page>) -> BasePtr {
        BasePtr(NonNull::new(pages.as_mut_ptr().cast::<u8>()).unwrap_or(NonNull::dangling()))
    }
}

// SAFETY: the pointer is only an address handed to wasmtime; the pages
// it points into are owned by the same `TrackedMemory`, which wasmtime
// accesses from one thread at a time.
unsafe impl Send for BasePtr {}
// SAFETY: as above; `TrackedMemory` never dereferences it.
unsafe impl Sync for BasePtr {}

struct TrackedMemory {
    pages: Vec<Page>,
    base: BasePtr,
    len: usize,
    /// The module's declared maximum.
    maximum: Option<usize>,
    /// The runtime limit, refused (and recorded) like a declared maximum.
    cap: Option<usize>,
    observed: Option<Arc<MemoryObservation>>,
}

// SAFETY: `as_ptr` is the start of `pages`, which are zero-initialised,
// 64 KiB-aligned and at least `byte_size()` long; `byte_capacity()` is
// what is allocated and initialised, so growth within it never moves the
// base; growth beyond it may move it, which the engine allows
// (`memory_may_move` is on and nothing is reserved).
unsafe impl LinearMemory for TrackedMemory {
    fn byte_size(&self) -> usize {
        self.len
    }

    fn byte_capacity(&self) -> usize {
        self.pages.len() * PAGE
    }

    fn grow_to(&mut self, new_size: usize) -> wasmtime_provider::wasmtime::Result<()> {
        if let Some(cap) = self.cap.filter(|&cap| new_size > cap) {
            if let Some(observed) = &self.observed {
                observed
                    .refused
                    .fetch_max(new_size as u64, Ordering::Relaxed);
            }
            wasmtime_provider::wasmtime::bail!(
                "cannot grow the memory to {new_size} bytes: the runtime limit is {cap} bytes"
            );
        }
        if self.maximum.is_some_and(|max| new_size > max) {
            wasmtime_provider::wasmtime::bail!(
                "cannot grow the memory to {new_size} bytes: the maximum is {:?}",
                self.maximum
            );
        }
        let pages = new_size.div_ceil(PAGE);
        if pages > self.pages.len() {
            let more = pages - self.pages.len();
            self.pages.try_reserve_exact(more).map_err(|e| {
                wasmtime_provider::wasmtime::format_err!(
                    "cannot grow the memory to {new_size} bytes: {e}"
                )
            })?;
            self.pages.resize_with(pages, || Page([0; PAGE]));
            self.base = BasePtr::of(&mut self.pages);
        }
        self.len = new_size;
        if let Some(observed) = &self.observed {
            observed.peak.fetch_max(new_size as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    fn as_ptr(&self) -> *mut u8 {
        self.base.0.as_ptr()
    }
}

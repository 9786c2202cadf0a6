//! The atomics of a split slab, and what the loom model check needs of the shared block.
//!
//! `raw::remote` and `split` take their atomics from here: `core`'s, or loom's in the loom
//! build of the unit tests (`RUSTFLAGS="--cfg loom"`, `.ci/loom.sh`), so that loom runs the
//! real `split` and `raw::remote` code (lend, give back, batch flush, collect, the owner's
//! drop, the last release and the block's free). Nothing else in the crate is atomic.

#[cfg(not(all(loom, test)))]
pub(crate) use core::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
#[cfg(all(loom, test))]
pub(crate) use loom::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};

/// Loom's view of the shared block of a split slab and of the slab's memory, and the model
/// runner of the loom tests.
///
/// Loom tracks its own objects only, so the block carries a [`BlockLife`]: a loom-tracked
/// allocation (loom reports the block leaked at the end of an execution that never freed it)
/// and a liveness flag in a loom cell, which every access to the block reads
/// (`split::touch`) and the free writes. An access the free does not happen after is a
/// race loom reports (a causality violation), one after the free fails the flag's assertion,
/// and a second free fails it too. The block's memory itself is not given back at the free
/// but quarantined until the next execution starts, so that such an access reads memory that
/// is still there and the report is loom's, not a crash. The slab's own memory comes from
/// [`LoomAlloc`], which loom tracks (leaks, double frees).
#[cfg(all(loom, test))]
pub(crate) mod check {
    use allocator_api2::alloc::{AllocError, Allocator, Layout};
    use core::ptr::NonNull;
    use std::cell::RefCell;

    /// The shared block's life, as loom sees it (see the module docs).
    pub(crate) struct BlockLife {
        live: loom::cell::UnsafeCell<bool>,
        _tracked: loom::alloc::Track<()>,
    }

    impl BlockLife {
        pub(crate) fn new() -> Self {
            BlockLife {
                live: loom::cell::UnsafeCell::new(true),
                _tracked: loom::alloc::Track::new(()),
            }
        }

        /// A tracked read: the block is live, and the free is not racing this access.
        #[track_caller]
        pub(crate) fn check(&self) {
            // SAFETY: loom checks the access (a read racing the free's write is reported).
            let live = self.live.with(|p| unsafe { *p });
            assert!(live, "the shared block was used after it was freed");
        }

        /// A tracked write, at the free: every earlier access to the block happens before.
        #[track_caller]
        pub(crate) fn end(&self) {
            self.live.with_mut(|p| {
                // SAFETY: loom checks the access (any access racing this write is reported).
                let live = unsafe { &mut *p };
                assert!(*live, "the shared block was freed twice");
                *live = false;
            });
        }
    }

    thread_local! {
        /// Blocks freed in this execution, given back when the next one starts. (Loom runs an
        /// execution's threads as coroutines on the test's own thread.)
        static QUARANTINE: RefCell<Vec<(usize, Layout)>> = const { RefCell::new(Vec::new()) };
    }

    /// Keeps a freed block's memory until the next execution (see the module docs).
    pub(crate) fn quarantine(block: *mut u8, layout: Layout) {
        QUARANTINE.with(|q| q.borrow_mut().push((block as usize, layout)));
    }

    /// Gives back the memory of the blocks freed in earlier executions.
    fn release_quarantined() {
        for (block, layout) in QUARANTINE.with(|q| std::mem::take(&mut *q.borrow_mut())) {
            // SAFETY: each came from `Box<Shared<..>>` with this layout, its contents dropped,
            // and its execution is over (no thread of it is left).
            unsafe { std::alloc::dealloc(block as *mut u8, layout) };
        }
    }

    /// The global allocator, through loom's tracking: a region never freed fails the
    /// execution (leak), one freed twice too.
    #[derive(Clone, Copy, Default)]
    pub(crate) struct LoomAlloc;

    // SAFETY: `loom::alloc::alloc`/`dealloc` are the global allocator's, with tracking.
    unsafe impl Allocator for LoomAlloc {
        fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
            assert!(layout.size() > 0);
            // SAFETY: a layout of non-zero size.
            let p = unsafe { loom::alloc::alloc(layout) };
            let p = NonNull::new(p).ok_or(AllocError)?;
            Ok(NonNull::slice_from_raw_parts(p, layout.size()))
        }

        unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
            // SAFETY: the caller's contract: `ptr` came from `allocate` with `layout`.
            unsafe { loom::alloc::dealloc(ptr.as_ptr(), layout) }
        }
    }

    /// Runs `f` under every schedule loom finds with at most `preemptions` preemptions per
    /// execution (`None`: no bound), and prints how many executions that was.
    pub(crate) fn model(
        name: &str,
        preemptions: Option<usize>,
        f: impl Fn() + Sync + Send + 'static,
    ) {
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        let runs = std::sync::Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let start = std::time::Instant::now();
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = preemptions;
        builder.check(move || {
            release_quarantined();
            counted.fetch_add(1, Relaxed);
            f();
        });
        release_quarantined();
        let n = runs.load(Relaxed);
        let bound = match preemptions {
            Some(b) => format!("at most {b} preemptions"),
            None => "no preemption bound".to_string(),
        };
        println!(
            "loom {name}: {n} executions explored ({bound}, {:.1} s)",
            start.elapsed().as_secs_f64()
        );
        assert!(n > 1, "loom explored more than one schedule");
    }
}

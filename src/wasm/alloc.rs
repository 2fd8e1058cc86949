//! The global allocator on wasm32: dlmalloc, as std's own, except that linear memory grows by
//! at least a thirty-second of its size at a time instead of the 64 KB page or two each allocation
//! needs.
//!
//! Why: every `memory.grow` gives JavaScript a new `ArrayBuffer` for the whole memory, and V8
//! counts it as new external memory until a full GC has collected the old one. With 20,000
//! `process()` calls pending (about 50 MB of memory, a page more every 30 calls), nearly every
//! grow started a mark-compact of the JS heap: the cost per call rose with the memory held
//! (`pending.flat` in `host-example/bench/package.mjs`). Growing geometrically makes the grows,
//! and the collections they start, a few score over the memory's whole life, for at most 1/32
//! more memory than needed. (A sixteenth until the memory rows measured the slack: at 7 MB
//! a sixteenth is 440 KB, and the 200 KB a 25,000-row bulk upload's call needs grew the memory
//! by all of it; a thirty-second kept `pending.flat` where it was, 0.58.)

use std::alloc::{GlobalAlloc, Layout};
use std::arch::wasm32;
use std::cell::UnsafeCell;
use std::ptr;

/// A wasm page.
const PAGE: usize = 64 * 1024;
/// A grow adds at least `1 / GROWTH` of the pages there are.
const GROWTH: usize = 32;

/// Pages to grow by when `needed` are needed and `current` there: at least `current / GROWTH`.
fn pages_to_grow(needed: usize, current: usize) -> usize {
    needed.max(current / GROWTH)
}

/// dlmalloc's system allocator: linear memory, grown geometrically (never released).
struct Geometric;

// SAFETY: `alloc` returns memory just added by `memory.grow` (owned by nobody else, zeroed by
// the wasm runtime), or null; nothing is ever remapped or released.
unsafe impl dlmalloc::Allocator for Geometric {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let needed = size.div_ceil(PAGE);
        let mut pages = pages_to_grow(needed, wasm32::memory_size(0));
        let mut prev = wasm32::memory_grow(0, pages);
        if prev == usize::MAX && pages > needed {
            // Near the memory's maximum: just what is needed.
            pages = needed;
            prev = wasm32::memory_grow(0, pages);
        }
        if prev == usize::MAX {
            return (ptr::null_mut(), 0, 0);
        }
        let (base, size) = (prev.wrapping_mul(PAGE), pages.wrapping_mul(PAGE));
        // As std's: a region ending at the top of the address space leaves its last bytes out,
        // so no pointer wraps around to 0.
        let size = if base.wrapping_add(size) == 0 { size.saturating_sub(16) } else { size };
        (base as *mut u8, size, 0)
    }

    fn remap(&self, _ptr: *mut u8, _oldsize: usize, _newsize: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _oldsize: usize, _newsize: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        true
    }

    fn page_size(&self) -> usize {
        PAGE
    }
}

/// The one dlmalloc instance.
struct Global(UnsafeCell<dlmalloc::Dlmalloc<Geometric>>);

// SAFETY: wasm32 without the atomics feature has one thread (the module is built without it;
// see the cfg on the static), and dlmalloc never calls back into the global allocator, so no
// two borrows of the instance overlap.
unsafe impl Sync for Global {}

// SAFETY: dlmalloc's methods keep `GlobalAlloc`'s contracts; the layout passed to `dealloc` and
// `realloc` is the one the memory was allocated with, as `GlobalAlloc` requires of callers.
unsafe impl GlobalAlloc for Global {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        (*self.0.get()).malloc(layout.size(), layout.align())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        (*self.0.get()).calloc(layout.size(), layout.align())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        (*self.0.get()).free(ptr, layout.size(), layout.align())
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        (*self.0.get()).realloc(ptr, layout.size(), layout.align(), new_size)
    }
}

#[cfg(not(target_feature = "atomics"))]
#[global_allocator]
static ALLOCATOR: Global = Global(UnsafeCell::new(dlmalloc::Dlmalloc::new_with_allocator(Geometric)));

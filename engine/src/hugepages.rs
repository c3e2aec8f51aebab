//! Transparent huge pages for the kernel's large arrays (component RNG streams, the event
//! queue's slab and key chunks).
//!
//! With many components nearly every event touches cold memory spread over tens of
//! megabytes; with 4 KiB pages each of those touches also misses the TLB (its reach is a few
//! MB), and a page walk is itself a chain of cache misses. Asking Linux to back these arrays
//! with 2 MiB pages (`madvise(MADV_HUGEPAGE)`, honoured when transparent huge pages are in
//! `madvise` or `always` mode) removes most of those walks. It is a hint about memory
//! layout only: no result can depend on it, and where it is unavailable (other systems, THP
//! disabled, small arrays) nothing changes.

/// Arrays smaller than this gain nothing (one huge page).
const HUGE_PAGE_BYTES: usize = 2 << 20;

/// Advises the kernel to back `v`'s whole allocation (its capacity, not only its length)
/// with transparent huge pages, if it spans at least two of them. Call it right after a
/// buffer is (re)allocated, before its spare capacity is written: pages are made huge when
/// first touched. Cheap (one system call) and safe to repeat.
pub(crate) fn advise<T>(v: &Vec<T>) {
    let len = v.capacity() * size_of::<T>();
    if len < 2 * HUGE_PAGE_BYTES {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = v.as_ptr() as usize;
        let aligned = start.next_multiple_of(PAGE);
        let end = (start + len) & !(PAGE - 1);
        if end > aligned {
            // SAFETY: `madvise` with `MADV_HUGEPAGE` only changes how the kernel backs the
            // pages of this range, which lies inside `v`'s live allocation (rounded inwards
            // to page boundaries); it never changes their contents or validity. Its result is
            // ignored on purpose: a refusal (THP disabled, old kernel) leaves normal pages.
            unsafe {
                libc::madvise(
                    aligned as *mut libc::c_void,
                    end - aligned,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
}

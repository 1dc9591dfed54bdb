//! [`AtomicSite`]: a `&'static Location` with a small tag, which one thread
//! publishes and another reads, in one word.

use std::mem;
use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// The tag fits in the alignment bits of a `Location` pointer.
const TAG_MASK: usize = 0b11;
const _: () = assert!(mem::align_of::<Location<'static>>() > TAG_MASK);

/// An atomic `Option<(&'static Location<'static>, tag)>`, the tag in
/// `0..=3`.
///
/// The loop thread stores the registration site of the callback it runs,
/// tagged with its kind; the watchdog thread reads it to say what blocks
/// the loop. One word, so publishing both costs one store.
pub(crate) struct AtomicSite {
    /// INVARIANT: null, or a pointer made from a `&'static Location<'static>`
    /// by [`store`](AtomicSite::store), its only writer, with a tag in its
    /// low bits (free: a `Location` is aligned to more than `TAG_MASK`).
    ptr: AtomicPtr<Location<'static>>,
}

impl AtomicSite {
    /// No site yet.
    pub(crate) const fn new() -> AtomicSite {
        AtomicSite {
            ptr: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Stores `site` with `tag` (only its low two bits are kept).
    #[inline(always)]
    pub(crate) fn store(&self, site: &'static Location<'static>, tag: usize, order: Ordering) {
        let tagged = ptr::from_ref(site)
            .cast_mut()
            .map_addr(|addr| addr | (tag & TAG_MASK));
        self.ptr.store(tagged, order);
    }

    /// The site and tag last stored, if any.
    pub(crate) fn load(&self, order: Ordering) -> Option<(&'static Location<'static>, usize)> {
        let tagged = self.ptr.load(order);
        let tag = tagged.addr() & TAG_MASK;
        let site = tagged.map_addr(|addr| addr & !TAG_MASK);
        // SAFETY: by the field's invariant `site` (the tag bits cleared) is
        // null or was made from a `&'static Location<'static>`, keeping its
        // provenance through `map_addr`: it points to a value that lives
        // for the rest of the program and is never written (a `Location`
        // has no interior mutability), so a shared `'static` reference to it
        // is valid on any thread.
        let site = unsafe { site.as_ref() }?;
        Some((site, tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_round_trips_with_each_tag() {
        let cell = AtomicSite::new();
        assert!(cell.load(Ordering::Relaxed).is_none());
        let site = Location::caller();
        for tag in 0..=3 {
            cell.store(site, tag, Ordering::Relaxed);
            let (back, back_tag) = cell.load(Ordering::Relaxed).unwrap();
            assert!(ptr::eq(back, site));
            assert_eq!(back_tag, tag);
        }
    }
}

//! A set of URL fingerprints in memory shared by forked processes: the processes mode's
//! alternative to asking the coordinator about every link.
//!
//! The table is an anonymous `MAP_SHARED` mapping created before the workers are forked, so
//! every process sees the same physical pages. It is lock-free open addressing over `AtomicU64`
//! slots: an insert claims an empty slot with compare-and-swap, a lookup probes until it meets
//! the fingerprint or an empty slot. Entries are never removed, so a reader can never see a
//! half-written or vanished entry. Slot 0 holds the entry count. When the table is three-quarters
//! full, inserts are refused: the set is only a filter in front of the coordinator's own dedupe,
//! so a full table costs bytes on the socket, never correctness.

use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};

/// The largest table made, in slots.
const MAX_SLOTS: usize = 1 << 28;

/// A fixed-capacity, insert-only fingerprint set in shared memory.
pub struct ShmSet {
    base: NonNull<AtomicU64>,
    /// Slots after the header; a power of two.
    slots: usize,
}

// SAFETY: the mapping is only accessed through atomics, and lives as long as the value.
unsafe impl Send for ShmSet {}
// SAFETY: as above; every access is an atomic operation on a slot.
unsafe impl Sync for ShmSet {}

/// Why a fingerprint was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    Added,
    AlreadyPresent,
    Full,
}

impl ShmSet {
    /// A set with room for `capacity` fingerprints (rounded up so the table stays at most 3/4
    /// full). The memory is reserved, not touched: pages are committed as entries land on them.
    pub fn with_capacity(capacity: usize) -> nix::Result<ShmSet> {
        // Past 2^28 slots (2 GiB of address space) the table stops growing; a full table only
        // lets more links through to the coordinator.
        let slots = (capacity.clamp(16, MAX_SLOTS / 4 * 3) / 3 * 4)
            .checked_next_power_of_two()
            .ok_or(nix::Error::EINVAL)?
            .min(MAX_SLOTS);
        let bytes = (slots + 1)
            .checked_mul(std::mem::size_of::<AtomicU64>())
            .ok_or(nix::Error::EINVAL)?;
        let len = NonZeroUsize::new(bytes).ok_or(nix::Error::EINVAL)?;
        // SAFETY: a fresh anonymous mapping, zero-filled by the kernel; zero is a valid
        // AtomicU64 and means "empty slot".
        let ptr = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED | MapFlags::MAP_NORESERVE,
            )?
        };
        Ok(ShmSet {
            base: ptr.cast(),
            slots,
        })
    }

    fn slot(&self, i: usize) -> &AtomicU64 {
        // SAFETY: callers pass i <= self.slots, inside the mapping of slots + 1 entries.
        unsafe { &*self.base.as_ptr().add(i) }
    }

    fn count(&self) -> &AtomicU64 {
        self.slot(0)
    }

    /// Entries in the set.
    pub fn len(&self) -> usize {
        self.count().load(Ordering::Relaxed) as usize
    }

    /// Zero marks an empty slot, so fingerprint 0 is stored as 1 (a harmless extra collision).
    fn key(fingerprint: u64) -> u64 {
        fingerprint.max(1)
    }

    /// Adds a fingerprint, from any process.
    pub fn insert(&self, fingerprint: u64) -> Insert {
        let key = Self::key(fingerprint);
        if self.len() >= self.slots / 4 * 3 {
            return if self.contains(fingerprint) {
                Insert::AlreadyPresent
            } else {
                Insert::Full
            };
        }
        let mask = self.slots - 1;
        let mut i = key as usize & mask;
        for _ in 0..self.slots {
            let slot = self.slot(i + 1);
            match slot.compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    self.count().fetch_add(1, Ordering::Relaxed);
                    return Insert::Added;
                }
                Err(existing) if existing == key => return Insert::AlreadyPresent,
                Err(_) => i = (i + 1) & mask,
            }
        }
        Insert::Full
    }

    /// Whether a fingerprint is in the set, from any process.
    pub fn contains(&self, fingerprint: u64) -> bool {
        let key = Self::key(fingerprint);
        let mask = self.slots - 1;
        let mut i = key as usize & mask;
        for _ in 0..self.slots {
            match self.slot(i + 1).load(Ordering::Acquire) {
                0 => return false,
                k if k == key => return true,
                _ => i = (i + 1) & mask,
            }
        }
        false
    }
}

impl Drop for ShmSet {
    fn drop(&mut self) {
        let bytes = (self.slots + 1) * std::mem::size_of::<AtomicU64>();
        // SAFETY: unmaps exactly the mapping created in `with_capacity`; no reference to it
        // outlives `self`. A failure leaves the memory mapped, which is harmless.
        let _ = unsafe { munmap(self.base.cast(), bytes) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_and_contains() {
        let s = ShmSet::with_capacity(100).expect("mmap");
        assert!(!s.contains(42));
        assert_eq!(s.insert(42), Insert::Added);
        assert_eq!(s.insert(42), Insert::AlreadyPresent);
        assert!(s.contains(42));
        assert_eq!(s.insert(0), Insert::Added);
        assert!(s.contains(0));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn refuses_inserts_past_three_quarters() {
        let s = ShmSet::with_capacity(16).expect("mmap");
        let mut added = 0;
        for fp in 1..1000u64 {
            if s.insert(fp.wrapping_mul(0x9E37_79B9_7F4A_7C15)) == Insert::Added {
                added += 1;
            }
        }
        assert_eq!(added, s.len());
        assert!((16..32).contains(&added), "{added}");
        for fp in 1..=added as u64 {
            assert!(s.contains(fp.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        }
    }

    #[test]
    fn threads_insert_concurrently_without_losing_entries() {
        let s = ShmSet::with_capacity(40_000).expect("mmap");
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                let s = &s;
                scope.spawn(move || {
                    for i in 0..10_000u64 {
                        s.insert((i * 4 + t).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                    }
                });
            }
        });
        assert_eq!(s.len(), 40_000);
        assert!((0..40_000u64).all(|i| s.contains(i.wrapping_mul(0x9E37_79B9_7F4A_7C15))));
    }
}

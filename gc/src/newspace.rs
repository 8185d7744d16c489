//! New space (eden and two survivor spaces at the bottom of the
//! reservation), the store check, the remembered set and collection requests.
//!
//! ```text
//! base                                                        old_space_start
//! | eden ............ | survivor 0 ...... | survivor 1 ...... | (unused) |
//! ```
//! Objects are bump-allocated in eden. A scavenge copies the live ones to the
//! *future* survivor space (or tenures them to old space) and the two
//! survivor spaces swap roles.

use crate::config::{GcConfig, GcKind, GcStats};
use crate::header::REMEMBERED_BIT;
use crate::heap::{Heap, BRIDGE_BYTES};
use crate::oop::Oop;
use std::io;

/// The layout and allocation pointers of new space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewSpace {
    pub eden_start: usize,
    pub eden_end: usize,
    /// Next free byte of eden.
    pub eden_ptr: usize,
    /// The two survivor spaces `(start, end)`.
    pub survivors: [(usize, usize); 2],
    /// Index of the survivor space that holds the survivors (the other is empty).
    pub past: usize,
    /// End of the objects in the past survivor space.
    pub past_ptr: usize,
}

impl NewSpace {
    pub fn past_space(&self) -> (usize, usize) {
        self.survivors[self.past]
    }
    pub fn future_space(&self) -> (usize, usize) {
        self.survivors[1 - self.past]
    }
}

impl Heap {
    /// Installs the collector's settings. Enabling new space (eden > 0) is
    /// allowed at any time; changing its size or disabling it needs an empty
    /// new space (right after loading, or after a full GC).
    pub fn set_gc_config(&mut self, config: GcConfig) -> io::Result<()> {
        let eden = config.eden_bytes & !7;
        let surv = config.survivor_size();
        let want = eden + 2 * surv;
        let current = self
            .ns
            .map(|n| (n.eden_end - n.eden_start, n.survivors[0].1 - n.survivors[0].0));
        if current != Some((eden, surv)) || eden == 0 {
            if self.young_used_bytes() > 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "new space can only be resized while it is empty",
                ));
            }
            let base = self.mem.base();
            if eden == 0 {
                self.ns = None;
                self.young_hi = self.young_lo;
            } else {
                if eden < 4096 || surv < 1024 {
                    return Err(io::Error::new(io::ErrorKind::InvalidInput, "eden too small"));
                }
                if want > self.old_space_start - base {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "eden + survivors ({want} bytes) exceed the {} bytes reserved for new space",
                            self.old_space_start - base
                        ),
                    ));
                }
                self.mem.ensure_committed(base + want)?;
                let s0 = base + eden;
                self.ns = Some(NewSpace {
                    eden_start: base,
                    eden_end: base + eden,
                    eden_ptr: base,
                    survivors: [(s0, s0 + surv), (s0 + surv, s0 + 2 * surv)],
                    past: 0,
                    past_ptr: s0,
                });
                self.young_lo = base as u64;
                self.young_hi = self.old_space_start as u64;
            }
        }
        self.gc.config = config;
        if self.gc.old_used_at_full == 0 {
            self.gc.old_used_at_full = self.old_used_bytes();
        }
        Ok(())
    }

    /// The collector's settings.
    pub fn gc_config(&self) -> &GcConfig {
        &self.gc.config
    }

    /// The new-space layout, when enabled.
    pub fn new_space(&self) -> Option<NewSpace> {
        self.ns
    }

    /// True for references to objects in new space.
    #[inline(always)]
    pub fn is_young(&self, o: Oop) -> bool {
        young_in(self.young_lo, self.young_hi, o)
    }

    /// `remember`, as a call: for store checks inlined into hot paths.
    #[cold]
    #[inline(never)]
    pub fn remember_out_of_line(&mut self, obj: Oop) {
        self.remember(obj)
    }

    /// Adds an old object to the remembered set (idempotent).
    #[inline]
    pub fn remember(&mut self, obj: Oop) {
        let h = self.header(obj);
        if !h.is_remembered() {
            self.set_header(obj, h.with_flag(REMEMBERED_BIT, true));
            self.remembered.push(obj);
        }
    }

    /// The remembered set: old objects that may hold young references.
    pub fn remembered_set(&self) -> &[Oop] {
        &self.remembered
    }

    /// Which collection the VM should run at its next safe point, if any
    /// (a full GC includes a scavenge).
    #[inline]
    pub fn gc_requested(&self) -> Option<GcKind> {
        if self.gc.full_requested {
            Some(GcKind::Full)
        } else if self.gc.scavenge_requested {
            Some(GcKind::Scavenge)
        } else {
            None
        }
    }

    /// Asks for a collection at the next safe point.
    pub fn request_gc(&mut self, kind: GcKind) {
        match kind {
            GcKind::Scavenge => self.gc.scavenge_requested = true,
            GcKind::Full => self.gc.full_requested = true,
        }
    }

    /// The `(start, end)` ranges of new space that hold objects: the past
    /// survivor space, then eden.
    pub fn young_ranges(&self) -> Vec<(usize, usize)> {
        match self.ns {
            None => Vec::new(),
            Some(ns) => {
                let mut v = Vec::with_capacity(2);
                if ns.past_ptr > ns.past_space().0 {
                    v.push((ns.past_space().0, ns.past_ptr));
                }
                if ns.eden_ptr > ns.eden_start {
                    v.push((ns.eden_start, ns.eden_ptr));
                }
                v
            }
        }
    }

    /// Bytes of objects in new space.
    pub fn young_used_bytes(&self) -> usize {
        self.young_ranges().iter().map(|r| r.1 - r.0).sum()
    }

    /// Bytes of old space holding objects (segments minus free chunks and tails).
    pub fn old_used_bytes(&self) -> usize {
        let spans: usize = self.segments.iter().map(|s| s.alloc_end - s.start).sum();
        spans - self.free.bytes
    }

    /// Bytes of old space reserved in segments (bridges included).
    pub fn old_space_bytes(&self) -> usize {
        self.segments
            .iter()
            .map(|s| s.bridge + BRIDGE_BYTES - s.start)
            .sum()
    }

    /// Statistics for `vmParameterAt:` and tools.
    pub fn stats(&self) -> GcStats {
        let mut s = self.gc.stats.clone();
        if let Some(ns) = self.ns {
            s.eden_bytes = (ns.eden_end - ns.eden_start) as u64;
            s.survivor_bytes = (ns.survivors[0].1 - ns.survivors[0].0) as u64;
        }
        s.old_space_bytes = self.old_space_bytes() as u64;
        let tails: usize = self.segments.iter().map(|s| s.bridge - s.alloc_end).sum();
        s.old_space_free_bytes = (self.free.bytes + tails) as u64;
        s.young_used_bytes = self.young_used_bytes() as u64;
        s.segments = self.segments.len() as u64;
        s.remembered_set_size = self.remembered.len() as u64;
        s.mourn_queue_size = self.gc.mourn_queue.len() as u64;
        s
    }

    /// Primitive 172 (primitiveFetchNextMourner): the next fired ephemeron.
    pub fn fetch_next_mourner(&mut self) -> Option<Oop> {
        self.gc.mourn_queue.pop_front()
    }

    /// Bump allocation in eden, or `None` when the object must go to old
    /// space (new space disabled, object large, or eden full — then a
    /// scavenge is requested).
    #[inline]
    pub(crate) fn eden_chunk(&mut self, bytes: usize) -> Option<usize> {
        let ns = self.ns.as_mut()?;
        if bytes > self.gc.config.large_object_bytes {
            return None;
        }
        if ns.eden_end - ns.eden_ptr < bytes {
            self.gc.scavenge_requested = true;
            return None;
        }
        let at = ns.eden_ptr;
        ns.eden_ptr += bytes;
        Some(at)
    }

    #[inline]
    pub(crate) fn note_allocation(&mut self) {
        self.gc.stats.allocations += 1;
        if let Some(n) = self.gc.config.stress {
            self.gc.allocs_since_stress += 1;
            if self.gc.allocs_since_stress >= n.max(1) as u64 {
                self.gc.allocs_since_stress = 0;
                self.gc.scavenge_requested = true;
            }
        }
    }

    /// Called when old space grew: requests a full GC past the threshold.
    pub(crate) fn note_old_growth(&mut self) {
        let t = self.gc.config.full_gc_growth_bytes;
        if t > 0 && self.ns.is_some() && self.old_used_bytes() > self.gc.old_used_at_full + t {
            self.gc.full_requested = true;
        }
    }
}

/// `Heap::is_young` with the new-space range `[lo, hi)` at hand, for a
/// caller that holds a borrow of the heap's memory.
#[inline(always)]
pub(crate) fn young_in(lo: u64, hi: u64, o: Oop) -> bool {
    o.0 & 7 == 0 && o.0.wrapping_sub(lo) < hi.wrapping_sub(lo)
}

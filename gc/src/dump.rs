//! Heap clones and dump files, for the lemming and for replay.
//!
//! A clone or a loaded dump lives in a fresh reservation with the same
//! layout (new space at the bottom, the same segments at the same offsets
//! from the base), so relocating it is adding one delta to every reference.
//!
//! Dump format (all integers u64 little-endian): the magic
//! `SPROCKETGCDUMP01`, then the heap's metadata (base, reservation sizes,
//! new space, segments, roots, remembered set, mourn queue, free chunks,
//! compactor capacity), the VM's root slot values, and the memory ranges
//! holding objects (new space in use, then every segment with its bridge).

use crate::config::PlantedFault;
use crate::freelist::FreeLists;
use crate::heap::{Heap, HeapConfig, Roots, Segment, BRIDGE_BYTES};
use crate::newspace::NewSpace;
use crate::oop::Oop;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

const MAGIC: &[u8; 16] = b"SPROCKETGCDUMP01";
static DUMP_COUNTER: AtomicU32 = AtomicU32::new(1);

/// Everything about a heap except its memory.
#[derive(Clone, Debug)]
struct Meta {
    base: usize,
    reserve_bytes: usize,
    new_space_bytes: usize,
    last_hash: u64,
    ns: Option<NewSpace>,
    segments: Vec<Segment>,
    roots: Roots,
    remembered: Vec<Oop>,
    mourn: Vec<Oop>,
    free: Vec<(usize, usize)>,
    saved_first_fields: usize,
}

/// A dump read back into a heap.
pub struct LoadedDump {
    pub heap: Heap,
    /// The VM's root slot values, relocated into `heap`.
    pub vm_roots: Vec<Oop>,
    /// Base address of the heap the dump was taken from.
    pub original_base: usize,
    /// `heap`'s base minus `original_base`.
    pub delta: i64,
}

impl Heap {
    fn meta(&self) -> Meta {
        Meta {
            base: self.mem.base(),
            reserve_bytes: self.config.reserve_bytes,
            new_space_bytes: self.config.new_space_bytes,
            last_hash: self.last_hash,
            ns: self.ns,
            segments: self.segments.clone(),
            roots: self.roots,
            remembered: self.remembered.clone(),
            mourn: self.gc.mourn_queue.iter().copied().collect(),
            free: self.free.chunks().collect(),
            saved_first_fields: self.gc.config.saved_first_fields,
        }
    }

    /// Memory ranges holding objects: `(address, length)`.
    fn object_ranges(&self) -> Vec<(usize, usize)> {
        let mut v: Vec<(usize, usize)> = self.young_ranges().into_iter().map(|(a, e)| (a, e - a)).collect();
        v.extend(
            self.segments
                .iter()
                .map(|s| (s.start, s.bridge + BRIDGE_BYTES - s.start)),
        );
        v
    }

    /// Builds a heap from metadata; `fill` copies the memory ranges in
    /// (given the new heap and the delta); then every reference is relocated.
    fn from_meta(
        meta: &Meta,
        fault: Option<PlantedFault>,
        fill: impl FnOnce(&mut Heap, i64) -> io::Result<()>,
    ) -> io::Result<(Heap, i64)> {
        let mut h = Heap::new(HeapConfig {
            reserve_bytes: meta.reserve_bytes,
            new_space_bytes: meta.new_space_bytes,
        })?;
        h.gc.fault = fault;
        let delta = h.mem.base() as i64 - meta.base as i64;
        let sh = |a: usize| (a as i64 + delta) as usize;
        let so = |o: Oop| {
            if o.is_object() && o.0 != 0 {
                Oop(sh(o.addr()) as u64)
            } else {
                o
            }
        };
        let top = meta
            .segments
            .last()
            .map(|s| s.bridge + BRIDGE_BYTES)
            .unwrap_or(meta.base)
            .max(meta.ns.map(|n| n.survivors[1].1).unwrap_or(meta.base));
        h.mem.ensure_committed(sh(top))?;
        if let Some(ns) = meta.ns {
            h.ns = Some(NewSpace {
                eden_start: sh(ns.eden_start),
                eden_end: sh(ns.eden_end),
                eden_ptr: sh(ns.eden_ptr),
                survivors: [
                    (sh(ns.survivors[0].0), sh(ns.survivors[0].1)),
                    (sh(ns.survivors[1].0), sh(ns.survivors[1].1)),
                ],
                past: ns.past,
                past_ptr: sh(ns.past_ptr),
            });
            h.young_lo = h.mem.base() as u64;
            h.young_hi = h.old_space_start as u64;
        }
        h.segments = meta
            .segments
            .iter()
            .map(|s| Segment {
                start: sh(s.start),
                bridge: sh(s.bridge),
                alloc_end: sh(s.alloc_end),
            })
            .collect();
        let r = meta.roots;
        h.roots = Roots {
            nil: so(r.nil),
            false_obj: so(r.false_obj),
            true_obj: so(r.true_obj),
            free_lists: so(r.free_lists),
            hidden_roots: so(r.hidden_roots),
            special_objects: so(r.special_objects),
        };
        h.remembered = meta.remembered.iter().map(|&o| so(o)).collect();
        h.gc.mourn_queue = meta.mourn.iter().map(|&o| so(o)).collect();
        h.free = FreeLists::default();
        for &(a, b) in &meta.free {
            h.free.by_size.entry(b).or_default().push(sh(a));
            h.free.bytes += b;
            h.free.count += 1;
        }
        h.last_hash = meta.last_hash;
        h.gc.config.saved_first_fields = meta.saved_first_fields;
        if let Some(ns) = h.ns {
            h.gc.config.eden_bytes = ns.eden_end - ns.eden_start;
            h.gc.config.survivor_bytes = ns.survivors[0].1 - ns.survivors[0].0;
        }
        fill(&mut h, delta)?;
        // Relocate every reference.
        let (lo, hi) = (meta.base as u64, (meta.base + meta.reserve_bytes) as u64);
        let objs: Vec<Oop> = h.objects().collect();
        for o in objs {
            for i in h.reference_slots(o) {
                let a = h.slot_addr(o, i);
                let v = h.mem.u64_at(a);
                if v & 7 == 0 && v >= lo && v < hi {
                    h.mem.set_u64_at(a, (v as i64 + delta) as u64);
                }
            }
        }
        Ok((h, delta))
    }

    /// A copy of this heap in a new reservation, and the address delta.
    pub fn clone_relocated(&self) -> io::Result<(Heap, i64)> {
        let meta = self.meta();
        let ranges = self.object_ranges();
        Heap::from_meta(&meta, self.gc.fault, |h, delta| {
            for (a, len) in ranges {
                let dst = (a as i64 + delta) as usize;
                h.mem.bytes_mut(dst, len).copy_from_slice(self.mem.bytes(a, len));
            }
            Ok(())
        })
    }

    /// `r` (a reference into `orig`) moved into this relocated copy.
    pub fn relocated(&self, r: Oop, orig: &Heap, delta: i64) -> Oop {
        let (lo, hi) = (orig.mem.base() as u64, orig.mem.reserved_end() as u64);
        if r.is_object() && r.0 >= lo && r.0 < hi {
            Oop((r.0 as i64 + delta) as u64)
        } else {
            r
        }
    }

    /// Writes a dump of this heap and the VM's root values to `path`.
    pub fn write_dump(&self, path: &Path, vm_roots: &[Oop]) -> io::Result<()> {
        let m = self.meta();
        let mut w: Vec<u8> = Vec::new();
        w.extend_from_slice(MAGIC);
        let mut put = |v: u64| w.extend_from_slice(&v.to_le_bytes());
        for v in [m.base, m.reserve_bytes, m.new_space_bytes] {
            put(v as u64);
        }
        put(m.last_hash);
        match m.ns {
            None => put(0),
            Some(ns) => {
                put(1);
                for v in [
                    ns.eden_start,
                    ns.eden_end,
                    ns.eden_ptr,
                    ns.survivors[0].0,
                    ns.survivors[0].1,
                    ns.survivors[1].0,
                    ns.survivors[1].1,
                    ns.past,
                    ns.past_ptr,
                ] {
                    put(v as u64);
                }
            }
        }
        put(m.segments.len() as u64);
        for s in &m.segments {
            put(s.start as u64);
            put(s.bridge as u64);
            put(s.alloc_end as u64);
        }
        let r = m.roots;
        for o in [
            r.nil,
            r.false_obj,
            r.true_obj,
            r.free_lists,
            r.hidden_roots,
            r.special_objects,
        ] {
            put(o.0);
        }
        for list in [&m.remembered, &m.mourn, &vm_roots.to_vec()] {
            put(list.len() as u64);
            for o in list.iter() {
                put(o.0);
            }
        }
        put(m.free.len() as u64);
        for &(a, b) in &m.free {
            put(a as u64);
            put(b as u64);
        }
        put(m.saved_first_fields as u64);
        let ranges = self.object_ranges();
        put(ranges.len() as u64);
        for &(a, len) in &ranges {
            put(a as u64);
            put(len as u64);
        }
        for &(a, len) in &ranges {
            w.extend_from_slice(self.mem.bytes(a, len));
        }
        platform::files::write_atomically(path, |f| f.write_all(&w))
    }

    /// Writes `sprocket-gc-<pid>-<n>.dump` in the dump directory (default:
    /// the current directory) and returns its path.
    pub(crate) fn write_dump_file(&mut self, vm_roots: &[Oop]) -> io::Result<PathBuf> {
        let n = DUMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        self.gc.dumps_written += 1;
        let dir = self
            .gc
            .config
            .dump_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("."));
        let path = dir.join(format!("sprocket-gc-{}-{n}.dump", std::process::id()));
        self.write_dump(&path, vm_roots)?;
        Ok(path)
    }

    /// Reads a dump written by [`Heap::write_dump`] into a new heap. The
    /// planted fault is read from the environment, as for any new heap.
    pub fn load_dump(path: &Path) -> io::Result<LoadedDump> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)?.read_to_end(&mut bytes)?;
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("bad GC dump: {what}"));
        if bytes.len() < 16 || &bytes[..16] != MAGIC {
            return Err(bad("magic"));
        }
        let mut at = 16usize;
        let mut get = || -> io::Result<u64> {
            let b = bytes.get(at..at + 8).ok_or_else(|| bad("truncated"))?;
            at += 8;
            Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
        };
        let base = get()? as usize;
        let reserve_bytes = get()? as usize;
        let new_space_bytes = get()? as usize;
        let last_hash = get()?;
        let ns = if get()? == 1 {
            let mut v = [0usize; 9];
            for x in v.iter_mut() {
                *x = get()? as usize;
            }
            Some(NewSpace {
                eden_start: v[0],
                eden_end: v[1],
                eden_ptr: v[2],
                survivors: [(v[3], v[4]), (v[5], v[6])],
                past: v[7].min(1),
                past_ptr: v[8],
            })
        } else {
            None
        };
        let nseg = get()? as usize;
        if nseg > 1 << 20 {
            return Err(bad("segment count"));
        }
        let mut segments = Vec::with_capacity(nseg);
        for _ in 0..nseg {
            segments.push(Segment {
                start: get()? as usize,
                bridge: get()? as usize,
                alloc_end: get()? as usize,
            });
        }
        let mut r = [Oop(0); 6];
        for x in r.iter_mut() {
            *x = Oop(get()?);
        }
        let mut lists: Vec<Vec<Oop>> = Vec::new();
        for _ in 0..3 {
            let n = get()? as usize;
            if n > bytes.len() {
                return Err(bad("list length"));
            }
            let mut l = Vec::with_capacity(n);
            for _ in 0..n {
                l.push(Oop(get()?));
            }
            lists.push(l);
        }
        let nfree = get()? as usize;
        if nfree > bytes.len() {
            return Err(bad("free list length"));
        }
        let mut free = Vec::with_capacity(nfree);
        for _ in 0..nfree {
            free.push((get()? as usize, get()? as usize));
        }
        let saved_first_fields = get()? as usize;
        let nr = get()? as usize;
        if nr > 1 << 20 {
            return Err(bad("range count"));
        }
        let mut ranges = Vec::with_capacity(nr);
        for _ in 0..nr {
            ranges.push((get()? as usize, get()? as usize));
        }
        let mut data_at = at;
        let vm_roots_orig = lists.pop().expect("3 lists");
        let mourn = lists.pop().expect("3 lists");
        let remembered = lists.pop().expect("3 lists");
        let meta = Meta {
            base,
            reserve_bytes,
            new_space_bytes,
            last_hash,
            ns,
            segments,
            roots: Roots {
                nil: r[0],
                false_obj: r[1],
                true_obj: r[2],
                free_lists: r[3],
                hidden_roots: r[4],
                special_objects: r[5],
            },
            remembered,
            mourn,
            free,
            saved_first_fields,
        };
        let (heap, delta) = Heap::from_meta(&meta, PlantedFault::from_env(), |h, delta| {
            for (a, len) in ranges {
                let src = bytes
                    .get(data_at..data_at + len)
                    .ok_or_else(|| bad("memory truncated"))?;
                data_at += len;
                let dst = (a as i64 + delta) as usize;
                h.mem.bytes_mut(dst, len).copy_from_slice(src);
            }
            Ok(())
        })?;
        let (lo, hi) = (base as u64, (base + reserve_bytes) as u64);
        let vm_roots = vm_roots_orig
            .iter()
            .map(|&o| {
                if o.is_object() && o.0 >= lo && o.0 < hi {
                    Oop((o.0 as i64 + delta) as u64)
                } else {
                    o
                }
            })
            .collect();
        Ok(LoadedDump {
            heap,
            vm_roots,
            original_base: base,
            delta,
        })
    }
}

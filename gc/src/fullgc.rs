//! The full collector: a tenuring scavenge (new space ends empty), marking
//! from every root with an explicit stack, weak slots and ephemerons, then
//! the planning compactor in the Spur style, then a sweep that rebuilds the
//! free lists and releases empty trailing segments.
//!
//! # The planning compactor
//!
//! Live objects slide towards low addresses, in address order, across
//! segments; pinned objects never move and compaction flows around them.
//! A *pass* plans the destinations of at most `saved_first_fields` objects:
//! each planned object's first field is saved in a side table (the bounded
//! "saved first fields" space) and replaced by its forwarding address. Then
//! every reference in the heap and the roots to a planned object is updated
//! from that forwarding address, the objects are moved (ascending, so moves
//! never overwrite an object not yet moved) and their first fields restored.
//! The next pass continues where the previous one stopped, with the same
//! destination pointer, so every pass moves objects only downward, and a
//! pass that finds nothing left to move ends the compaction: when an earlier
//! pass already compacted everything, the next pass does nothing. (The
//! OpenSmalltalk VM got exactly this case wrong in 2019: a later pass moved
//! objects upward and corrupted the heap. `SPROCKET_GC_FAULT=compact-upward`
//! plants that bug on purpose.)

use crate::config::{GcFault, PlantedFault};
use crate::header::{format, MARKED_BIT, WORD};
use crate::heap::Heap;
use crate::method::MethodHeader;
use crate::oop::Oop;
use crate::scavenge::{RootVisitor, ScavengeReport};
use crate::verify::{verify, Finding, VerifyOptions};
use std::collections::VecDeque;
use std::time::Instant;

/// Phase timings, and checks between phases when `check` is on.
pub(crate) struct PhaseLog {
    pub check: bool,
    /// Run the cheap checks (compaction plans) even when `check` is off.
    pub cheap_checks: bool,
    pub phases: Vec<(String, u64)>,
    /// Phases whose checks passed (for replay reports).
    pub passed: Vec<String>,
    last: Instant,
    /// Added to finding addresses in reports (clone → original heap).
    pub addr_bias: i64,
}

impl PhaseLog {
    pub fn new(check: bool) -> PhaseLog {
        PhaseLog {
            check,
            cheap_checks: false,
            phases: Vec::new(),
            passed: Vec::new(),
            last: Instant::now(),
            addr_bias: 0,
        }
    }

    /// Ends a phase: records its time, then (when checking) runs `check`.
    pub fn end(
        &mut self,
        heap: &Heap,
        name: &str,
        check: impl FnOnce(&Heap) -> Vec<Finding>,
    ) -> Result<(), GcFault> {
        self.end_with(heap, name, self.check, check)
    }

    /// Like `end` for a cheap check, also run under `cheap_checks`.
    pub fn end_cheap(
        &mut self,
        heap: &Heap,
        name: &str,
        check: impl FnOnce(&Heap) -> Vec<Finding>,
    ) -> Result<(), GcFault> {
        self.end_with(heap, name, self.check || self.cheap_checks, check)
    }

    fn end_with(
        &mut self,
        heap: &Heap,
        name: &str,
        run: bool,
        check: impl FnOnce(&Heap) -> Vec<Finding>,
    ) -> Result<(), GcFault> {
        let us = self.last.elapsed().as_micros() as u64;
        self.phases.push((name.to_string(), us));
        if run {
            let mut findings = check(heap);
            if !findings.is_empty() {
                for f in &mut findings {
                    f.addr = (f.addr as i64).wrapping_sub(self.addr_bias) as usize;
                }
                return Err(GcFault {
                    phase: format!("full gc: {name}"),
                    findings,
                    dump: None,
                });
            }
            self.passed.push(name.to_string());
        }
        self.last = Instant::now();
        Ok(())
    }
}

/// What a full GC did.
#[derive(Clone, Debug, Default)]
pub(crate) struct FullReport {
    pub scavenge: ScavengeReport,
    pub mourners: usize,
    pub weak_nilled: usize,
    pub passes: u32,
    pub live_objects: u64,
}

struct Marker {
    stack: Vec<Oop>,
    weak: Vec<Oop>,
    ephemerons: Vec<Oop>,
    lo: usize,
    hi: usize,
}

impl Heap {
    #[inline]
    fn in_old(&self, o: Oop, lo: usize, hi: usize) -> bool {
        o.is_object() && o.addr() >= lo && o.addr() < hi
    }

    /// Follows become forwarders (anywhere in the heap).
    pub fn follow(&self, mut o: Oop) -> Oop {
        let (lo, hi) = (self.young_lo as usize, self.old_space_end());
        for _ in 0..1024 {
            if !o.is_object() || o.addr() < lo.min(self.old_space_start) || o.addr() >= hi {
                return o;
            }
            if !self.header(o).is_forwarder() {
                return o;
            }
            o = Oop(self.mem.u64_at(o.addr() + WORD));
        }
        o
    }

    fn mark_obj(&mut self, m: &mut Marker, o: Oop) {
        if !self.in_old(o, m.lo, m.hi) {
            return;
        }
        let h = self.header(o);
        if h.is_marked() || h.is_free() {
            return;
        }
        self.set_header(o, h.with_flag(MARKED_BIT, true));
        m.stack.push(o);
    }

    fn mark_ref_slot(&mut self, m: &mut Marker, o: Oop, i: usize) {
        let a = self.slot_addr(o, i);
        let v = Oop(self.mem.u64_at(a));
        if !v.is_object() {
            return;
        }
        let t = self.follow(v);
        if t != v {
            self.mem.set_u64_at(a, t.0);
        }
        self.mark_obj(m, t);
    }

    fn trace(&mut self, m: &mut Marker, o: Oop, strong: bool) {
        let h = self.header(o);
        let f = h.format();
        let n = self.num_slots(o);
        let range = if h.is_forwarder() {
            0..1
        } else if f == format::WEAK && !strong {
            m.weak.push(o);
            0..self.fixed_fields_of(o)
        } else if f == format::EPHEMERON && !strong && n > 0 {
            let key = self.follow(self.slot(o, 0));
            if self.in_old(key, m.lo, m.hi) && !self.header(key).is_marked() {
                m.ephemerons.push(o);
                return;
            }
            0..n
        } else if format::is_pointers(f) {
            0..n
        } else {
            self.reference_slots(o)
        };
        for i in range {
            self.mark_ref_slot(m, o, i);
        }
    }

    fn drain_marks(&mut self, m: &mut Marker) {
        while let Some(o) = m.stack.pop() {
            self.trace(m, o, false);
        }
    }

    /// Marks everything reachable; returns (mourners queued, weak slots nilled).
    fn mark_phase(&mut self, roots: RootVisitor<'_>) -> (usize, usize) {
        let mut m = Marker {
            stack: Vec::new(),
            weak: Vec::new(),
            ephemerons: Vec::new(),
            lo: self.old_space_start,
            hi: self.old_space_end(),
        };
        let mut r = self.roots;
        for f in r.fields_mut() {
            *f = self.follow(*f);
            self.mark_obj(&mut m, *f);
        }
        self.roots = r;
        for i in 0..self.gc.mourn_queue.len() {
            let t = self.follow(self.gc.mourn_queue[i]);
            self.gc.mourn_queue[i] = t;
            self.mark_obj(&mut m, t);
        }
        roots(&mut |p: &mut Oop| {
            let t = self.follow(*p);
            *p = t;
            self.mark_obj(&mut m, t);
        });
        self.drain_marks(&mut m);
        let mut mourners = 0;
        loop {
            let pending = std::mem::take(&mut m.ephemerons);
            if pending.is_empty() {
                break;
            }
            let (ready, dead): (Vec<Oop>, Vec<Oop>) = pending.into_iter().partition(|&e| {
                let key = self.follow(self.slot(e, 0));
                !self.in_old(key, m.lo, m.hi) || self.header(key).is_marked()
            });
            if !ready.is_empty() {
                m.ephemerons = dead;
                for e in ready {
                    self.trace(&mut m, e, true);
                }
            } else {
                for e in dead {
                    self.fire_ephemeron(e);
                    mourners += 1;
                    self.trace(&mut m, e, true);
                }
            }
            self.drain_marks(&mut m);
        }
        // Weak slots to unmarked objects become nil.
        let nil = self.nil();
        let mut nilled = 0;
        for w in std::mem::take(&mut m.weak) {
            for i in self.fixed_fields_of(w)..self.num_slots(w) {
                let a = self.slot_addr(w, i);
                let v = Oop(self.mem.u64_at(a));
                if !v.is_object() {
                    continue;
                }
                let t = self.follow(v);
                if self.in_old(t, m.lo, m.hi) && !self.header(t).is_marked() {
                    self.mem.set_u64_at(a, nil.0);
                    nilled += 1;
                } else if t != v {
                    self.mem.set_u64_at(a, t.0);
                }
            }
        }
        (mourners, nilled)
    }

    /// The full collection proper. Checks between phases when `log.check`.
    pub(crate) fn full_gc_raw(
        &mut self,
        roots: RootVisitor<'_>,
        log: &mut PhaseLog,
    ) -> Result<FullReport, GcFault> {
        let mut report = FullReport {
            scavenge: self.scavenge_raw(roots, true),
            ..FullReport::default()
        };
        log.end(self, "tenure", |h| {
            let mut f = verify(h, VerifyOptions::default());
            if h.young_used_bytes() != 0 {
                f.push(Finding {
                    addr: h.young_lo as usize,
                    field: None,
                    what: "new space not empty after the tenuring scavenge".into(),
                });
            }
            f
        })?;
        let (mourners, nilled) = self.mark_phase(roots);
        report.mourners = mourners;
        report.weak_nilled = nilled;
        log.end(self, "mark", |h| {
            let mut f = verify(h, VerifyOptions::default());
            f.extend(h.check_marking());
            f
        })?;
        let cap = match self.gc.config.saved_first_fields {
            0 => (1 << 20).max(self.old_used_bytes() / 512),
            n => n,
        };
        let mut c = Compactor::new(cap, self);
        loop {
            let mut plan = c.plan_pass(self);
            if plan.moves.is_empty() {
                if self.gc.fault == Some(PlantedFault::CompactUpward) && c.pass > 0 {
                    if let Some(p) = c.planted_fault_replan(self) {
                        plan = p;
                    }
                }
                if plan.moves.is_empty() {
                    break;
                }
            }
            c.pass += 1;
            let pass = c.pass;
            let bias = log.addr_bias;
            log.end_cheap(self, &format!("compact pass {pass}: plan"), |h| {
                c.check_plan(h, &plan, bias)
            })?;
            self.update_pass(&plan, roots);
            log.end(self, &format!("compact pass {pass}: update"), |_| Vec::new())?;
            self.move_pass(&plan);
            c.finish_pass_layout(self, &plan);
            log.end(self, &format!("compact pass {pass}: move"), |h| {
                verify(
                    h,
                    VerifyOptions {
                        only_marked: true,
                        ..VerifyOptions::default()
                    },
                )
            })?;
            if c.done {
                break;
            }
        }
        report.passes = c.pass;
        report.live_objects = self.sweep_after_compaction();
        log.end(self, "sweep", |h| {
            verify(
                h,
                VerifyOptions {
                    allow_forwarders: false,
                    ..VerifyOptions::default()
                },
            )
        })?;
        Ok(report)
    }

    /// After marking: every reference (other than weak slots) of a marked
    /// object leads to a marked object.
    pub(crate) fn check_marking(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let (lo, hi) = (self.old_space_start, self.old_space_end());
        for o in self.old_objects() {
            let h = self.header(o);
            if !h.is_marked() || h.is_free() {
                continue;
            }
            let f = h.format();
            let range = if f == format::WEAK {
                0..self.fixed_fields_of(o)
            } else if format::is_pointers(f) {
                0..self.num_slots(o)
            } else {
                self.reference_slots(o)
            };
            for i in range {
                let v = self.slot(o, i);
                if self.in_old(v, lo, hi) && !self.header(v).is_marked() && out.len() < 100 {
                    out.push(Finding {
                        addr: o.addr(),
                        field: Some(i),
                        what: format!("marked object refers to unmarked {:#x}", v.0),
                    });
                }
            }
        }
        out
    }

    fn update_pass(&mut self, plan: &Plan, roots: RootVisitor<'_>) {
        let (lo, hi) = plan.range;
        let fwd = |h: &Heap, v: Oop| -> Option<Oop> {
            if v.is_object() && v.addr() >= lo && v.addr() < hi {
                let hd = h.header(v);
                if hd.is_marked() && !hd.is_pinned() && !hd.is_free() {
                    return Some(Oop(h.mem.u64_at(v.addr() + WORD)));
                }
            }
            None
        };
        let mut idx = 0;
        let segs = self.segments.clone();
        for seg in &segs {
            let mut at = seg.start;
            while at < seg.alloc_end {
                let o = self.object_at_chunk(at);
                let next = self.address_after(o);
                let h = self.header(o);
                at = next;
                if !h.is_marked() || h.is_free() {
                    continue;
                }
                let planned = o.addr() >= lo && o.addr() < hi && !h.is_pinned();
                let first = if planned {
                    debug_assert_eq!(plan.moves[idx].src + plan.moves[idx].off, o.addr());
                    idx += 1;
                    Some(idx - 1)
                } else {
                    None
                };
                let f = h.format();
                let n = self.num_slots(o);
                let range = if format::is_pointers(f) {
                    0..n
                } else if format::is_compiled_method(f) {
                    let hdr = match first {
                        Some(i) => Oop(plan.saved_get(i)),
                        None => self.slot(o, 0),
                    };
                    match MethodHeader::from_oop(hdr) {
                        Some(mh) => 1..(1 + mh.num_literals()).min(n),
                        None => 0..0,
                    }
                } else {
                    0..0
                };
                for i in range {
                    if i == 0 {
                        if let Some(k) = first {
                            if let Some(t) = fwd(self, Oop(plan.saved_get(k))) {
                                plan.saved_set(k, t.0);
                            }
                            continue;
                        }
                    }
                    let a = self.slot_addr(o, i);
                    if let Some(t) = fwd(self, Oop(self.mem.u64_at(a))) {
                        self.mem.set_u64_at(a, t.0);
                    }
                }
            }
        }
        let mut r = self.roots;
        for f in r.fields_mut() {
            if let Some(t) = fwd(self, *f) {
                *f = t;
            }
        }
        self.roots = r;
        for i in 0..self.gc.mourn_queue.len() {
            if let Some(t) = fwd(self, self.gc.mourn_queue[i]) {
                self.gc.mourn_queue[i] = t;
            }
        }
        for i in 0..self.remembered.len() {
            if let Some(t) = fwd(self, self.remembered[i]) {
                self.remembered[i] = t;
            }
        }
        roots(&mut |p: &mut Oop| {
            if let Some(t) = fwd(self, *p) {
                *p = t;
            }
        });
    }

    fn move_pass(&mut self, plan: &Plan) {
        for (i, m) in plan.moves.iter().enumerate() {
            self.mem.copy(m.src, m.dst, m.bytes);
            self.mem.set_u64_at(m.dst + m.off + WORD, plan.saved_get(i));
        }
    }

    /// Clears marks, turns dead space into free chunks, releases empty
    /// trailing segments and makes the last segment's free tail its bump
    /// area. Returns the number of live objects.
    fn sweep_after_compaction(&mut self) -> u64 {
        self.free.clear();
        let mut live = 0u64;
        let n = self.segments.len();
        let mut trailing = vec![0usize; n];
        for (k, t) in trailing.iter_mut().enumerate() {
            let seg = self.segments[k];
            let mut at = seg.start;
            let mut run: Option<usize> = None;
            while at < seg.alloc_end {
                let o = self.object_at_chunk(at);
                let h = self.header(o);
                let end = self.address_after(o);
                if h.is_marked() && !h.is_free() {
                    self.set_header(o, h.with_flag(MARKED_BIT, false));
                    live += 1;
                    if let Some(r) = run.take() {
                        self.add_free_range(r, at - r);
                    }
                } else {
                    run.get_or_insert(at);
                }
                at = end;
            }
            *t = run.unwrap_or(seg.alloc_end);
        }
        while self.segments.len() > 1 {
            let last = *self.segments.last().expect("segment");
            if trailing[self.segments.len() - 1] != last.start {
                break;
            }
            self.segments.pop();
            trailing.pop();
            let prev = self.segments.last().expect("segment").bridge;
            self.write_bridge(prev, 0);
            self.mem.decommit_above(self.old_space_end());
        }
        let n = self.segments.len();
        for (k, &t) in trailing.iter().enumerate() {
            let seg = self.segments[k];
            if k + 1 == n {
                self.segments[k].alloc_end = t;
            } else if seg.bridge - t >= 2 * WORD {
                self.add_free_range(t, seg.bridge - t);
                self.segments[k].alloc_end = seg.bridge;
            } else {
                self.segments[k].alloc_end = t;
            }
        }
        // The image-level free lists object: Sprocket keeps its lists in Rust.
        let fl = self.roots.free_lists;
        if fl.is_object() && self.is_in_old_space(fl.addr()) && !format::is_pointers(self.format(fl)) {
            for i in 0..self.num_slots(fl) {
                let a = self.slot_addr(fl, i);
                self.mem.set_u64_at(a, 0);
            }
        }
        live
    }
}

#[derive(Clone, Copy, Debug)]
struct Move {
    /// Chunk addresses (overflow word included).
    src: usize,
    dst: usize,
    bytes: usize,
    /// Object address minus chunk address (0 or 8).
    off: usize,
}

#[derive(Clone, Copy, Debug)]
struct Pin {
    seg: usize,
    start: usize,
    end: usize,
}

/// One pass's plan.
#[derive(Default)]
struct Plan {
    moves: Vec<Move>,
    /// The saved first fields (interior mutability: updated during the update phase).
    saved: std::cell::RefCell<Vec<u64>>,
    /// Source addresses `[lo, hi)` covered by the pass.
    range: (usize, usize),
    /// Segments the destination left during the pass: (segment, new end of objects).
    seg_ends: Vec<(usize, usize)>,
    /// Gaps left before pinned objects.
    holes: Vec<(usize, usize)>,
}

impl Plan {
    fn saved_get(&self, i: usize) -> u64 {
        self.saved.borrow()[i]
    }
    fn saved_set(&self, i: usize, v: u64) {
        self.saved.borrow_mut()[i] = v;
    }
}

struct Compactor {
    cap: usize,
    started: bool,
    dseg: usize,
    dest: usize,
    sseg: usize,
    from: usize,
    pins: VecDeque<Pin>,
    done: bool,
    pass: u32,
    /// First destination and first source of the last pass with moves.
    last_first: Option<(usize, usize, usize, usize)>,
}

impl Compactor {
    fn new(cap: usize, h: &Heap) -> Compactor {
        Compactor {
            cap,
            started: false,
            dseg: 0,
            dest: 0,
            sseg: 0,
            from: h.segments.first().map(|s| s.start).unwrap_or(0),
            pins: VecDeque::new(),
            done: h.segments.is_empty(),
            pass: 0,
            last_first: None,
        }
    }

    fn plan_pass(&mut self, h: &mut Heap) -> Plan {
        let segs = h.segments.clone();
        let mut plan = Plan {
            range: (usize::MAX, usize::MAX),
            ..Plan::default()
        };
        let mut saved = Vec::new();
        'scan: loop {
            if self.sseg >= segs.len() {
                self.done = true;
                break;
            }
            let seg = segs[self.sseg];
            if self.from >= seg.alloc_end {
                self.sseg += 1;
                if let Some(s) = segs.get(self.sseg) {
                    self.from = s.start;
                }
                continue;
            }
            let chunk = self.from;
            let obj = h.object_at_chunk(chunk);
            let hd = h.header(obj);
            let end = h.address_after(obj);
            let bytes = end - chunk;
            let live = hd.is_marked() && !hd.is_free();
            if !live {
                if !self.started {
                    self.started = true;
                    self.dseg = self.sseg;
                    self.dest = chunk;
                }
                self.from = end;
                continue;
            }
            if hd.is_pinned() {
                if self.started {
                    self.pins.push_back(Pin {
                        seg: self.sseg,
                        start: chunk,
                        end,
                    });
                }
                self.from = end;
                continue;
            }
            if !self.started {
                self.from = end;
                continue;
            }
            loop {
                let (limit, pinned) = match self.pins.front() {
                    Some(p) if p.seg == self.dseg => (p.start, true),
                    _ => (segs[self.dseg].bridge, false),
                };
                let fits = if pinned {
                    self.dest + bytes == limit || self.dest + bytes + 2 * WORD <= limit
                } else {
                    self.dest + bytes <= limit
                };
                if fits {
                    break;
                }
                if pinned {
                    let p = self.pins.pop_front().expect("pin");
                    if self.dest < p.start {
                        plan.holes.push((self.dest, p.start));
                    }
                    self.dest = p.end;
                } else {
                    plan.seg_ends.push((self.dseg, self.dest));
                    self.dseg += 1;
                    if self.dseg >= segs.len() {
                        // Only reachable with a corrupt plan (the planted fault).
                        self.dseg = segs.len() - 1;
                        self.done = true;
                        break 'scan;
                    }
                    self.dest = segs[self.dseg].start;
                }
            }
            if plan.range.0 == usize::MAX {
                plan.range.0 = chunk;
            }
            let off = obj.addr() - chunk;
            saved.push(h.mem.u64_at(obj.addr() + WORD));
            h.mem.set_u64_at(obj.addr() + WORD, (self.dest + off) as u64);
            plan.moves.push(Move {
                src: chunk,
                dst: self.dest,
                bytes,
                off,
            });
            self.dest += bytes;
            self.from = end;
            if plan.moves.len() >= self.cap {
                // The saved-first-fields space is full: the next pass continues here.
                break;
            }
        }
        plan.range.1 = if self.sseg < segs.len() {
            self.from
        } else {
            usize::MAX
        };
        if let (Some(first), Some(_)) = (plan.moves.first(), plan.moves.last()) {
            let dseg = seg_of(&segs, first.dst);
            let sseg = seg_of(&segs, first.src);
            self.last_first = Some((dseg, first.dst, sseg, first.src));
        }
        *plan.saved.borrow_mut() = saved;
        plan
    }

    /// The planted 2019 bug: a pass that found nothing to do restarts from
    /// the previous pass's first destination with the stale free pointer (the
    /// previous pass's first source address), so objects move upward.
    fn planted_fault_replan(&mut self, h: &mut Heap) -> Option<Plan> {
        let (dseg, dst, sseg, src) = self.last_first?;
        self.started = true;
        self.pins.clear();
        self.sseg = dseg;
        self.from = dst;
        self.dseg = sseg;
        self.dest = src;
        self.done = false;
        let plan = self.plan_pass(h);
        self.done = true;
        Some(plan)
    }

    /// Invariants of a plan: every object moves downward (or stays), the
    /// destinations do not overlap each other or pinned objects, and fit
    /// inside their segments.
    fn check_plan(&self, h: &Heap, plan: &Plan, bias: i64) -> Vec<Finding> {
        let mut out = Vec::new();
        let orig = |a: usize| (a as i64).wrapping_sub(bias) as usize;
        let mut prev_end = 0usize;
        for (i, m) in plan.moves.iter().enumerate() {
            let obj = m.src + m.off;
            if m.dst > m.src {
                out.push(Finding {
                    addr: obj,
                    field: None,
                    what: format!(
                        "planned to move upward from {:#x} to {:#x} (move {i} of the pass)",
                        orig(obj),
                        orig(m.dst + m.off)
                    ),
                });
            }
            if m.dst < prev_end {
                out.push(Finding {
                    addr: obj,
                    field: None,
                    what: format!("destination {:#x} overlaps the previous destination", orig(m.dst)),
                });
            }
            prev_end = m.dst + m.bytes;
            let seg = h.segments.iter().find(|s| m.dst >= s.start && m.dst < s.bridge);
            match seg {
                Some(s) if m.dst + m.bytes <= s.bridge => {}
                _ => out.push(Finding {
                    addr: obj,
                    field: None,
                    what: format!("destination {:#x} does not fit in a segment", orig(m.dst)),
                }),
            }
            if out.len() >= 50 {
                break;
            }
        }
        out
    }

    /// After the moves: writes free chunks into the gaps the pass left and
    /// sets the end of objects of every segment it emptied or filled.
    fn finish_pass_layout(&self, h: &mut Heap, plan: &Plan) {
        for &(a, b) in &plan.holes {
            h.write_free_range(a, b - a);
        }
        for &(k, end) in &plan.seg_ends {
            h.segments[k].alloc_end = end;
        }
        let n = h.segments.len();
        if n == 0 {
            return;
        }
        let last = self.sseg.min(n - 1);
        for k in self.dseg..=last {
            let seg = h.segments[k];
            let mut cur = if k == self.dseg { self.dest } else { seg.start };
            let interior = k == self.sseg;
            let pins: Vec<Pin> = self.pins.iter().filter(|p| p.seg == k).copied().collect();
            for p in pins {
                if p.start < cur {
                    continue;
                }
                if cur < p.start {
                    h.write_free_range(cur, p.start - cur);
                }
                cur = p.end;
            }
            if interior {
                if cur < self.from {
                    h.write_free_range(cur, self.from - cur);
                }
            } else {
                h.segments[k].alloc_end = cur;
            }
        }
    }
}

fn seg_of(segs: &[crate::heap::Segment], a: usize) -> usize {
    segs.iter()
        .position(|s| a >= s.start && a <= s.bridge)
        .unwrap_or(segs.len().saturating_sub(1))
}

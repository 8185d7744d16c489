//! The generational scavenger: Cheney copying of live young objects into
//! the future survivor space, tenuring to old space by age (an object that
//! survives its second scavenge — one found in the past survivor space — is
//! tenured) or when the survivor space overflows, pinned young objects
//! tenured at once. Roots: the VM's root slots (through the visitor), the
//! heap's roots, the mourn queue and the remembered set. Weak slots to dead
//! young objects become nil; ephemerons whose young key is reached only
//! through them fire (queued for mourning).

use crate::header::{class_index, format, object_bytes, Header, REMEMBERED_BIT, WORD};
use crate::heap::Heap;
use crate::newspace::{young_in, NewSpace};
use crate::oop::Oop;

/// The VM's root visitor: called with a function to apply to every root slot.
pub type RootVisitor<'a> = &'a mut dyn FnMut(&mut dyn FnMut(&mut Oop));

/// What a scavenge did.
#[derive(Clone, Debug, Default)]
pub(crate) struct ScavengeReport {
    pub survived: u64,
    pub tenured: u64,
    pub mourners: usize,
    pub weak_nilled: usize,
}

struct Scavenger<'h> {
    h: &'h mut Heap,
    ns: NewSpace,
    past: (usize, usize),
    fut_ptr: usize,
    fut_end: usize,
    scan_ptr: usize,
    tenure_all: bool,
    /// `Heap::young_lo`/`young_hi`: one test rules out the old objects that
    /// most slots a scavenge reads refer to.
    young: (u64, u64),
    to_scan: Vec<Oop>,
    tenured: Vec<Oop>,
    weak: Vec<Oop>,
    ephemerons: Vec<Oop>,
    report: ScavengeReport,
}

impl Scavenger<'_> {
    #[inline]
    fn in_from(&self, a: u64) -> bool {
        let a = a as usize;
        (a >= self.ns.eden_start && a < self.ns.eden_ptr) || (a >= self.past.0 && a < self.past.1)
    }

    #[inline(always)]
    fn is_from_obj(&self, o: Oop) -> bool {
        young_in(self.young.0, self.young.1, o) && self.in_from(o.0)
    }

    /// Follows forwarders inside from-space without copying.
    fn resolve(&self, mut o: Oop) -> Oop {
        for _ in 0..64 {
            if !self.is_from_obj(o) || !self.h.header(o).is_forwarder() {
                return o;
            }
            o = Oop(self.h.mem.u64_at(o.addr() + WORD));
        }
        o
    }

    /// The new location of `o`, copying it if it is a young object not yet copied.
    #[inline(always)]
    fn copy(&mut self, o: Oop) -> Oop {
        if self.is_from_obj(o) {
            self.copy_young(o)
        } else {
            o
        }
    }

    /// `copy` of an object in from-space: its forwarder's target, or a copy.
    #[inline(never)]
    fn copy_young(&mut self, o: Oop) -> Oop {
        let mut h = self.h.header(o);
        let mut o = o;
        if h.is_forwarder() {
            o = self.resolve(o);
            if !self.is_from_obj(o) {
                return o;
            }
            h = self.h.header(o);
        }
        // The slot count from the header already read; the overflow word
        // only for large objects.
        let (n, chunk) = if h.num_slots_field() == crate::header::OVERFLOW_SLOTS {
            (self.h.num_slots(o), o.addr() - WORD)
        } else {
            (h.num_slots_field(), o.addr())
        };
        let bytes = object_bytes(n);
        let off = o.addr() - chunk;
        let in_past = o.addr() >= self.past.0 && o.addr() < self.past.1;
        let tenure = self.tenure_all || in_past || h.is_pinned() || self.fut_end - self.fut_ptr < bytes;
        let dst = if tenure {
            match self.h.allocate_old_chunk(bytes) {
                Ok(a) => a,
                Err(e) => panic!("out of memory while tenuring {bytes} bytes: {e:?}"),
            }
        } else {
            let a = self.fut_ptr;
            self.fut_ptr += bytes;
            a
        };
        self.h.mem.copy_object(chunk, dst, bytes);
        let new = Oop::from_addr(dst + off);
        self.h.set_header(
            o,
            Header::new(class_index::FORWARDER, format::IMMEDIATE, h.num_slots_field(), 0),
        );
        self.h.mem.set_u64_at(o.addr() + WORD, new.0);
        if tenure {
            self.report.tenured += 1;
            self.to_scan.push(new);
            self.tenured.push(new);
        } else {
            self.report.survived += 1;
        }
        new
    }

    #[inline(always)]
    fn update_slot(&mut self, obj: Oop, i: usize) {
        let a = obj.addr() + WORD + i * WORD;
        let v = Oop(self.h.mem.u64_at(a));
        if self.is_from_obj(v) {
            let n = self.copy_young(v);
            self.h.mem.set_u64_at(a, n.0);
        }
    }

    /// Scans a copied, tenured or remembered object.
    fn scan(&mut self, o: Oop) {
        let h = self.h.header(o);
        if h.is_forwarder() {
            self.update_slot(o, 0);
            return;
        }
        if h.is_free() {
            return;
        }
        let f = h.format();
        match f {
            format::WEAK => {
                let fixed = self.h.fixed_fields_of(o);
                for i in 0..fixed {
                    self.update_slot(o, i);
                }
                self.weak.push(o);
            }
            format::EPHEMERON => {
                let n = self.h.num_slots(o);
                if n > 0 {
                    let key = self.resolve(self.h.slot(o, 0));
                    if self.is_from_obj(key) {
                        self.ephemerons.push(o);
                        return;
                    }
                }
                for i in 0..n {
                    self.update_slot(o, i);
                }
            }
            _ => {
                for i in self.h.reference_slots(o) {
                    self.update_slot(o, i);
                }
            }
        }
    }

    fn scan_strong(&mut self, o: Oop) {
        for i in 0..self.h.num_slots(o) {
            self.update_slot(o, i);
        }
    }

    fn drain(&mut self) {
        loop {
            if self.scan_ptr < self.fut_ptr {
                let o = self.h.object_at_chunk(self.scan_ptr);
                self.scan_ptr = self.h.address_after(o);
                self.scan(o);
            } else if let Some(t) = self.to_scan.pop() {
                self.scan(t);
            } else {
                return;
            }
        }
    }

    fn ephemerons(&mut self) {
        loop {
            let pending = std::mem::take(&mut self.ephemerons);
            if pending.is_empty() {
                return;
            }
            let (ready, dead): (Vec<Oop>, Vec<Oop>) = pending.into_iter().partition(|&e| {
                let key = self.resolve(self.h.slot(e, 0));
                !self.is_from_obj(key)
            });
            if !ready.is_empty() {
                self.ephemerons = dead;
                for e in ready {
                    self.scan_strong(e);
                }
            } else {
                for e in dead {
                    self.h.fire_ephemeron(e);
                    self.report.mourners += 1;
                    self.scan_strong(e);
                }
            }
            self.drain();
        }
    }

    fn weak_slots(&mut self) {
        let nil = self.h.nil();
        for w in std::mem::take(&mut self.weak) {
            let fixed = self.h.fixed_fields_of(w);
            for i in fixed..self.h.num_slots(w) {
                let v = self.h.slot(w, i);
                if self.is_from_obj(v) {
                    let t = self.resolve(v);
                    let nv = if self.is_from_obj(t) {
                        self.report.weak_nilled += 1;
                        nil
                    } else {
                        t
                    };
                    self.h.mem.set_u64_at(self.h.slot_addr(w, i), nv.0);
                }
            }
        }
    }
}

impl Heap {
    /// The number of named (non-indexable) fields of a pointer object,
    /// from its class's format (0 when the class cannot be found).
    pub(crate) fn fixed_fields_of(&self, o: Oop) -> usize {
        let ci = self.header(o).class_index();
        let Some(mut class) = self.class_at_index(ci) else {
            return 0;
        };
        for _ in 0..8 {
            if self.header(class).is_forwarder() {
                class = Oop(self.mem.u64_at(class.addr() + WORD));
            } else {
                break;
            }
        }
        if !format::is_pointers(self.format(class)) || self.num_slots(class) <= crate::specials::class::FORMAT
        {
            return 0;
        }
        self.class_format(class)
            .map(|(_, fixed)| fixed)
            .unwrap_or(0)
            .min(self.num_slots(o))
    }

    /// Fires an ephemeron: it will not fire again (its format becomes fixed
    /// pointers) and it goes on the mourn queue.
    pub(crate) fn fire_ephemeron(&mut self, e: Oop) {
        let h = self.header(e);
        self.set_header(e, h.with_format(format::FIXED));
        self.gc.mourn_queue.push_back(e);
    }

    /// True when some reference slot of `o` holds a young object.
    pub(crate) fn has_young_refs(&self, o: Oop) -> bool {
        let h = self.header(o);
        let range = if h.is_forwarder() {
            0..1
        } else if format::is_pointers(h.format()) {
            0..self.num_slots(o)
        } else {
            self.reference_slots(o)
        };
        // One range check for the slots, not one per slot.
        let (lo, hi) = (self.young_lo, self.young_hi);
        self.slot_words(o, range.end)[range.start..]
            .iter()
            .any(|&w| young_in(lo, hi, Oop(w)))
    }

    /// The scavenge proper (no checks, no statistics). With `tenure_all`
    /// every live young object goes to old space and new space ends empty.
    pub(crate) fn scavenge_raw(&mut self, roots: RootVisitor<'_>, tenure_all: bool) -> ScavengeReport {
        let Some(ns) = self.ns else {
            return ScavengeReport::default();
        };
        let fut = ns.future_space();
        let mut sc = Scavenger {
            past: (ns.past_space().0, ns.past_ptr),
            young: (self.young_lo, self.young_hi),
            ns,
            fut_ptr: fut.0,
            fut_end: fut.1,
            scan_ptr: fut.0,
            tenure_all,
            to_scan: Vec::new(),
            tenured: Vec::new(),
            weak: Vec::new(),
            ephemerons: Vec::new(),
            report: ScavengeReport::default(),
            h: self,
        };
        roots(&mut |p: &mut Oop| *p = sc.copy(*p));
        let mut r = sc.h.roots;
        for f in r.fields_mut() {
            *f = sc.copy(*f);
        }
        sc.h.roots = r;
        for i in 0..sc.h.gc.mourn_queue.len() {
            let m = sc.h.gc.mourn_queue[i];
            let n = sc.copy(m);
            sc.h.gc.mourn_queue[i] = n;
        }
        let remembered = std::mem::take(&mut sc.h.remembered);
        for &o in &remembered {
            sc.scan(o);
        }
        sc.drain();
        sc.ephemerons();
        sc.weak_slots();
        let Scavenger {
            fut_ptr,
            tenured,
            report,
            ..
        } = sc;
        // New space is now the future survivor space.
        let ns = self.ns.as_mut().expect("new space");
        ns.eden_ptr = ns.eden_start;
        ns.past = 1 - ns.past;
        ns.past_ptr = fut_ptr;
        // Rebuild the remembered set from its old members and the tenured objects.
        for &o in &remembered {
            let h = self.header(o);
            self.set_header(o, h.with_flag(REMEMBERED_BIT, false));
        }
        for o in remembered.into_iter().chain(tenured) {
            if !self.header(o).is_free() && self.has_young_refs(o) {
                self.remember(o);
            }
        }
        self.note_old_growth();
        report
    }
}

//! The heap verifier. It walks every chunk of old space and checks the Spur
//! invariants, returning precise findings (address, field, what is wrong)
//! rather than a verdict, so a broken heap says *where* it broke.

use crate::header::{class_index, format, Header, OVERFLOW_SLOTS, WORD};
use crate::heap::{Heap, BRIDGE_BYTES, BRIDGE_HEADER};
use crate::method::MethodHeader;
use crate::oop::Oop;
use std::fmt;

/// One thing wrong with the heap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Address of the object (or bridge) concerned.
    pub addr: usize,
    /// The slot concerned, if any.
    pub field: Option<usize>,
    pub what: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(i) => write!(f, "{:#x} slot {}: {}", self.addr, i, self.what),
            None => write!(f, "{:#x}: {}", self.addr, self.what),
        }
    }
}

/// What the verifier tolerates.
#[derive(Clone, Copy, Debug)]
pub struct VerifyOptions {
    /// Forwarders may exist between a become and the next full GC.
    pub allow_forwarders: bool,
    /// Stop after this many findings.
    pub max_findings: usize,
    /// Check only marked objects (used between compaction passes, when
    /// unmarked objects are garbage about to be overwritten).
    pub only_marked: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            allow_forwarders: true,
            max_findings: 1000,
            only_marked: false,
        }
    }
}

struct Checker<'h> {
    heap: &'h Heap,
    opts: VerifyOptions,
    findings: Vec<Finding>,
    /// Every chunk's object address, sorted.
    starts: Vec<usize>,
    /// The remembered set, sorted.
    remembered: Vec<usize>,
}

impl Checker<'_> {
    fn report(&mut self, addr: usize, field: Option<usize>, what: impl Into<String>) {
        if self.findings.len() < self.opts.max_findings {
            self.findings.push(Finding {
                addr,
                field,
                what: what.into(),
            });
        }
    }

    fn is_start(&self, addr: usize) -> bool {
        self.starts.binary_search(&addr).is_ok()
    }

    /// Walks the segments, collecting object starts and checking the layout.
    fn walk_layout(&mut self) {
        let heap = self.heap;
        let segs = heap.segments().to_vec();
        for (si, seg) in segs.iter().enumerate() {
            let mut at = seg.start;
            while at < seg.alloc_end {
                if seg.alloc_end - at < 2 * WORD {
                    self.report(
                        at,
                        None,
                        format!("segment {si}: {} stray bytes before its end", seg.alloc_end - at),
                    );
                    break;
                }
                let obj = heap.object_at_chunk(at);
                let h = heap.header(obj);
                if obj.addr() != at && h.num_slots_field() != OVERFLOW_SLOTS {
                    self.report(at, None, "overflow word not followed by an overflow header");
                    break;
                }
                let n = heap.num_slots(obj);
                let end = n
                    .checked_add(1)
                    .and_then(|w| w.max(2).checked_mul(WORD))
                    .and_then(|b| obj.addr().checked_add(b));
                match end {
                    Some(e) if e <= seg.alloc_end => {
                        self.starts.push(obj.addr());
                        at = e;
                    }
                    _ => {
                        self.report(
                            obj.addr(),
                            None,
                            format!("{n} slots run past the end of segment {si}"),
                        );
                        break;
                    }
                }
            }
            if heap.u64_at(seg.bridge) != BRIDGE_HEADER {
                self.report(
                    seg.bridge,
                    None,
                    format!("segment {si} bridge header is {:#x}", heap.u64_at(seg.bridge)),
                );
            }
            let expect_next = segs
                .get(si + 1)
                .map(|s| (s.bridge - s.start + BRIDGE_BYTES) as u64)
                .unwrap_or(0);
            let next = heap.u64_at(seg.bridge + WORD);
            if next != expect_next {
                self.report(
                    seg.bridge,
                    Some(0),
                    format!("bridge says next segment has {next} bytes, it has {expect_next}"),
                );
            }
        }
        for (start, end) in heap.young_ranges() {
            let mut at = start;
            while at < end {
                if end - at < 2 * WORD {
                    self.report(at, None, "stray bytes at the end of a new-space area");
                    break;
                }
                let obj = heap.object_at_chunk(at);
                let n = heap.num_slots(obj);
                let next = n
                    .checked_add(1)
                    .and_then(|w| w.max(2).checked_mul(WORD))
                    .and_then(|b| obj.addr().checked_add(b));
                match next {
                    Some(e) if e <= end => {
                        self.starts.push(obj.addr());
                        at = e;
                    }
                    _ => {
                        self.report(
                            obj.addr(),
                            None,
                            format!("{n} slots run past the end of new space"),
                        );
                        break;
                    }
                }
            }
        }
        self.starts.sort_unstable();
    }

    /// The remembered set: complete (every old object with a young
    /// reference is in it, with its bit) and sound (members are old objects
    /// with the bit; young objects never have it).
    fn check_remembered(&mut self, obj: Oop) {
        let heap = self.heap;
        let h = heap.header(obj);
        if heap.is_young(obj) {
            if h.is_remembered() {
                self.report(obj.addr(), None, "young object has the remembered bit");
            }
            return;
        }
        let in_set = self.remembered.binary_search(&obj.addr()).is_ok();
        if h.is_remembered() != in_set {
            self.report(
                obj.addr(),
                None,
                if in_set {
                    "in the remembered set without the remembered bit"
                } else {
                    "has the remembered bit but is not in the remembered set"
                },
            );
        }
        if !in_set && heap.has_young_refs(obj) {
            self.report(
                obj.addr(),
                None,
                "old object refers to a young object but is not remembered",
            );
        }
    }

    fn check_ref(&mut self, obj: Oop, field: usize, v: Oop) {
        let heap = self.heap;
        match v.tag() {
            0 => {
                if !self.is_start(v.addr()) {
                    self.report(
                        obj.addr(),
                        Some(field),
                        format!("{:#x} is not an object in the heap", v.0),
                    );
                    return;
                }
                let h = heap.header(v);
                if h.is_free() {
                    self.report(
                        obj.addr(),
                        Some(field),
                        format!("points at free chunk {:#x}", v.0),
                    );
                } else if h.is_forwarder() && !self.opts.allow_forwarders {
                    self.report(obj.addr(), Some(field), format!("points at forwarder {:#x}", v.0));
                }
            }
            1 | 2 | 4 => {}
            t => self.report(
                obj.addr(),
                Some(field),
                format!("immediate {:#x} has invalid tag {t}", v.0),
            ),
        }
    }

    fn is_class_like(&self, c: Oop) -> bool {
        let heap = self.heap;
        c.is_object()
            && self.is_start(c.addr())
            && format::is_pointers(heap.format(c))
            && heap.num_slots(c) > 2
            && heap.slot(c, 2).is_small_integer()
    }

    fn check_object(&mut self, obj: Oop) {
        let heap = self.heap;
        let h: Header = heap.header(obj);
        let ci = h.class_index();
        let f = h.format();
        let n = heap.num_slots(obj);
        if ci == class_index::FREE {
            return; // free chunks are checked through the free lists
        }
        if self.opts.only_marked && !h.is_marked() {
            return;
        }
        if heap.new_space().is_some() {
            self.check_remembered(obj);
        }
        if h.is_forwarder() {
            if !self.opts.allow_forwarders {
                self.report(obj.addr(), None, "forwarder in a heap that must have none");
            }
            if n == 0 {
                self.report(obj.addr(), None, "forwarder without a target slot");
            } else {
                let t = heap.slot(obj, 0);
                self.check_ref(obj, 0, t);
            }
            return;
        }
        if !format::is_valid_instance_format(f) {
            self.report(obj.addr(), None, format!("invalid format {f}"));
            return;
        }
        if ci < class_index::FIRST_REAL_CLASS {
            if !matches!(ci, 16..=19) {
                self.report(obj.addr(), None, format!("class index {ci} is a reserved pun"));
            }
        } else {
            match heap.class_at_index(ci) {
                None => self.report(
                    obj.addr(),
                    None,
                    format!("class index {ci} has no class in the class table"),
                ),
                Some(c) if !self.is_class_like(c) => self.report(
                    obj.addr(),
                    None,
                    format!("class index {ci} names {:#x}, which is not a class", c.0),
                ),
                Some(c) => self.check_shape(obj, c, f, n),
            }
        }
        if format::is_pointers(f) {
            for i in 0..n {
                let v = heap.slot(obj, i);
                self.check_ref(obj, i, v);
            }
        } else if format::is_compiled_method(f) {
            let hdr = heap.slot(obj, 0);
            match MethodHeader::from_oop(hdr) {
                None => self.report(
                    obj.addr(),
                    Some(0),
                    format!("method header {hdr:?} is not a SmallInteger"),
                ),
                Some(mh) => {
                    let lits = mh.num_literals();
                    if (lits + 1) * WORD > heap.byte_size(obj) {
                        self.report(
                            obj.addr(),
                            None,
                            format!("{lits} literals do not fit in {} bytes", heap.byte_size(obj)),
                        );
                    } else {
                        for i in 1..=lits {
                            let v = heap.slot(obj, i);
                            self.check_ref(obj, i, v);
                        }
                    }
                }
            }
        }
    }

    fn check_shape(&mut self, obj: Oop, class: Oop, f: u8, n: usize) {
        let Some((spec, fixed)) = self.heap.class_format(class) else {
            return;
        };
        let ok = match spec {
            // A fired ephemeron becomes a plain fixed-fields object.
            format::EPHEMERON => f == spec || f == format::FIXED,
            0..=5 => f == spec,
            9 => f == 9,
            10..=11 => (10..=11).contains(&f),
            12..=15 => (12..=15).contains(&f),
            16..=23 => (16..=23).contains(&f),
            24..=31 => f >= 24,
            _ => true,
        };
        if !ok {
            self.report(
                obj.addr(),
                None,
                format!("format {f} does not fit its class's format {spec}"),
            );
        }
        if format::is_pointers(f) && n < fixed {
            self.report(
                obj.addr(),
                None,
                format!("{n} slots, fewer than the class's {fixed} named fields"),
            );
        }
        if f == format::FIXED && n != fixed {
            self.report(
                obj.addr(),
                None,
                format!("{n} slots, but its class has {fixed} named fields"),
            );
        }
    }

    fn check_roots(&mut self) {
        let heap = self.heap;
        let r = *heap.roots();
        let old_start = self.starts.partition_point(|&a| a < heap.old_space_start());
        let first: Vec<usize> = self.starts[old_start..].iter().take(5).copied().collect();
        let expect = [r.nil, r.false_obj, r.true_obj, r.free_lists, r.hidden_roots];
        let names = ["nil", "false", "true", "free lists", "hidden roots"];
        for (i, (o, name)) in expect.iter().zip(names).enumerate() {
            if first.get(i) != Some(&o.addr()) {
                self.report(o.addr(), None, format!("{name} is not object {i} of the heap"));
            }
        }
        if first.len() < 5 {
            return;
        }
        // Hidden roots: class-table pages.
        let hidden = r.hidden_roots;
        let hn = heap.num_slots(hidden);
        if hn < class_index::NUM_PAGES {
            self.report(
                hidden.addr(),
                None,
                format!("hidden roots has {hn} slots, fewer than the class table's pages"),
            );
        } else {
            for p in 0..class_index::NUM_PAGES {
                let page = heap.slot(hidden, p);
                if page == r.nil {
                    continue;
                }
                if !page.is_object()
                    || !self.is_start(page.addr())
                    || heap.num_slots(page) != class_index::PAGE_SIZE as usize
                {
                    self.report(
                        hidden.addr(),
                        Some(p),
                        "class-table page is not a 1024-slot object",
                    );
                    continue;
                }
                for e in 0..class_index::PAGE_SIZE as usize {
                    let c = heap.slot(page, e);
                    if c != r.nil
                        && (p > 0 || e >= class_index::FIRST_REAL_CLASS as usize || e <= 4)
                        && !self.is_class_like(c)
                    {
                        self.report(
                            page.addr(),
                            Some(e),
                            format!("class table entry {} is not a class", p * 1024 + e),
                        );
                    }
                }
            }
        }
        // Free lists: empty or pointing at free chunks.
        let fl = r.free_lists;
        for i in 0..heap.num_slots(fl) {
            let v = heap.u64_at(heap.slot_addr(fl, i)) as usize;
            if v != 0 && (!self.is_start(v) || !heap.header(Oop::from_addr(v)).is_free()) {
                self.report(
                    fl.addr(),
                    Some(i),
                    format!("free list entry {v:#x} is not a free chunk"),
                );
            }
        }
        let so = r.special_objects;
        if !so.is_object() || !self.is_start(so.addr()) {
            self.report(
                so.addr(),
                None,
                "special objects array is not an object in the heap",
            );
        } else if heap.slot(so, 0) != r.nil
            || heap.slot(so, 1) != r.false_obj
            || heap.slot(so, 2) != r.true_obj
        {
            self.report(
                so.addr(),
                None,
                "special objects array does not start with nil, false, true",
            );
        }
    }
}

/// Verifies the whole heap and returns every finding (empty when clean).
pub fn verify(heap: &Heap, opts: VerifyOptions) -> Vec<Finding> {
    let mut remembered: Vec<usize> = heap.remembered_set().iter().map(|o| o.addr()).collect();
    remembered.sort_unstable();
    let mut c = Checker {
        heap,
        opts,
        findings: Vec::new(),
        starts: Vec::new(),
        remembered,
    };
    c.walk_layout();
    if !c.findings.is_empty() {
        return c.findings; // a broken layout makes every later check unreliable
    }
    c.check_roots();
    for i in 0..c.remembered.len() {
        let a = c.remembered[i];
        if i > 0 && c.remembered[i - 1] == a {
            c.report(a, None, "twice in the remembered set");
        }
        if !c.is_start(a) || heap.is_young(Oop::from_addr(a)) {
            c.report(a, None, "remembered set entry is not an old object");
        }
    }
    let starts = std::mem::take(&mut c.starts);
    c.starts = starts.clone();
    for &a in &starts {
        c.check_object(Oop::from_addr(a));
        if c.findings.len() >= c.opts.max_findings {
            break;
        }
    }
    c.findings
}

/// Checks only that every segment parses into objects that fit inside it and
/// that the bridges are intact: the precondition for walking the heap at all.
pub fn verify_layout(heap: &Heap) -> Vec<Finding> {
    let mut c = Checker {
        heap,
        opts: VerifyOptions::default(),
        findings: Vec::new(),
        starts: Vec::new(),
        remembered: Vec::new(),
    };
    c.walk_layout();
    c.findings
}

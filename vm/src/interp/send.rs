//! Message sends: lookup with a global method cache, primitives, method and
//! block activation, returns (local and non-local), doesNotUnderstand:.

use super::code::CodeCopies;
use super::frame::*;
use super::{Fault, Trace, Vm};
use gc::specials::{class, closure, context, message, method_dict, so};
use gc::{format, Oop};

const CACHE_SIZE: usize = 4096;
const CLASS_MEMO: usize = 256;
/// Entries per special selector in the at-cache (`AtEntry`).
const AT_WAYS: usize = 64;

/// The method cache's primitive index for a quick setter (see
/// `quick_primitive_of`): above every real primitive index (15 bits), so a
/// primitive call with it fails and the method runs.
pub(crate) const QUICK_SETTER: usize = 0x8000;

/// What a primitive did, as activation needs it.
pub enum PrimOutcome {
    Success,
    /// Failed; the object to hand the method's error-code temp.
    Fail(Oop),
}

/// A global method cache. Sends look up by the receiver's class index (no
/// class-table access on a hit); super sends by class object. Entries keep
/// the method's primitive index so a hit goes straight to it.
pub struct MethodCache {
    /// A fixed-size array, so that masked indices need no bounds check.
    entries: Box<[CacheEntry; CACHE_SIZE]>,
    /// What only the out-of-line paths read, in one allocation.
    slow: Box<SlowTables>,
    /// The copies of methods the bytecode loops fetch from (see code.rs),
    /// flushed with the entries, which point into them.
    pub(crate) copies: CodeCopies,
}

/// The method cache's tables for the out-of-line paths (one allocation, so
/// that adding one does not move the fields the bytecode loops read: see
/// regs.rs on layout).
struct SlowTables {
    /// The entry each slot held before its last fill: a second way that
    /// only the out-of-line miss path probes (`probe_victim`), so that two
    /// sends sharing a slot do not both take a lookup each time (Havlak
    /// has such a pair). The bytecode loops probe `entries` alone: a
    /// second probe there cost more through their register allocation than
    /// it saved (see regs.rs).
    victims: [CacheEntry; CACHE_SIZE],
    /// Objects that `Heap::is_class` accepted since the last flush, by
    /// address (direct-mapped): `basicNew` and `basicNew:` skip the
    /// class-table check for them. What makes an object a class (its
    /// format, size, identity hash and class-table entry) changes only
    /// through a become or when objects move, and both flush.
    classes: [u64; CLASS_MEMO],
    /// The at-cache: what `at:`, `at:put:` and `size` (special selectors
    /// 16, 17, 18) do on recently used receivers, `AT_WAYS` entries each,
    /// by address (see `AtEntry`).
    at: [AtEntry; 3 * AT_WAYS],
    /// What `at:`, `at:put:` and `size` do on instances of a class, for
    /// receivers the at-cache misses (direct-mapped by class index, each
    /// `(class index + 1) << 8 | kind`). It depends on the methods only,
    /// so `flush` forgets it and `flush_where` (after a scavenge) keeps it.
    at_classes: [u64; 3 * AT_WAYS],
}

/// What the special selector `at:`, `at:put:` or `size` does on one
/// receiver, as the bytecode loops' inline path (`Vm::r_indexed`) needs
/// it: its kind (`AT_SEND`, `AT_SLOT`, `AT_BYTE`, `AT_CHAR`, `AT_SIZE`)
/// and its indexable size. Both follow from the receiver's class (which
/// method the send would run), format, size and, for `at:put:`,
/// mutability. A class change (primitives 115, 160) and primitive 164
/// forget every entry; a become, a change of methods and anything that
/// moves or frees objects flush the cache, which forgets the entries of
/// moved receivers (all of them but after a scavenge); so an entry whose
/// `rcvr` matches is still true.
#[derive(Clone, Copy, Default)]
pub(crate) struct AtEntry {
    /// The receiver; 0 (and `AT_SEND`) when empty.
    pub rcvr: u64,
    pub size: u64,
    pub kind: u8,
}

/// A send: the receiver is not one the inline path handles.
pub(crate) const AT_SEND: u8 = 0;
/// `at:`/`at:put:` on a pointer object's slots (primitives 60 and 61).
pub(crate) const AT_SLOT: u8 = 1;
/// On a byte object's bytes as SmallIntegers (primitives 60 and 61).
pub(crate) const AT_BYTE: u8 = 2;
/// On a byte object's bytes as Characters (primitives 63 and 64).
pub(crate) const AT_CHAR: u8 = 3;
/// `size` by primitive 62.
pub(crate) const AT_SIZE: u8 = 4;

#[derive(Clone, Copy)]
struct CacheEntry {
    /// Class index + 1 for index-keyed entries; class oop for class-keyed ones.
    key: u64,
    selector: u64,
    method: u64,
    /// Below 2^16: primitive numbers have 11 bits, quick setters are
    /// `QUICK_SETTER` + an index below 256.
    primitive: u16,
    /// The length of the method's copy (see code.rs), at most
    /// `MAX_FAST_FETCH` (2^15) (index-keyed entries only).
    code_len: u16,
    shape: FrameShape,
    /// The fetch base for the method's initial pc: its copy, or sentinels
    /// when the initial pc is past it (`Code::base_for`).
    code: *const u8,
}

impl Default for CacheEntry {
    fn default() -> Self {
        CacheEntry {
            key: 0,
            selector: 0,
            method: 0,
            primitive: 0,
            code_len: 0,
            shape: FrameShape::default(),
            code: std::ptr::null(),
        }
    }
}

/// What a cache hit gives: the method, its primitive index (0 for none),
/// the length of its copy, the copy's fetch base for the initial pc, and
/// the header fields its activation needs.
#[derive(Clone, Copy)]
pub(crate) struct Hit {
    pub method: Oop,
    pub primitive: u32,
    pub code_len: u32,
    pub shape: FrameShape,
    pub code: *const u8,
}

/// The method header fields an activation reads (literal count, temp
/// count, bytecode set), packed so that cache entries carry them and an
/// activation from a cache hit need not read and decode the header.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub(crate) struct FrameShape(u32);

impl FrameShape {
    pub const EMPTY: FrameShape = FrameShape(0);

    pub fn of(h: gc::method::MethodHeader) -> FrameShape {
        let sista = (h.bytecode_set() == gc::method::BytecodeSet::SistaV1) as u32;
        FrameShape(h.num_literals() as u32 | (h.num_temps() as u32) << 15 | sista << 21)
    }

    #[inline(always)]
    pub fn num_temps(self) -> usize {
        (self.0 >> 15 & 0x3f) as usize
    }

    /// As `MethodHeader::initial_pc`.
    #[inline(always)]
    pub fn initial_pc(self) -> usize {
        ((self.0 & 0x7fff) as usize + 1) * gc::header::WORD
    }

    #[inline(always)]
    pub fn bytecode_set(self) -> gc::method::BytecodeSet {
        if self.0 & 1 << 21 != 0 {
            gc::method::BytecodeSet::SistaV1
        } else {
            gc::method::BytecodeSet::V3PlusClosures
        }
    }
}

/// Class-keyed entries are tagged so they never match an index key.
const CLASS_KEY_TAG: u64 = 1 << 63;
/// Directed super sends' entries, keyed by the sending method's class
/// (`Vm::directed_super_send`), carry this tag instead (an object's
/// address is below 2^62).
const SUPER_KEY_TAG: u64 = 1 << 62;

impl MethodCache {
    pub fn new() -> MethodCache {
        MethodCache {
            entries: Box::new([CacheEntry::default(); CACHE_SIZE]),
            slow: Box::new(SlowTables {
                victims: [CacheEntry::default(); CACHE_SIZE],
                classes: [0; CLASS_MEMO],
                at: [AtEntry::default(); 3 * AT_WAYS],
                at_classes: [0; 3 * AT_WAYS],
            }),
            copies: CodeCopies::new(),
        }
    }

    #[inline]
    fn index(key: u64, selector: Oop) -> usize {
        ((key.wrapping_mul(0x9e37_79b9) ^ (selector.0 >> 3)) as usize) & (CACHE_SIZE - 1)
    }

    #[inline]
    pub(crate) fn probe(&self, key: u64, selector: Oop) -> Option<Hit> {
        let e = &self.entries[Self::index(key, selector)];
        (e.key == key && e.selector == selector.0).then_some(Hit {
            method: Oop(e.method),
            primitive: e.primitive as u32,
            code_len: e.code_len as u32,
            shape: e.shape,
            code: e.code,
        })
    }

    #[inline]
    fn class_slot(o: Oop) -> usize {
        (o.0 >> 4) as usize & (CLASS_MEMO - 1)
    }

    /// Whether `o` was noted as a class since the last flush.
    #[inline]
    pub(crate) fn known_class(&self, o: Oop) -> bool {
        o.0 != 0 && self.slow.classes[Self::class_slot(o)] == o.0
    }

    /// Notes `o`, which `Heap::is_class` accepted.
    #[inline]
    pub(crate) fn note_class(&mut self, o: Oop) {
        self.slow.classes[Self::class_slot(o)] = o.0;
    }

    #[inline(always)]
    fn at_slot(rcvr: Oop, k: usize) -> usize {
        (k - 16) * AT_WAYS + (rcvr.0 >> 3) as usize % AT_WAYS
    }

    #[inline(always)]
    fn at_class_slot(class_index: u32, k: usize) -> usize {
        (k - 16) * AT_WAYS + class_index as usize % AT_WAYS
    }

    /// The at-cache entry special selector `k` (16, 17 or 18) would use
    /// for `rcvr`; it is `rcvr`'s if its `rcvr` matches.
    #[inline(always)]
    pub(crate) fn at_entry(&self, rcvr: Oop, k: usize) -> AtEntry {
        self.slow.at[Self::at_slot(rcvr, k)]
    }

    /// Notes what special selector `k` does on `rcvr` (see `AtEntry`).
    #[inline]
    pub(crate) fn note_at(&mut self, rcvr: Oop, k: usize, kind: u8, size: u64) {
        self.slow.at[Self::at_slot(rcvr, k)] = AtEntry {
            rcvr: rcvr.0,
            size,
            kind,
        };
    }

    /// What the class memo says special selector `k` does on instances
    /// of the class at `class_index`, if it knows.
    #[inline]
    pub(crate) fn at_class(&self, class_index: u32, k: usize) -> Option<u8> {
        let e = self.slow.at_classes[Self::at_class_slot(class_index, k)];
        (e >> 8 == class_index as u64 + 1).then_some(e as u8)
    }

    #[inline]
    pub(crate) fn note_at_class(&mut self, class_index: u32, k: usize, kind: u8) {
        self.slow.at_classes[Self::at_class_slot(class_index, k)] =
            (class_index as u64 + 1) << 8 | kind as u64;
    }

    /// Empties the at-cache: an object changed class or mutability.
    pub(crate) fn forget_at(&mut self) {
        self.slow.at.fill(AtEntry::default());
    }

    /// `probe`, then `probe_victim`: the out-of-line paths' probe.
    pub(crate) fn probe_with_victim(&mut self, key: u64, selector: Oop) -> Option<Hit> {
        self.probe(key, selector)
            .or_else(|| self.probe_victim(key, selector))
    }

    /// The victim of the slot `key` and `selector` map to, when it is
    /// theirs: it changes places with the slot's entry, and is answered.
    pub(crate) fn probe_victim(&mut self, key: u64, selector: Oop) -> Option<Hit> {
        let i = Self::index(key, selector);
        let v = self.slow.victims[i];
        if v.key != key || v.selector != selector.0 {
            return None;
        }
        self.slow.victims[i] = self.entries[i];
        self.entries[i] = v;
        self.probe(key, selector)
    }

    #[inline]
    fn fill(&mut self, key: u64, selector: Oop, hit: Hit) {
        let i = Self::index(key, selector);
        let old = self.entries[i];
        if old.key != 0 && (old.key != key || old.selector != selector.0) {
            self.slow.victims[i] = old;
        }
        self.entries[i] = CacheEntry {
            key,
            selector: selector.0,
            method: hit.method.0,
            primitive: hit.primitive as u16,
            code_len: hit.code_len as u16,
            shape: hit.shape,
            code: hit.code,
        };
    }

    pub fn get(&self, class: Oop, selector: Oop) -> Option<Oop> {
        self.probe(class.0 | CLASS_KEY_TAG, selector).map(|e| e.method)
    }

    pub fn put(&mut self, class: Oop, selector: Oop, method: Oop) {
        let hit = Hit {
            method,
            primitive: 0,
            code_len: 0,
            shape: FrameShape::default(),
            code: std::ptr::null(),
        };
        self.fill(class.0 | CLASS_KEY_TAG, selector, hit)
    }

    pub fn flush(&mut self) {
        self.entries.iter_mut().for_each(|e| *e = CacheEntry::default());
        self.slow
            .victims
            .iter_mut()
            .for_each(|e| *e = CacheEntry::default());
        self.slow.classes.fill(0);
        self.forget_at();
        self.slow.at_classes.fill(0);
        self.copies.flush();
    }

    /// Forgets the entries and copies that name an object `moved` says may
    /// have moved (its key when that is a class, its selector or its
    /// method), and keeps the others.
    pub fn flush_where(&mut self, moved: impl Fn(u64) -> bool) {
        for e in self.entries.iter_mut().chain(self.slow.victims.iter_mut()) {
            let class = e.key & (CLASS_KEY_TAG | SUPER_KEY_TAG) != 0;
            let key_oop = e.key & !(CLASS_KEY_TAG | SUPER_KEY_TAG);
            if (class && moved(key_oop)) || moved(e.selector) || moved(e.method) {
                *e = CacheEntry::default();
            }
        }
        for c in self.slow.classes.iter_mut() {
            if moved(*c) {
                *c = 0;
            }
        }
        for e in self.slow.at.iter_mut() {
            if moved(e.rcvr) {
                *e = AtEntry::default();
            }
        }
        self.copies.flush_where(moved);
    }
}

impl Default for MethodCache {
    fn default() -> Self {
        Self::new()
    }
}

impl Vm {
    /// Looks `selector` up in `dict` (a MethodDictionary).
    fn lookup_in_dict(&self, dict: Oop, selector: Oop) -> Option<Oop> {
        let h = &self.heap;
        if !dict.is_object() || dict == h.nil() || !format::is_pointers(h.format(dict)) {
            return None;
        }
        let n = h.num_slots(dict);
        if n <= method_dict::FIRST_SELECTOR {
            return None;
        }
        let cap = n - method_dict::FIRST_SELECTOR;
        let hash = if selector.is_object() {
            h.header(selector).hash() as usize
        } else {
            selector.0 as usize >> 3
        };
        let mut i = if cap.is_power_of_two() {
            hash & (cap - 1)
        } else {
            hash % cap
        };
        for _ in 0..cap {
            let key = h.slot(dict, method_dict::FIRST_SELECTOR + i);
            if key == selector {
                let values = h.slot(dict, method_dict::VALUES);
                if values.is_object() && i < h.num_slots(values) {
                    return Some(h.slot(values, i));
                }
                return None;
            }
            if key == h.nil() {
                return None;
            }
            i = (i + 1) % cap;
        }
        None
    }

    /// The method for `selector` in `class` or its superclasses.
    pub(crate) fn lookup(&mut self, start: Oop, selector: Oop) -> Option<Oop> {
        if let Some(m) = self.cache.get(start, selector) {
            return Some(m);
        }
        let nil = self.nil();
        let mut c = start;
        let mut depth = 0;
        while c != nil && c.is_object() && depth < 10_000 {
            let dict = self.heap.slot(c, class::METHOD_DICT);
            if dict == nil {
                // A class without a method dictionary: see cannot_interpret.
                return None;
            }
            if let Some(m) = self.lookup_in_dict(dict, selector) {
                self.cache.put(start, selector, m);
                return Some(m);
            }
            c = self.heap.slot(c, class::SUPERCLASS);
            depth += 1;
        }
        None
    }

    /// The first class from `start` up whose method dictionary is nil.
    fn class_without_methods(&self, start: Oop) -> Option<Oop> {
        let nil = self.nil();
        let mut c = start;
        for _ in 0..10_000 {
            if c == nil || !c.is_object() {
                return None;
            }
            if self.heap.slot(c, class::METHOD_DICT) == nil {
                return Some(c);
            }
            c = self.heap.slot(c, class::SUPERCLASS);
        }
        None
    }

    /// Sends `selector` to the receiver `nargs` below the top of stack.
    pub(crate) fn send(&mut self, selector: Oop, nargs: usize) -> Result<(), Fault> {
        let rcvr = self.stack_value(nargs);
        let key = self.heap.class_index_of(rcvr) as u64 + 1;
        if self.options.trace == Trace::None {
            if let Some(hit) = self.cache.probe_with_victim(key, selector) {
                return self.execute_cached(hit.method, hit.primitive as usize, nargs);
            }
        }
        if key == gc::class_index::FORWARDER as u64 + 1 {
            // The read barrier: a send to a forwarder goes to its target.
            let target = self.heap.follow(rcvr);
            self.set_stack_value(nargs, target);
            return self.send(selector, nargs);
        }
        let class = self.heap.class_of(rcvr);
        self.lookup_and_run(key, selector, nargs, class)
    }

    /// A send that missed the cache: looks `selector` up from `class`, fills
    /// the cache under `key` and runs the method as a hit would, without
    /// the second lookup of `send_to_class`. That path remains for what a
    /// hit cannot run (no method, an object that is not a method, another
    /// argument count) and for traced sends.
    fn lookup_and_run(&mut self, key: u64, selector: Oop, nargs: usize, class: Oop) -> Result<(), Fault> {
        let found = self.lookup(class, selector);
        if let Some(m) = found {
            // Only a method that takes `nargs` arguments: `execute_method`
            // reports the others, and a cache hit would not.
            if m.is_object()
                && format::is_compiled_method(self.heap.format(m))
                && self.method_header(m).num_args() == nargs
            {
                let hit = self.hit_for(m);
                self.cache.fill(key, selector, hit);
                if self.options.trace == Trace::None {
                    return self.execute_cached(m, hit.primitive as usize, nargs);
                }
            }
        }
        self.send_to_class(selector, nargs, class)
    }

    /// A cache entry's contents for `m`, a CompiledMethod that lookup found.
    fn hit_for(&mut self, m: Oop) -> Hit {
        let h = self.method_header(m);
        let prim = if h.has_primitive() {
            self.primitive_index(m)
        } else {
            self.quick_primitive_of(m)
        };
        let code = self.code_of(m, h.bytecode_set(), false);
        let shape = code.shape;
        debug_assert!(prim < 1 << 16 && code.len <= 1 << 15);
        Hit {
            method: m,
            primitive: prim as u32,
            code_len: code.len as u32,
            shape,
            code: code.base_for(shape.initial_pc()),
        }
    }

    /// A directed super send (SistaV1's bytecode 235 with extB ≥ 64): the
    /// method's class `cls` is on the stack above the receiver and its
    /// `nargs` arguments, and lookup starts at its superclass. Compilers
    /// emit it for every `super` send, so the method cache keeps its
    /// outcome under `cls` (`SUPER_KEY_TAG`), and a hit runs as a cached
    /// send does, without checking `cls` again: it was found to be a
    /// class when the entry was made, and the entry goes with any GC that
    /// may move `cls` (a full GC, or a scavenge when `cls` is young) and
    /// with any become.
    pub(crate) fn directed_super_send(&mut self, selector: Oop, nargs: usize) -> Result<(), Fault> {
        let cls = self.stack_value(0);
        let key = cls.0 | SUPER_KEY_TAG;
        if self.options.trace == Trace::None {
            if let Some(hit) = self.cache.probe_with_victim(key, selector) {
                self.pop();
                return self.execute_cached(hit.method, hit.primitive as usize, nargs);
            }
        }
        let cls = self.pop();
        if !self.heap.is_class(cls) {
            return Err(fault!("directed super send with {cls:?} instead of a class"));
        }
        let sup = self.heap.slot(cls, class::SUPERCLASS);
        self.lookup_and_run(key, selector, nargs, sup)
    }

    /// Runs a method found in the cache, whose primitive index is known.
    #[inline]
    pub(crate) fn execute_cached(&mut self, m: Oop, prim: usize, nargs: usize) -> Result<(), Fault> {
        let mut err = None;
        if (prim == 70 && nargs == 0) || (prim == 71 && nargs == 1) {
            // basicNew and basicNew:, the commonest primitives after the
            // quick ones, without the primitive table's dispatch.
            let size = (nargs == 1).then(|| self.stack_value(0));
            if let Ok(o) = self.basic_new(self.stack_value(nargs), size) {
                self.pop_n(nargs);
                self.set_stack_value(0, o);
                // As call_primitive does after any primitive.
                return self.signal_low_space_if_due();
            }
        }
        if prim != 0 {
            match self.call_primitive(prim, m, nargs)?.into() {
                PrimOutcome::Success => return Ok(()),
                PrimOutcome::Fail(code) => err = Some(code),
            }
            if self.follow_send_operands(nargs) {
                match self.call_primitive(prim, m, nargs)?.into() {
                    PrimOutcome::Success => return Ok(()),
                    PrimOutcome::Fail(code) => err = Some(code),
                }
            }
        }
        self.activate_method(m, nargs, err)
    }

    /// Sends with lookup starting at `class` (super sends start above the
    /// method's class).
    pub(crate) fn send_to_class(&mut self, selector: Oop, nargs: usize, class: Oop) -> Result<(), Fault> {
        if self.options.trace == Trace::Sends {
            self.trace_send(selector, self.stack_value(nargs));
        }
        match self.lookup(class, selector) {
            Some(m) if m.is_object() && format::is_compiled_method(self.heap.format(m)) => {
                self.execute_method(m, nargs)
            }
            Some(obj) => self.run_with_in(obj, selector, nargs),
            None => match self.class_without_methods(class) {
                Some(c) => self.cannot_interpret(selector, nargs, class, c),
                None => self.does_not_understand(selector, nargs, class),
            },
        }
    }

    /// Lookup met a class whose method dictionary is nil: the arguments
    /// become a Message and `cannotInterpret:` is looked up from that
    /// class's superclass (as the OpenSmalltalk VM does).
    fn cannot_interpret(&mut self, selector: Oop, nargs: usize, class: Oop, empty: Oop) -> Result<(), Fault> {
        let msg = self.make_message(selector, nargs, class)?;
        self.pop_n(nargs);
        self.push(msg);
        let sel = self.heap.special(so::SELECTOR_CANNOT_INTERPRET);
        let sup = self.heap.slot(empty, class::SUPERCLASS);
        match self.lookup(sup, sel) {
            Some(m) if m.is_object() && format::is_compiled_method(self.heap.format(m)) => {
                self.execute_method(m, 1)
            }
            _ => Err(fault!(
                "{} has no method dictionary and nothing above it understands #cannotInterpret:",
                self.heap.class_name(empty).unwrap_or_else(|| "a class".into())
            )),
        }
    }

    /// The method's class from its last literal (the class binding).
    pub(crate) fn method_class(&self, m: Oop) -> Oop {
        let n = self.method_header(m).num_literals();
        if n == 0 {
            return self.nil();
        }
        let binding = self.heap.slot(m, n);
        if binding.is_object() && self.heap.num_slots(binding) >= 2 {
            self.heap.slot(binding, 1)
        } else {
            self.nil()
        }
    }

    /// Super send from the current method: lookup starts at its class's superclass.
    pub(crate) fn send_super(&mut self, selector: Oop, nargs: usize) -> Result<(), Fault> {
        let mclass = self.method_class(self.method);
        let sup = self.heap.slot(mclass, class::SUPERCLASS);
        self.send_to_class(selector, nargs, sup)
    }

    /// Runs a found method: its primitive first, then its bytecodes.
    pub(crate) fn execute_method(&mut self, m: Oop, nargs: usize) -> Result<(), Fault> {
        let h = self.method_header(m);
        let mut err = None;
        if h.has_primitive() {
            let p = self.primitive_index(m);
            match self.call_primitive(p, m, nargs)?.into() {
                PrimOutcome::Success => return Ok(()),
                PrimOutcome::Fail(code) => err = Some(code),
            }
            // The read barrier: a primitive that failed on a forwarder is
            // retried once with the objects it stands for.
            if self.follow_send_operands(nargs) {
                match self.call_primitive(p, m, nargs)?.into() {
                    PrimOutcome::Success => return Ok(()),
                    PrimOutcome::Fail(code) => err = Some(code),
                }
            }
        }
        if h.num_args() != nargs {
            return Err(fault!(
                "{} takes {} arguments, sent with {nargs}",
                self.method_name(m),
                h.num_args()
            ));
        }
        self.activate_method(m, nargs, err)
    }

    /// For a method without a primitive whose first bytecodes answer self,
    /// true, false, nil or an instance variable: the quick primitive
    /// (256-259, 264-519) that Squeak's compiler gives such methods, so that
    /// cached sends answer without a frame (as sends of real images' quick
    /// methods do). For a one-argument method that stores its argument in
    /// instance variable i (< 8) and answers self: [`QUICK_SETTER`] + i. 0
    /// for any other method. The answer cannot differ: the method returns
    /// before it could do anything else.
    pub(crate) fn quick_primitive_of(&self, m: Oop) -> usize {
        let h = self.method_header(m);
        let pc = h.initial_pc();
        if pc + 1 >= self.heap.byte_size(m) {
            return 0;
        }
        let (b0, b1) = (self.heap.byte_at(m, pc), self.heap.byte_at(m, pc + 1));
        let b2 = if pc + 2 < self.heap.byte_size(m) {
            self.heap.byte_at(m, pc + 2)
        } else {
            0
        };
        // returnSelf, returnTop, pushTemp 0, popIntoReceiverVariable 0.
        let (return_self, return_top, push_temp0, pop_into_ivar0) = match h.bytecode_set() {
            gc::method::BytecodeSet::SistaV1 => (88, 92, 64, 200),
            gc::method::BytecodeSet::V3PlusClosures => (120, 124, 16, 96),
        };
        let setter = h.num_args() == 1
            && h.num_temps() == 1
            && b0 == push_temp0
            && (pop_into_ivar0..pop_into_ivar0 + 8).contains(&b1)
            && b2 == return_self;
        match b0 {
            _ if (return_self..return_self + 4).contains(&b0) => 256 + (b0 - return_self) as usize,
            0..=15 if b1 == return_top => 264 + b0 as usize,
            _ if setter => QUICK_SETTER + (b1 - pop_into_ivar0) as usize,
            _ => 0,
        }
    }

    /// The primitive index of a method with a primitive.
    pub(crate) fn primitive_index(&self, m: Oop) -> usize {
        let pc = self.method_header(m).initial_pc();
        if pc + 2 < self.heap.byte_size(m) {
            self.heap.byte_at(m, pc + 1) as usize | (((self.heap.byte_at(m, pc + 2) & 0x7f) as usize) << 8)
        } else {
            0
        }
    }

    /// Pushes a frame for `m` (receiver and arguments are on the stack).
    pub(crate) fn activate_method(
        &mut self,
        m: Oop,
        nargs: usize,
        prim_error: Option<Oop>,
    ) -> Result<(), Fault> {
        if nargs > 255 {
            // The frame's flags word keeps the count in a byte.
            return Err(fault!("{m:?} activated with {nargs} arguments"));
        }
        self.ensure_stack_room(nargs)?;
        let h = self.method_header(m);
        let rcvr = self.stack_value(nargs);
        let caller_ip = self.ip as u64;
        let caller_fp = self.fp as u64;
        let last_arg = self.sp;
        self.push(Oop(caller_ip));
        self.push(Oop(caller_fp));
        let fp = self.sp;
        self.push(m);
        self.push(Oop(0));
        self.push(Oop(nargs as u64 | set_flag(h)));
        self.push(rcvr);
        self.copy_args(last_arg, nargs);
        let nil = self.nil();
        for _ in nargs..h.num_temps() {
            self.push(nil);
        }
        self.fp = fp;
        self.method = m;
        self.bytecode_set = h.bytecode_set();
        self.ip = h.initial_pc();
        if let Some(code) = prim_error {
            // The method reads the failure code through the temp its first
            // (store) bytecode after callPrimitive names: leave it on top.
            let after = h.initial_pc() + 3;
            if after < self.heap.byte_size(m) {
                let b = self.heap.byte_at(m, after);
                let long_store = match self.bytecode_set {
                    gc::method::BytecodeSet::V3PlusClosures => 129,
                    gc::method::BytecodeSet::SistaV1 => 245,
                };
                if b == long_store && h.num_temps() > nargs {
                    self.set_stack_value(0, code);
                }
            }
        }
        Ok(())
    }

    /// Pushes copies of the `nargs` arguments whose last one is at stack
    /// index `last_arg`, first argument first: a new frame's first
    /// temporaries (see frame.rs).
    fn copy_args(&mut self, last_arg: usize, nargs: usize) {
        for k in (0..nargs).rev() {
            let v = Oop(self.stack[last_arg + k]);
            self.push(v);
        }
    }

    /// Spills the stack into contexts when the next frame, with `nargs`
    /// arguments, might not fit.
    pub(crate) fn ensure_stack_room(&mut self, nargs: usize) -> Result<(), Fault> {
        if self.sp < FRAME_HEADROOM + 64 + nargs {
            self.spill_oldest_frames()?;
        }
        Ok(())
    }

    /// Activates a block closure whose receiver slot and `nargs` arguments
    /// are on the stack.
    pub(crate) fn activate_closure(&mut self, cl: Oop, nargs: usize) -> Result<(), Fault> {
        self.ensure_stack_room(nargs)?;
        let h = &self.heap;
        let outer = h.slot(cl, closure::OUTER_CONTEXT);
        // A FullBlockClosure holds its CompiledBlock where a BlockClosure
        // holds its start pc: telling them apart needs no class lookup.
        let code = h.slot(cl, closure::START_PC_OR_METHOD);
        let full = h.num_slots(cl) > closure::FULL_RECEIVER
            && code.is_object()
            && format::is_compiled_method(h.format(code));
        let (method, rcvr, start_ip, first_copied) = if full {
            let rcvr = h.slot(cl, closure::FULL_RECEIVER);
            (
                code,
                rcvr,
                self.method_header(code).initial_pc(),
                closure::FULL_FIRST_COPIED_VALUE,
            )
        } else {
            if !self.is_context(outer) {
                return Err("block closure without an outer context".into());
            }
            let method = self.ctx_read(outer, context::METHOD)?;
            let rcvr = self.ctx_read(outer, context::RECEIVER)?;
            let start = code.as_small_int().unwrap_or(1) as usize;
            (method, rcvr, start - 1, closure::FIRST_COPIED_VALUE)
        };
        let ncopied = self.heap.num_slots(cl) - first_copied;
        let caller_ip = self.ip as u64;
        let caller_fp = self.fp as u64;
        let last_arg = self.sp;
        self.push(Oop(caller_ip));
        self.push(Oop(caller_fp));
        let fp = self.sp;
        self.push(method);
        self.push(Oop(0));
        let set = set_flag(self.method_header(method));
        self.push(Oop(nargs as u64 | FLAG_BLOCK | set));
        self.push(rcvr);
        self.copy_args(last_arg, nargs);
        for i in 0..ncopied {
            let v = self.heap.slot(cl, first_copied + i);
            self.push(v);
        }
        if full {
            let temps = self.method_header(method).num_temps();
            let nil = self.nil();
            for _ in (nargs + ncopied)..temps {
                self.push(nil);
            }
        }
        self.fp = fp;
        self.set_method(method);
        self.ip = start_ip;
        Ok(())
    }

    /// Returns `value` from the active frame to its caller.
    pub(crate) fn return_value(&mut self, value: Oop) -> Result<(), Fault> {
        let fp = self.fp;
        self.widow_frame_context(fp);
        if self.is_base_frame(fp) {
            let caller = Oop(self.fslot(fp, CALLER_IP));
            if caller == self.nil()
                || !self.is_context(caller)
                || self.heap.slot(caller, context::PC) == self.nil()
            {
                // Reload the returning context so the image can see it.
                return self.cannot_return(value, fp);
            }
            self.sp = STACK_WORDS;
            self.load_context(caller)?;
            self.push(value);
            return Ok(());
        }
        let nargs = self.frame_num_args(fp);
        let caller_fp = super::roots::checked_caller(fp, self.fslot(fp, CALLER_FP));
        self.ip = self.fslot(fp, CALLER_IP) as usize;
        self.sp = fp + 2 + nargs + 1;
        self.fp = caller_fp;
        self.method = self.frame_method(caller_fp);
        let flags = self.fslot(caller_fp, FLAGS);
        self.bytecode_set = if flags & FLAG_SISTA != 0 {
            gc::method::BytecodeSet::SistaV1
        } else {
            gc::method::BytecodeSet::V3PlusClosures
        };
        if flags & FLAG_DISCARD_RESULT != 0 {
            self.set_fslot(caller_fp, FLAGS, flags & !FLAG_DISCARD_RESULT);
        } else {
            self.push(value);
        }
        Ok(())
    }

    /// A return from a context whose sender is gone: `thisContext cannotReturn: value`.
    fn cannot_return(&mut self, value: Oop, fp: usize) -> Result<(), Fault> {
        // Revive the frame's context as the active one so the image can inspect it.
        let ctx = self.frame_context(fp)?;
        let _ = self.spill_all()?;
        self.heap.set_slot(ctx, context::SENDER, self.nil());
        // Keep the returning context resumable for the debugger: its pc stays.
        self.load_context(ctx)?;
        self.push(ctx);
        self.push(value);
        let sel = self.heap.special(so::SELECTOR_CANNOT_RETURN);
        self.send(sel, 1)
    }

    /// `^ value` inside a block: return from the block's home method.
    pub(crate) fn non_local_return(&mut self, value: Oop) -> Result<(), Fault> {
        if self.try_frame_non_local_return(value)? {
            return Ok(());
        }
        self.context_non_local_return(value)
    }

    /// The common case: home is a live frame below the active one and no
    /// unwind-marked frame lies between. Returns false to fall back.
    fn try_frame_non_local_return(&mut self, value: Oop) -> Result<bool, Fault> {
        let nil = self.nil();
        let mut cl = Oop(self.fslot(self.fp, 2 + self.frame_num_args(self.fp) as isize));
        let mut home = nil;
        for _ in 0..10_000 {
            if !cl.is_object() || self.heap.num_slots(cl) <= closure::NUM_ARGS {
                return Ok(false);
            }
            let outer = self.heap.slot(cl, closure::OUTER_CONTEXT);
            if !self.is_context(outer) {
                return Ok(false);
            }
            let c = self.heap.slot(outer, context::CLOSURE_OR_NIL);
            if c == nil {
                home = outer;
                break;
            }
            cl = c;
        }
        if home == nil || !self.is_married(home) {
            return Ok(false);
        }
        let home_fp = self.heap.slot(home, context::SENDER).small_int_value() as usize;
        // Walk the frames from the caller of the active one down to home.
        let mut fp = self.fp;
        loop {
            if self.is_base_frame(fp) {
                return Ok(false);
            }
            fp = super::roots::checked_caller(fp, self.fslot(fp, CALLER_FP));
            if fp == home_fp {
                break;
            }
            if self.is_unwind_marked(self.frame_method(fp)) {
                return Ok(false);
            }
        }
        if self.fslot(home_fp, CONTEXT) != home.0 {
            return Ok(false);
        }
        // Unwind: the frames above home die.
        let mut fp = self.fp;
        while fp != home_fp {
            self.widow_frame_context(fp);
            fp = self.fslot(fp, CALLER_FP) as usize;
        }
        self.fp = home_fp;
        self.set_method(self.frame_method(home_fp));
        self.return_value(value)?;
        Ok(true)
    }

    /// The general case on contexts: spill, check for unwinds, kill the
    /// contexts up to home and resume home's sender.
    fn context_non_local_return(&mut self, value: Oop) -> Result<(), Fault> {
        // Find the home context.
        let mut cl = Oop(self.fslot(self.fp, 2 + self.frame_num_args(self.fp) as isize));
        let nil = self.nil();
        let active = self.spill_all()?;
        let mut home = nil;
        for _ in 0..100_000 {
            let outer = self.heap.slot(cl, closure::OUTER_CONTEXT);
            if !self.is_context(outer) {
                break;
            }
            let c = self.heap.slot(outer, context::CLOSURE_OR_NIL);
            if c == nil {
                home = outer;
                break;
            }
            cl = c;
        }
        // Walk from the active context to home, looking for unwind marks.
        let mut ctx = self.heap.slot(active, context::SENDER);
        let mut unwind = nil;
        let mut found = false;
        if home != nil {
            let mut n = 0;
            while ctx != nil && self.is_context(ctx) && n < 1_000_000 {
                if ctx == home {
                    found = true;
                    break;
                }
                let m = self.heap.slot(ctx, context::METHOD);
                if unwind == nil && self.is_unwind_marked(m) {
                    unwind = ctx;
                }
                ctx = self.heap.slot(ctx, context::SENDER);
                n += 1;
            }
        }
        let target = if found {
            self.heap.slot(home, context::SENDER)
        } else {
            nil
        };
        if !found || target == nil || self.heap.slot(target, context::PC) == nil {
            self.load_context(active)?;
            self.push(active);
            self.push(value);
            let sel = self.heap.special(so::SELECTOR_CANNOT_RETURN);
            return self.send(sel, 1);
        }
        if unwind != nil {
            self.load_context(active)?;
            self.push(active);
            self.push(value);
            self.push(unwind);
            let sel = self.heap.special(so::SELECTOR_ABOUT_TO_RETURN);
            return self.send(sel, 2);
        }
        // Kill the contexts from the active one up to home, then resume home's sender.
        let mut c = active;
        while c != nil && c != target {
            let next = self.heap.slot(c, context::SENDER);
            self.heap.set_slot(c, context::SENDER, nil);
            self.heap.set_slot(c, context::PC, nil);
            c = next;
        }
        self.load_context(target)?;
        self.push(value);
        Ok(())
    }

    /// True for methods marked by primitive 198 (ensure:/ifCurtailed:).
    pub(crate) fn is_unwind_marked(&self, m: Oop) -> bool {
        m.is_object()
            && format::is_compiled_method(self.heap.format(m))
            && self.method_header(m).has_primitive()
            && self.primitive_index(m) == 198
    }

    /// True for methods marked by primitive 199 (on:do:).
    pub(crate) fn is_handler_marked(&self, m: Oop) -> bool {
        m.is_object()
            && format::is_compiled_method(self.heap.format(m))
            && self.method_header(m).has_primitive()
            && self.primitive_index(m) == 199
    }

    /// Replaces the arguments with a Message and sends doesNotUnderstand:.
    pub(crate) fn does_not_understand(
        &mut self,
        selector: Oop,
        nargs: usize,
        class: Oop,
    ) -> Result<(), Fault> {
        let msg = self.make_message(selector, nargs, class)?;
        self.pop_n(nargs);
        self.push(msg);
        let dnu = self.heap.special(so::SELECTOR_DOES_NOT_UNDERSTAND);
        match self.lookup(class, dnu) {
            Some(m) if m.is_object() && format::is_compiled_method(self.heap.format(m)) => {
                self.execute_method(m, 1)
            }
            _ => {
                let rcvr = self.stack_value(1);
                Err(fault!(
                    "{} does not understand #{} and has no doesNotUnderstand:",
                    images::info::describe(&self.heap, rcvr),
                    self.heap.string_of(selector).unwrap_or_default()
                ))
            }
        }
    }

    fn make_message(&mut self, selector: Oop, nargs: usize, class: Oop) -> Result<Oop, Fault> {
        let args = self.new_array(nargs)?;
        for i in 0..nargs {
            let v = self.stack_value(nargs - 1 - i);
            self.heap.set_slot(args, i, v);
        }
        let mclass = self.heap.special(so::CLASS_MESSAGE);
        let msg = self.instantiate(mclass, 0)?;
        self.heap.set_slot(msg, message::SELECTOR, selector);
        self.heap.set_slot(msg, message::ARGUMENTS, args);
        if self.heap.num_slots(msg) > message::LOOKUP_CLASS {
            self.heap.set_slot(msg, message::LOOKUP_CLASS, class);
        }
        Ok(msg)
    }

    /// A non-method object found in a method dictionary: `obj run: selector with: args in: receiver`.
    fn run_with_in(&mut self, obj: Oop, selector: Oop, nargs: usize) -> Result<(), Fault> {
        let args = self.new_array(nargs)?;
        for i in 0..nargs {
            let v = self.stack_value(nargs - 1 - i);
            self.heap.set_slot(args, i, v);
        }
        self.pop_n(nargs);
        let rcvr = self.pop();
        self.push(obj);
        self.push(selector);
        self.push(args);
        self.push(rcvr);
        let sel = self.heap.special(so::SELECTOR_RUN_WITH_IN);
        self.send(sel, 3)
    }

    /// `mustBeBoolean`: a conditional jump found a non-Boolean on top.
    pub(crate) fn must_be_boolean(&mut self) -> Result<(), Fault> {
        let sel = self.heap.special(so::SELECTOR_MUST_BE_BOOLEAN);
        self.send(sel, 0)
    }

    /// A new Array of `n` nils.
    pub(crate) fn new_array(&mut self, n: usize) -> Result<Oop, Fault> {
        let c = self.heap.special(so::CLASS_ARRAY);
        self.instantiate(c, n)
    }

    /// A new instance of `class` with `n` indexable fields.
    pub(crate) fn instantiate(&mut self, class: Oop, n: usize) -> Result<Oop, Fault> {
        self.heap
            .instantiate(class, n)
            .map_err(|e| fault!("out of memory: {e:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::SUPER_KEY_TAG;
    use gc::Oop;

    /// A directed super send activates the method found above the class on
    /// the stack, and leaves that outcome in the cache under that class
    /// (for the next send from the same method); a method of another
    /// argument count is not cached.
    #[test]
    fn a_directed_super_send_is_cached_under_the_senders_class() {
        let mut vm = crate::interp::kernel_vm_after(200);
        let (plus, nargs) = vm.special_selector(0);
        assert_eq!(nargs, 1);
        let cls = vm.heap.class_of(Oop::small_int(3));
        let sup = vm.heap.slot(cls, gc::specials::class::SUPERCLASS);
        let found = vm.lookup(sup, plus).expect("Integer or above has +");
        assert!(vm.cache.probe(cls.0 | SUPER_KEY_TAG, plus).is_none());
        vm.push(Oop::small_int(3));
        vm.push(Oop::small_int(4));
        vm.push(cls);
        vm.directed_super_send(plus, 1).unwrap();
        let hit = vm.cache.probe(cls.0 | SUPER_KEY_TAG, plus).expect("cached");
        assert_eq!(hit.method, found);
        // Activated (a primitive's success would have popped the arguments).
        assert!(vm.method == found || vm.stack_value(0) == Oop::small_int(7));
        // Sent with the wrong argument count: left to execute_method's report.
        // (Another VM: each has its own heap, so its own selector and class.)
        let mut vm = crate::interp::kernel_vm_after(200);
        let (plus, _) = vm.special_selector(0);
        let cls = vm.heap.class_of(Oop::small_int(3));
        vm.push(Oop::small_int(3));
        vm.push(cls);
        let err = vm.directed_super_send(plus, 0).expect_err("+ takes one argument");
        assert!(err.message().contains("arguments"), "{}", err.message());
        assert!(vm.cache.probe(cls.0 | SUPER_KEY_TAG, plus).is_none());
    }

    /// A send that misses the cache is looked up once, cached and run as a
    /// hit; one with another argument count than its method's is neither
    /// cached nor run.
    #[test]
    fn a_send_that_misses_is_cached_and_run() {
        let mut vm = crate::interp::kernel_vm_after(200);
        let (plus, _) = vm.special_selector(0);
        let key = vm.heap.class_index_of(Oop::small_int(3)) as u64 + 1;
        vm.cache.flush();
        vm.push(Oop::small_int(3));
        vm.push(Oop::small_int(4));
        let sp = vm.sp;
        vm.send(plus, 1).unwrap();
        assert_eq!((vm.sp, vm.stack_value(0)), (sp + 1, Oop::small_int(7)));
        assert!(vm.cache.probe(key, plus).is_some());
        let mut vm = crate::interp::kernel_vm_after(200);
        let (plus, _) = vm.special_selector(0);
        vm.cache.flush();
        vm.push(Oop::small_int(3));
        let err = vm.send(plus, 0).expect_err("+ takes one argument");
        assert!(err.message().contains("arguments"), "{}", err.message());
        assert!(vm.cache.probe(key, plus).is_none());
    }

    /// Two sends that share a slot: the one filled last is the entry, the
    /// other its victim, which `probe_victim` finds and swaps back in; both
    /// flushes reach victims.
    #[test]
    fn a_slot_keeps_its_previous_entry_as_its_victim() {
        use super::{FrameShape, Hit, MethodCache};
        let mut c = MethodCache::new();
        let sel = Oop(0x1000);
        let k1 = 2u64;
        let k2 = (3..1_000_000u64)
            .find(|&k| MethodCache::index(k, sel) == MethodCache::index(k1, sel))
            .expect("a colliding key");
        let hit = |m: u64| Hit {
            method: Oop(m),
            primitive: 0,
            code_len: 0,
            shape: FrameShape::default(),
            code: std::ptr::null(),
        };
        c.fill(k1, sel, hit(0x100));
        c.fill(k2, sel, hit(0x200));
        assert!(c.probe(k1, sel).is_none());
        assert_eq!(c.probe(k2, sel).map(|h| h.method), Some(Oop(0x200)));
        assert!(
            c.probe_victim(k2, sel).is_none(),
            "k2 is the entry, not the victim"
        );
        assert_eq!(c.probe_victim(k1, sel).map(|h| h.method), Some(Oop(0x100)));
        assert_eq!(c.probe(k1, sel).map(|h| h.method), Some(Oop(0x100)));
        assert!(c.probe(k2, sel).is_none());
        // Refilling the entry's own send keeps the victim.
        c.fill(k1, sel, hit(0x100));
        assert_eq!(c.probe_victim(k2, sel).map(|h| h.method), Some(Oop(0x200)));
        // Now k2 is the entry and k1 the victim: a flush of k2's method
        // drops the entry and keeps the victim.
        c.flush_where(|o| o == 0x200);
        assert!(c.probe(k2, sel).is_none() && c.probe_victim(k2, sel).is_none());
        assert!(c.probe_victim(k1, sel).is_some());
        c.flush();
        assert!(c.probe(k1, sel).is_none() && c.probe_victim(k1, sel).is_none());
    }

    /// The at-cache keeps receivers until a flush names them (or empties
    /// it); its class memo survives `flush_where`, which no method change
    /// calls, and goes with `flush`.
    #[test]
    fn the_at_cache_goes_with_its_receivers_and_the_class_memo_with_methods() {
        use super::{MethodCache, AT_BYTE, AT_SEND, AT_SLOT, AT_WAYS};
        let mut c = MethodCache::new();
        let (a, b) = (Oop(0x10_0000), Oop(0x20_0008));
        c.note_at(a, 16, AT_SLOT, 5);
        c.note_at(b, 17, AT_BYTE, 9);
        let e = c.at_entry(a, 16);
        assert_eq!((e.rcvr, e.kind, e.size), (a.0, AT_SLOT, 5));
        assert_ne!(c.at_entry(a, 17).rcvr, a.0, "at:put: has entries of its own");
        assert_eq!(c.at_entry(b, 17).kind, AT_BYTE);
        c.note_at_class(7, 16, AT_SLOT);
        c.note_at_class(7, 18, AT_SEND);
        assert_eq!(c.at_class(7, 16), Some(AT_SLOT));
        assert_eq!(c.at_class(7, 18), Some(AT_SEND));
        assert_eq!(c.at_class(7, 17), None);
        assert_eq!(
            c.at_class(7 + AT_WAYS as u32, 16),
            None,
            "another class in the slot"
        );
        c.flush_where(|o| o == b.0);
        assert_eq!(c.at_entry(a, 16).rcvr, a.0);
        assert_ne!(c.at_entry(b, 17).rcvr, b.0);
        assert_eq!(c.at_class(7, 16), Some(AT_SLOT));
        c.forget_at();
        assert_ne!(c.at_entry(a, 16).rcvr, a.0);
        assert_eq!(c.at_class(7, 16), Some(AT_SLOT));
        c.note_at(a, 16, AT_SLOT, 5);
        c.flush();
        assert_ne!(c.at_entry(a, 16).rcvr, a.0);
        assert_eq!(c.at_class(7, 16), None);
    }

    /// `basicNew` notes the classes it checked; both flushes forget them.
    #[test]
    fn noted_classes_go_with_the_flushes() {
        let mut vm = crate::interp::kernel_vm_after(200);
        let array = vm.heap.class_of(vm.heap.special_objects());
        vm.cache.flush();
        assert!(!vm.cache.known_class(array));
        let a = vm.basic_new(array, Some(Oop::small_int(3))).expect("an Array");
        assert!(vm.cache.known_class(array));
        assert_eq!(vm.basic_new(a, None), Err(crate::primitives::ERR_BAD_RECEIVER));
        assert!(!vm.cache.known_class(a), "not a class");
        vm.cache.flush_where(|o| o == array.0);
        assert!(!vm.cache.known_class(array));
        vm.basic_new(array, Some(Oop::small_int(0))).expect("an Array");
        vm.cache.flush();
        assert!(!vm.cache.known_class(array));
    }

    /// What is on the stack in place of a class is reported, not looked up.
    #[test]
    fn a_directed_super_send_without_a_class_is_reported() {
        let mut vm = crate::interp::kernel_vm_after(200);
        let (plus, _) = vm.special_selector(0);
        vm.push(Oop::small_int(3));
        vm.push(Oop::small_int(4));
        vm.push(Oop::small_int(5));
        let err = vm.directed_super_send(plus, 1).expect_err("5 is not a class");
        assert!(err.message().contains("instead of a class"), "{}", err.message());
    }
}

//! The Spur heap: objects in mapped memory, laid out exactly as in an image
//! file. An object reference is the address of the object's header.
//!
//! Memory layout inside one reservation:
//!
//! ```text
//! base                                                   reserved end
//! | new space (reserved for the scavenger) | old space segments ... |
//! ```
//!
//! Old space is a sequence of segments, adjacent in memory. Each segment ends
//! with a 16-byte bridge object whose one slot holds the next segment's size
//! (0 for the last), as in an image file. Objects in a segment are followed
//! by the segment's unused tail `[alloc_end, bridge)`, which is empty for
//! segments read from a file; new objects are bump-allocated there.

use crate::config::{GcState, PlantedFault};
use crate::freelist::FreeLists;
use crate::header::{self, class_index, format, object_bytes, Header, WORD};
use crate::memory::HeapMemory;
use crate::newspace::NewSpace;
use crate::oop::Oop;
use crate::specials::{class, so};
use std::io;

/// The header of every segment bridge.
pub const BRIDGE_HEADER: u64 = 0x0080_0000_4900_0003;
/// Bytes of a bridge: header plus the next-segment-size slot.
pub const BRIDGE_BYTES: usize = 16;
/// Default address space reserved for a heap.
pub const DEFAULT_RESERVE: usize = 64 << 30;
/// Default bytes reserved at the bottom for new space.
pub const DEFAULT_NEW_SPACE: usize = 64 << 20;
/// Smallest segment added when old space grows.
pub const MIN_GROWTH_SEGMENT: usize = 4 << 20;

/// One old-space segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Address of the first object.
    pub start: usize,
    /// Address of the bridge (end of the object area).
    pub bridge: usize,
    /// End of the objects; `[alloc_end, bridge)` is unused.
    pub alloc_end: usize,
}

impl Segment {
    /// Bytes the segment occupies in a file: its objects plus the bridge.
    pub fn file_bytes(&self) -> usize {
        self.alloc_end - self.start + BRIDGE_BYTES
    }
}

/// Sizes for a new heap.
#[derive(Clone, Copy, Debug)]
pub struct HeapConfig {
    pub reserve_bytes: usize,
    pub new_space_bytes: usize,
}

impl Default for HeapConfig {
    fn default() -> Self {
        HeapConfig {
            reserve_bytes: DEFAULT_RESERVE,
            new_space_bytes: DEFAULT_NEW_SPACE,
        }
    }
}

/// Why an allocation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocError {
    /// The reservation is exhausted or the OS refused to commit memory.
    OutOfMemory,
    /// The requested size cannot be represented.
    TooLarge,
}

/// The well-known objects at the start of old space, found by position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Roots {
    pub nil: Oop,
    pub false_obj: Oop,
    pub true_obj: Oop,
    pub free_lists: Oop,
    pub hidden_roots: Oop,
    pub special_objects: Oop,
}

impl Roots {
    /// Every root reference, for passes that follow or move them all.
    pub fn fields_mut(&mut self) -> [&mut Oop; 6] {
        [
            &mut self.nil,
            &mut self.false_obj,
            &mut self.true_obj,
            &mut self.free_lists,
            &mut self.hidden_roots,
            &mut self.special_objects,
        ]
    }
}

/// A Spur heap.
#[derive(Debug)]
pub struct Heap {
    pub(crate) mem: HeapMemory,
    pub(crate) config: HeapConfig,
    pub(crate) old_space_start: usize,
    pub(crate) segments: Vec<Segment>,
    pub(crate) roots: Roots,
    /// Seed of the identity-hash generator (the image header's lastHash).
    pub last_hash: u64,
    /// New space (eden and survivors); `None` until [`Heap::set_gc_config`]
    /// enables it: then every object lives in old space, as in a loaded image.
    pub(crate) ns: Option<NewSpace>,
    /// `[young_lo, young_hi)`: the new-space address range (empty when disabled).
    pub(crate) young_lo: u64,
    pub(crate) young_hi: u64,
    /// Old objects that may refer to young ones (each has its remembered bit).
    pub(crate) remembered: Vec<Oop>,
    /// Free chunks of old space by size.
    pub(crate) free: FreeLists,
    pub(crate) gc: GcState,
    /// Counts the byte writes into CompiledMethods (see [`Heap::code_writes`]).
    code_writes: u64,
}

impl Heap {
    /// An empty heap: address space reserved, no segments.
    pub fn new(config: HeapConfig) -> io::Result<Heap> {
        let mem = HeapMemory::reserve(config.reserve_bytes)?;
        let old_space_start = mem.base() + platform::memory::round_up(config.new_space_bytes, 1 << 20);
        let base = mem.base() as u64;
        Ok(Heap {
            mem,
            config,
            old_space_start,
            segments: Vec::new(),
            roots: Roots::default(),
            last_hash: 0x1234_5678,
            ns: None,
            young_lo: base,
            young_hi: base,
            remembered: Vec::new(),
            free: FreeLists::default(),
            gc: GcState::new(PlantedFault::from_env()),
            code_writes: 0,
        })
    }

    // ----- raw words -------------------------------------------------------

    #[inline]
    pub fn u64_at(&self, addr: usize) -> u64 {
        self.mem.u64_at(addr)
    }

    #[inline]
    pub fn set_u64_at(&mut self, addr: usize, v: u64) {
        self.mem.set_u64_at(addr, v)
    }

    // ----- segments --------------------------------------------------------

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn old_space_start(&self) -> usize {
        self.old_space_start
    }

    /// One past the last byte of old space in use (after the last bridge).
    pub fn old_space_end(&self) -> usize {
        self.segments
            .last()
            .map(|s| s.bridge + BRIDGE_BYTES)
            .unwrap_or(self.old_space_start)
    }

    /// True when `addr` lies inside old space's objects.
    pub fn is_in_old_space(&self, addr: usize) -> bool {
        addr >= self.old_space_start && addr < self.old_space_end()
    }

    /// Appends a segment holding `bytes` verbatim (objects, with or without a
    /// trailing bridge: `has_bridge` says which) and returns its start
    /// address. Pointers inside are not relocated here.
    pub fn add_segment_from_bytes(&mut self, bytes: &[u8], has_bridge: bool) -> io::Result<usize> {
        let start = self.old_space_end();
        let objects = if has_bridge {
            bytes
                .len()
                .checked_sub(BRIDGE_BYTES)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "segment shorter than a bridge"))?
        } else {
            bytes.len()
        };
        let end = start + objects + BRIDGE_BYTES;
        self.mem.ensure_committed(end)?;
        self.mem
            .bytes_mut(start, objects)
            .copy_from_slice(&bytes[..objects]);
        self.push_segment(Segment {
            start,
            bridge: start + objects,
            alloc_end: start + objects,
        });
        Ok(start)
    }

    /// Adds an empty segment with room for at least `bytes` of objects.
    pub fn add_empty_segment(&mut self, bytes: usize) -> Result<usize, AllocError> {
        let start = self.old_space_end();
        let size = platform::memory::round_up(bytes.max(MIN_GROWTH_SEGMENT), 1 << 20);
        let end = start
            .checked_add(size + BRIDGE_BYTES)
            .ok_or(AllocError::TooLarge)?;
        self.mem
            .ensure_committed(end)
            .map_err(|_| AllocError::OutOfMemory)?;
        self.push_segment(Segment {
            start,
            bridge: start + size,
            alloc_end: start,
        });
        Ok(start)
    }

    fn push_segment(&mut self, seg: Segment) {
        if let Some(prev) = self.segments.last() {
            let prev_bridge = prev.bridge;
            self.write_bridge(prev_bridge, (seg.bridge - seg.start + BRIDGE_BYTES) as u64);
        }
        self.write_bridge(seg.bridge, 0);
        self.segments.push(seg);
    }

    pub(crate) fn write_bridge(&mut self, at: usize, next_size: u64) {
        self.mem.set_u64_at(at, BRIDGE_HEADER);
        self.mem.set_u64_at(at + WORD, next_size);
    }

    /// Bytes of a segment as they go into an image file: objects, then a
    /// bridge holding the size of the next segment as written.
    pub fn segment_file_bytes(&self, index: usize) -> Vec<u8> {
        let seg = self.segments[index];
        let mut out = Vec::with_capacity(seg.file_bytes());
        out.extend_from_slice(self.mem.bytes(seg.start, seg.alloc_end - seg.start));
        out.extend_from_slice(&BRIDGE_HEADER.to_le_bytes());
        let next = self
            .segments
            .get(index + 1)
            .map(|s| s.file_bytes() as u64)
            .unwrap_or(0);
        out.extend_from_slice(&next.to_le_bytes());
        out
    }

    // ----- roots -----------------------------------------------------------

    pub fn roots(&self) -> &Roots {
        &self.roots
    }

    pub fn set_roots(&mut self, roots: Roots) {
        self.roots = roots;
    }

    #[inline]
    pub fn nil(&self) -> Oop {
        self.roots.nil
    }
    #[inline]
    pub fn false_obj(&self) -> Oop {
        self.roots.false_obj
    }
    #[inline]
    pub fn true_obj(&self) -> Oop {
        self.roots.true_obj
    }
    #[inline]
    pub fn boolean(&self, b: bool) -> Oop {
        if b {
            self.roots.true_obj
        } else {
            self.roots.false_obj
        }
    }
    #[inline]
    pub fn special_objects(&self) -> Oop {
        self.roots.special_objects
    }

    /// Entry `i` of the special objects array.
    #[inline]
    pub fn special(&self, i: usize) -> Oop {
        self.slot(self.roots.special_objects, i)
    }

    // ----- headers and sizes -----------------------------------------------

    #[inline]
    pub fn header(&self, obj: Oop) -> Header {
        debug_assert!(obj.is_object(), "header of immediate {obj:?}");
        Header(self.mem.u64_at(obj.addr()))
    }

    #[inline]
    pub fn set_header(&mut self, obj: Oop, h: Header) {
        self.mem.set_u64_at(obj.addr(), h.0)
    }

    /// Slot count of an object, reading the overflow word when needed.
    #[inline]
    pub fn num_slots(&self, obj: Oop) -> usize {
        let n = self.header(obj).num_slots_field();
        if n == header::OVERFLOW_SLOTS {
            (self.mem.u64_at(obj.addr() - WORD) & 0x00ff_ffff_ffff_ffff) as usize
        } else {
            n
        }
    }

    #[inline]
    pub fn format(&self, obj: Oop) -> u8 {
        self.header(obj).format()
    }

    #[inline]
    pub fn class_index_of(&self, obj: Oop) -> u32 {
        if obj.is_immediate() {
            obj.tag() as u32
        } else {
            self.header(obj).class_index()
        }
    }

    /// Bytes from the object's header to the start of the next object's
    /// first word (its overflow word or header).
    #[inline]
    pub fn bytes_after_header(&self, obj: Oop) -> usize {
        let n = self.num_slots(obj);
        WORD + n.max(1) * WORD
    }

    /// Address of the first byte of the next chunk after `obj`.
    #[inline]
    pub fn address_after(&self, obj: Oop) -> usize {
        obj.addr() + self.bytes_after_header(obj)
    }

    /// The object whose first word (overflow or header) is at `chunk`.
    #[inline]
    pub fn object_at_chunk(&self, chunk: usize) -> Oop {
        if self.mem.u64_at(chunk) >> 56 == 0xff {
            Oop::from_addr(chunk + WORD)
        } else {
            Oop::from_addr(chunk)
        }
    }

    /// The address where the object's memory begins (its overflow word if any).
    #[inline]
    pub fn chunk_start(&self, obj: Oop) -> usize {
        if self.header(obj).num_slots_field() == header::OVERFLOW_SLOTS {
            obj.addr() - WORD
        } else {
            obj.addr()
        }
    }

    /// Bytes the object occupies including any overflow word.
    pub fn total_bytes(&self, obj: Oop) -> usize {
        object_bytes(self.num_slots(obj))
    }

    /// Number of bytes of data in the object's body (slots minus padding).
    pub fn byte_size(&self, obj: Oop) -> usize {
        let f = self.format(obj);
        self.num_slots(obj) * WORD - format::unused_bytes(f)
    }

    /// Number of indexable-or-not elements of the object's format: slots for
    /// pointer objects, 32-bit words, 16-bit units or bytes for raw ones.
    pub fn num_elements(&self, obj: Oop) -> usize {
        let f = self.format(obj);
        self.byte_size(obj) / format::element_bytes(f)
    }

    // ----- slots -----------------------------------------------------------

    #[inline]
    pub fn slot_addr(&self, obj: Oop, i: usize) -> usize {
        obj.addr() + WORD + i * WORD
    }

    /// Slot `i` (0-based) of a pointer object. Bounds are the caller's duty
    /// (checked in debug builds). Always inlined: the interpreter's loops
    /// read literals and instance variables through it.
    #[inline(always)]
    pub fn slot(&self, obj: Oop, i: usize) -> Oop {
        debug_assert!(
            i < self.num_slots(obj),
            "slot {i} of {obj:?} with {} slots",
            self.num_slots(obj)
        );
        Oop(self.mem.u64_at(self.slot_addr(obj, i)))
    }

    /// Slots `0..n` of `obj` as words, checked against committed memory
    /// once. As for `slot`, `n` within the object is the caller's duty.
    #[inline(always)]
    pub fn slot_words(&self, obj: Oop, n: usize) -> &[u64] {
        self.mem.words(self.slot_addr(obj, 0), n)
    }

    /// The header of `obj` and its slots `0..n`, with one check (see
    /// `slot_words`).
    #[inline(always)]
    pub fn header_and_slots(&self, obj: Oop, n: usize) -> (Header, &[u64]) {
        let w = self.mem.words(obj.addr(), n.saturating_add(1));
        (Header(w[0]), &w[1..])
    }

    /// Stores `value(i)` into slot `first + i` of `obj`, for `i < n`, where
    /// `obj` was just allocated: one range check for all of them, and the
    /// store check (as `set_slot_unchecked`) once, when `obj` is old.
    #[inline]
    pub fn init_slots(&mut self, obj: Oop, first: usize, n: usize, mut value: impl FnMut(usize) -> Oop) {
        debug_assert!(first + n <= self.num_slots(obj));
        let (lo, hi) = (self.young_lo, self.young_hi);
        let young = |v: Oop| crate::newspace::young_in(lo, hi, v);
        let obj_young = young(obj);
        let words = self.mem.words_mut(self.slot_addr(obj, first), n);
        if obj_young {
            // The common case: nothing to remember, nothing to test.
            for (i, w) in words.iter_mut().enumerate() {
                *w = value(i).0;
            }
            return;
        }
        let mut any_young = false;
        for (i, w) in words.iter_mut().enumerate() {
            let v = value(i);
            *w = v.0;
            any_young |= young(v);
        }
        if any_young {
            self.remember(obj);
        }
    }

    /// Stores into slot `i` with the store check (write barrier): an old
    /// object that receives a young reference is remembered. Always
    /// inlined, with the remembering out of line: the bytecode loops store
    /// receiver variables and `at:put:` through it, and a call there makes
    /// them save and restore their registers around it.
    #[inline(always)]
    pub fn set_slot(&mut self, obj: Oop, i: usize, v: Oop) {
        debug_assert!(i < self.num_slots(obj));
        let a = self.slot_addr(obj, i);
        self.mem.set_u64_at(a, v.0);
        if self.is_young(v) && !self.is_young(obj) {
            self.remember_out_of_line(obj);
        }
    }

    /// An initialising store into a freshly allocated object. The barrier is
    /// skipped when `obj` is young (the common case); an object that had to
    /// be allocated in old space still gets the store check, so this is
    /// always safe.
    #[inline]
    pub fn set_slot_unchecked(&mut self, obj: Oop, i: usize, v: Oop) {
        debug_assert!(i < self.num_slots(obj));
        let a = self.slot_addr(obj, i);
        self.mem.set_u64_at(a, v.0);
        if !self.is_young(obj) && self.is_young(v) {
            self.remember(obj);
        }
    }

    /// The object's body as bytes (`byte_size` of them).
    pub fn bytes(&self, obj: Oop) -> &[u8] {
        let n = self.byte_size(obj);
        self.mem.bytes(obj.addr() + WORD, n)
    }

    pub fn bytes_mut(&mut self, obj: Oop) -> &mut [u8] {
        self.note_write(obj);
        let n = self.byte_size(obj);
        self.mem.bytes_mut(obj.addr() + WORD, n)
    }

    /// How many times the byte accessors (`bytes_mut`, `set_byte_at`,
    /// `copy_bytes`) have written into a CompiledMethod. The interpreter
    /// fetches bytecodes from copies of methods, and drops them when this
    /// changes. Word writes (`set_slot`) change literals, which it does not
    /// copy.
    #[inline]
    pub fn code_writes(&self) -> u64 {
        self.code_writes
    }

    #[inline]
    fn note_write(&mut self, obj: Oop) {
        if format::is_compiled_method(self.format(obj)) {
            self.code_writes += 1;
        }
    }

    /// The whole body including padding, `num_slots * 8` bytes.
    pub fn body(&self, obj: Oop) -> &[u8] {
        let n = self.num_slots(obj) * WORD;
        self.mem.bytes(obj.addr() + WORD, n)
    }

    pub fn byte_at(&self, obj: Oop, i: usize) -> u8 {
        self.mem.u8_at(obj.addr() + WORD + i)
    }

    /// The size in bytes of a CompiledMethod's body (header, literals,
    /// bytecodes, trailer), after checking that it lies in committed
    /// memory. The interpreter copies a method's bytes below it and fetches
    /// bytecodes from the copy.
    #[inline]
    pub fn code_len(&self, method: Oop) -> usize {
        let h = self.header(method);
        let slots = match h.num_slots_field() {
            header::OVERFLOW_SLOTS => self.num_slots(method),
            n => n,
        };
        let f = h.format();
        let unused = if f >= format::COMPILED_METHOD {
            (f - format::COMPILED_METHOD) as usize
        } else {
            format::unused_bytes(f)
        };
        let n = (slots * WORD).saturating_sub(unused);
        self.mem.bytes(method.addr() + WORD, n);
        n
    }

    pub fn set_byte_at(&mut self, obj: Oop, i: usize, v: u8) {
        self.note_write(obj);
        self.mem.set_u8_at(obj.addr() + WORD + i, v)
    }

    /// Copies `len` bytes between object bodies (overlap allowed).
    /// When `dst` is an old pointer object that now holds young references,
    /// it is remembered (the store check for bulk copies).
    pub fn copy_bytes(&mut self, src: Oop, src_off: usize, dst: Oop, dst_off: usize, len: usize) {
        self.note_write(dst);
        self.mem
            .copy(src.addr() + WORD + src_off, dst.addr() + WORD + dst_off, len);
        if self.young_hi > self.young_lo && !self.is_young(dst) && !self.header(dst).is_remembered() {
            let f = self.format(dst);
            if format::is_pointers(f) || format::is_compiled_method(f) {
                let first = dst_off / WORD;
                let last = (dst_off + len).div_ceil(WORD).min(self.num_slots(dst));
                if (first..last).any(|k| self.is_young(self.slot(dst, k))) {
                    self.remember(dst);
                }
            }
        }
    }

    // ----- classes ---------------------------------------------------------

    /// The class-table entry for `index`, or `None` when its page or entry is empty.
    pub fn class_at_index(&self, index: u32) -> Option<Oop> {
        let hidden = self.roots.hidden_roots;
        if hidden.0 == 0 {
            return None;
        }
        let page_no = (index / class_index::PAGE_SIZE) as usize;
        if page_no >= class_index::NUM_PAGES || page_no >= self.num_slots(hidden) {
            return None;
        }
        let page = self.slot(hidden, page_no);
        if page == self.roots.nil
            || !page.is_object()
            || self.num_slots(page) < class_index::PAGE_SIZE as usize
        {
            return None;
        }
        let entry = self.slot(page, (index % class_index::PAGE_SIZE) as usize);
        (entry != self.roots.nil && entry.is_object()).then_some(entry)
    }

    /// Installs `class` at `index` in the class table; the page must exist.
    pub fn set_class_at_index(&mut self, index: u32, class: Oop) {
        let page = self.slot(self.roots.hidden_roots, (index / class_index::PAGE_SIZE) as usize);
        self.set_slot(page, (index % class_index::PAGE_SIZE) as usize, class);
    }

    /// The class of any reference (immediates through their tag's entry).
    pub fn class_of(&self, obj: Oop) -> Oop {
        let ci = self.class_index_of(obj);
        if ci == class_index::FORWARDER {
            // The read barrier: a forwarder's class is its target's.
            return self.class_of(self.follow(obj));
        }
        self.class_at_index(ci).unwrap_or(self.roots.nil)
    }

    /// A class's instance specification (format) and fixed field count.
    pub fn class_format(&self, class: Oop) -> Option<(u8, usize)> {
        let f = self.slot(class, class::FORMAT).as_small_int()?;
        Some((((f >> 16) & 0x1f) as u8, (f & 0xffff) as usize))
    }

    // ----- identity hash ---------------------------------------------------

    /// A fresh non-zero 22-bit identity hash (Park–Miller generator).
    pub fn new_hash(&mut self) -> u32 {
        loop {
            self.last_hash = (self.last_hash.wrapping_mul(16807)) % 0x7fff_ffff;
            let h = (self.last_hash as u32) & header::MAX_IDENTITY_HASH;
            if h != 0 {
                return h;
            }
        }
    }

    /// The object's identity hash, assigning one on first use.
    pub fn identity_hash(&mut self, obj: Oop) -> u32 {
        let h = self.header(obj);
        if h.hash() != 0 {
            return h.hash();
        }
        let new = self.new_hash();
        self.set_header(obj, h.with_hash(new));
        new
    }

    // ----- allocation ------------------------------------------------------

    /// Allocates an object with `num_slots` slots, every slot set to `fill`
    /// (use `Oop(0)` for raw data). Small objects go to eden when new space
    /// is enabled; large ones, and every object while eden is full, go to
    /// old space. Allocation never collects: when eden is full (or old space
    /// grew past its threshold) it sets [`Heap::gc_requested`] and the VM
    /// collects at its next safe point.
    #[inline]
    pub fn allocate(
        &mut self,
        class_index: u32,
        fmt: u8,
        num_slots: usize,
        fill: Oop,
    ) -> Result<Oop, AllocError> {
        match self.allocate_in_eden(class_index, fmt, num_slots, fill) {
            Some(obj) => Ok(obj),
            None => self.allocate_slow(class_index, fmt, num_slots, fill),
        }
    }

    /// `allocate`'s common case, inline in its callers: an object without
    /// an overflow word that fits in eden, with no stress collections
    /// configured. One range check for the whole object, and no store
    /// check: the object is young. None leaves it to `allocate_slow`
    /// (`eden_chunk` has requested the scavenge when eden is full).
    #[inline(always)]
    fn allocate_in_eden(&mut self, class_index: u32, fmt: u8, num_slots: usize, fill: Oop) -> Option<Oop> {
        if num_slots >= header::OVERFLOW_SLOTS || self.gc.config.stress.is_some() {
            return None;
        }
        let bytes = object_bytes(num_slots);
        let chunk = self.eden_chunk(bytes)?;
        self.note_allocation();
        let words = self.mem.words_mut(chunk, bytes / WORD);
        words[0] = Header::new(class_index, fmt, num_slots, 0).0;
        for w in &mut words[1..] {
            *w = fill.0;
        }
        Some(Oop::from_addr(chunk))
    }

    /// `allocate` for what `allocate_in_eden` leaves: large objects, old
    /// space, a full eden, stress collections.
    #[inline(never)]
    fn allocate_slow(
        &mut self,
        class_index: u32,
        fmt: u8,
        num_slots: usize,
        fill: Oop,
    ) -> Result<Oop, AllocError> {
        if num_slots >= (1 << 56) {
            return Err(AllocError::TooLarge);
        }
        let bytes = object_bytes(num_slots);
        self.note_allocation();
        let chunk = match self.eden_chunk(bytes) {
            Some(c) => c,
            None => {
                self.check_old_space_limit(bytes)?;
                self.allocate_old_chunk(bytes)?
            }
        };
        let obj = self.init_object(chunk, class_index, fmt, num_slots, fill);
        if self.is_young(fill) && !self.is_young(obj) && format::is_pointers(fmt) && num_slots > 0 {
            self.remember(obj);
        }
        Ok(obj)
    }

    /// Writes the header (and overflow word) of a new object at `chunk` and fills its body.
    pub(crate) fn init_object(
        &mut self,
        chunk: usize,
        class_index: u32,
        fmt: u8,
        num_slots: usize,
        fill: Oop,
    ) -> Oop {
        let obj = if num_slots >= header::OVERFLOW_SLOTS {
            self.mem.set_u64_at(chunk, (num_slots as u64) | (0xff << 56));
            Oop::from_addr(chunk + WORD)
        } else {
            Oop::from_addr(chunk)
        };
        // Word by word, each store checked. A fill through one checked
        // slice (`words_mut`) ran fewer instructions, but LLVM vectorized
        // it (16-byte stores at 8-byte-aligned addresses) and Queens, which
        // allocates small Arrays in its inner loop, took 10% longer in an
        // A/B of builds differing only here; the cause is not pinned down.
        // `allocate_in_eden`, which takes most objects now, does fill
        // through one slice, vectorized, and Queens ran no slower with it
        // (placement of the loops may explain the earlier 10%: README,
        // "Performance").
        self.set_header(
            obj,
            Header::new(class_index, fmt, num_slots.min(header::OVERFLOW_SLOTS), 0),
        );
        let body = obj.addr() + WORD;
        if fill.0 == 0 {
            self.mem.bytes_mut(body, num_slots.max(1) * WORD).fill(0);
        } else {
            for i in 0..num_slots.max(1) {
                self.mem.set_u64_at(body + i * WORD, fill.0);
            }
        }
        obj
    }

    /// Allocates an instance of `class` with `indexable` indexable elements,
    /// following the class's format: pointer fields are nil, raw data zero.
    pub fn instantiate(&mut self, class: Oop, indexable: usize) -> Result<Oop, AllocError> {
        let (spec, fixed) = self.class_format(class).ok_or(AllocError::TooLarge)?;
        let ci = self.identity_hash(class);
        self.instantiate_as(ci, spec, fixed, indexable)
    }

    /// `instantiate` for a caller that has the class's index (its identity
    /// hash) and instance specification (`class_format`) at hand.
    pub fn instantiate_as(
        &mut self,
        ci: u32,
        spec: u8,
        fixed: usize,
        indexable: usize,
    ) -> Result<Oop, AllocError> {
        let (fmt, slots, fill) = self
            .instance_layout(spec, fixed, indexable)
            .ok_or(AllocError::TooLarge)?;
        self.allocate(ci, fmt, slots, fill)
    }

    /// `instantiate_as` when the instance fits in eden without a collection
    /// or an overflow word (the interpreter's inline `basicNew`): None
    /// leaves everything else to `instantiate_as`.
    #[inline(always)]
    pub fn instantiate_young(&mut self, ci: u32, spec: u8, fixed: usize, indexable: usize) -> Option<Oop> {
        let (fmt, slots, fill) = self.instance_layout(spec, fixed, indexable)?;
        self.allocate_in_eden(ci, fmt, slots, fill)
    }

    /// An instance's format, slot count and fill for an instance
    /// specification: pointer fields are nil, raw data zero. None for a
    /// specification that has no instances (a CompiledMethod's, or none).
    #[inline(always)]
    fn instance_layout(&self, spec: u8, fixed: usize, indexable: usize) -> Option<(u8, usize, Oop)> {
        let nil = self.roots.nil;
        match spec {
            format::ZERO_SIZED | format::FIXED | format::EPHEMERON => Some((spec, fixed, nil)),
            format::INDEXABLE | format::FIXED_INDEXABLE | format::WEAK => {
                Some((spec, fixed.checked_add(indexable)?, nil))
            }
            format::WORDS64 => Some((spec, indexable, Oop(0))),
            format::WORDS32..=23 => {
                let base = match spec {
                    10..=11 => format::WORDS32,
                    12..=15 => format::SHORTS,
                    _ => format::BYTES,
                };
                let slots = format::slots_for(base, indexable);
                Some((format::with_length(base, indexable), slots, Oop(0)))
            }
            _ => None,
        }
    }

    /// The mutator's old-space limit (see `GcConfig::max_old_space_bytes`)
    /// and the low-space margin below it.
    fn check_old_space_limit(&mut self, bytes: usize) -> Result<(), AllocError> {
        let max = self.gc.config.max_old_space_bytes;
        if max == 0 || self.gc.collecting {
            return Ok(());
        }
        let used = self.old_space_end() - self.old_space_start;
        let fits_in_segment = self
            .segments
            .last()
            .is_some_and(|s| s.bridge - s.alloc_end >= bytes);
        if used
            + if fits_in_segment {
                0
            } else {
                bytes.max(MIN_GROWTH_SEGMENT)
            }
            > max
        {
            self.gc.full_requested = true;
            return Err(AllocError::OutOfMemory);
        }
        let margin = self.gc.config.low_space_bytes;
        if margin > 0 && !self.gc.low_space_fired && max.saturating_sub(used + bytes) < margin {
            self.gc.low_space = true;
            self.gc.low_space_fired = true;
        }
        Ok(())
    }

    /// True once when old space came within the low-space margin of its
    /// limit: the VM signals the low-space semaphore.
    pub fn take_low_space_signal(&mut self) -> bool {
        std::mem::take(&mut self.gc.low_space)
    }

    /// Sets the low-space margin (primitive 125) and re-arms the signal.
    pub fn set_low_space_bytes(&mut self, bytes: usize) {
        self.gc.config.low_space_bytes = bytes;
        self.gc.low_space_fired = false;
    }

    /// Room for `bytes` in old space: a free chunk, the last segment's
    /// unused tail, or a new segment.
    pub(crate) fn allocate_old_chunk(&mut self, bytes: usize) -> Result<usize, AllocError> {
        if let Some(at) = self.take_free_chunk(bytes) {
            return Ok(at);
        }
        if let Some(seg) = self.segments.last_mut() {
            if seg.bridge - seg.alloc_end >= bytes {
                let at = seg.alloc_end;
                seg.alloc_end += bytes;
                return Ok(at);
            }
        }
        self.add_empty_segment(bytes)?;
        self.note_old_growth();
        let seg = self.segments.last_mut().expect("segment just added");
        let at = seg.alloc_end;
        seg.alloc_end += bytes;
        Ok(at)
    }

    /// The slots of `obj` that hold object references: all of a pointer
    /// object's, a forwarder's target, a method's literals; none of raw data
    /// or free chunks.
    pub fn reference_slots(&self, obj: Oop) -> std::ops::Range<usize> {
        let h = self.header(obj);
        let n = self.num_slots(obj);
        match h.class_index() {
            class_index::FREE => 0..0,
            class_index::FORWARDER => 0..n.min(1),
            _ if format::is_pointers(h.format()) => 0..n,
            _ if format::is_compiled_method(h.format()) => match self.slot(obj, 0).as_small_int() {
                Some(v) => 1..(1 + (v as usize & 0x7fff)).min(n),
                None => 0..0,
            },
            _ => 0..0,
        }
    }

    // ----- enumeration -----------------------------------------------------

    /// Every chunk in the heap: old space in address order (objects, free
    /// chunks and forwarders, but not bridges), then the survivor space and
    /// eden.
    pub fn objects(&self) -> ObjectIter<'_> {
        let mut ranges: Vec<(usize, usize)> = self.segments.iter().map(|s| (s.start, s.alloc_end)).collect();
        ranges.extend(self.young_ranges());
        ObjectIter {
            heap: self,
            next: ranges.first().map(|r| r.0).unwrap_or(0),
            ranges,
            seg: 0,
        }
    }

    /// Every chunk of old space only, in address order.
    pub fn old_objects(&self) -> ObjectIter<'_> {
        let ranges: Vec<(usize, usize)> = self.segments.iter().map(|s| (s.start, s.alloc_end)).collect();
        ObjectIter {
            heap: self,
            next: ranges.first().map(|r| r.0).unwrap_or(0),
            ranges,
            seg: 0,
        }
    }

    /// True when `obj` is a class: Spur keeps every class in the class
    /// table at the index equal to its identity hash.
    pub fn is_class(&self, obj: Oop) -> bool {
        obj.is_object()
            && format::is_pointers(self.format(obj))
            && self.num_slots(obj) > class::FORMAT
            && self.header(obj).hash() != 0
            && self.class_at_index(self.header(obj).hash()) == Some(obj)
    }

    /// A class's name, for reports and tools (not for the VM's logic): the
    /// first identifier-like String or Symbol among its fields after the
    /// format; for a metaclass, "X class" after the class it describes.
    pub fn class_name(&self, class: Oop) -> Option<String> {
        if !self.is_class(class) {
            return None;
        }
        self.direct_class_name(class).or_else(|| {
            let n = self.num_slots(class).min(12);
            (class::FORMAT + 1..n)
                .map(|i| self.slot(class, i))
                .find(|&v| v != class && self.is_class(v) && self.class_of(v) == class)
                .and_then(|sole| self.direct_class_name(sole))
                .map(|name| format!("{name} class"))
        })
    }

    fn direct_class_name(&self, class: Oop) -> Option<String> {
        let n = self.num_slots(class).min(12);
        (class::FORMAT + 1..n).find_map(|i| {
            let v = self.slot(class, i);
            let f = if v.is_object() {
                self.format(v)
            } else {
                return None;
            };
            if !format::is_bytes(f) || format::is_compiled_method(f) {
                return None;
            }
            let b = self.bytes(v);
            let ok = !b.is_empty()
                && b.len() < 128
                && b[0].is_ascii_uppercase()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_');
            ok.then(|| String::from_utf8_lossy(b).into_owned())
        })
    }

    /// The contents of a byte object as a string (lossy), for symbols and strings.
    pub fn string_of(&self, obj: Oop) -> Option<String> {
        if obj.is_object()
            && format::is_bytes(self.format(obj))
            && !format::is_compiled_method(self.format(obj))
        {
            Some(String::from_utf8_lossy(self.bytes(obj)).into_owned())
        } else {
            None
        }
    }

    /// Address range of committed heap memory, for tools.
    pub fn memory_range(&self) -> (usize, usize) {
        (self.mem.base(), self.mem.committed_end())
    }

    /// The special objects array's name for entry `i`.
    pub fn special_name(i: usize) -> &'static str {
        so::NAMES.get(i).copied().unwrap_or("")
    }
}

/// Iterator over heap chunks (see [`Heap::objects`]).
pub struct ObjectIter<'h> {
    heap: &'h Heap,
    ranges: Vec<(usize, usize)>,
    seg: usize,
    next: usize,
}

impl Iterator for ObjectIter<'_> {
    type Item = Oop;

    fn next(&mut self) -> Option<Oop> {
        loop {
            let &(_, end) = self.ranges.get(self.seg)?;
            if self.next >= end {
                self.seg += 1;
                self.next = self.ranges.get(self.seg).map(|r| r.0).unwrap_or(0);
                continue;
            }
            let obj = self.heap.object_at_chunk(self.next);
            self.next = self.heap.address_after(obj);
            return Some(obj);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_heap() -> Heap {
        Heap::new(HeapConfig {
            reserve_bytes: 256 << 20,
            new_space_bytes: 1 << 20,
        })
        .unwrap()
    }

    #[test]
    fn allocate_and_walk() {
        let mut h = small_heap();
        let a = h.allocate(40, format::INDEXABLE, 3, Oop::small_int(7)).unwrap();
        let b = h
            .allocate(41, format::with_length(format::BYTES, 5), 1, Oop(0))
            .unwrap();
        let big = h.allocate(42, format::INDEXABLE, 300, Oop::small_int(0)).unwrap();
        assert_eq!(h.num_slots(a), 3);
        assert_eq!(h.slot(a, 2), Oop::small_int(7));
        assert_eq!(h.byte_size(b), 5);
        assert_eq!(h.num_slots(big), 300);
        assert_eq!(h.chunk_start(big), big.addr() - 8);
        let all: Vec<Oop> = h.objects().collect();
        assert_eq!(all, vec![a, b, big]);
        h.set_slot(big, 299, a);
        assert_eq!(h.slot(big, 299), a);
    }

    #[test]
    fn code_len_is_the_byte_size() {
        let mut h = small_heap();
        // A method-format object of 3 words with 5 unused bytes: 19 bytes,
        // and one with more slots than the header's count field holds.
        let m = h
            .allocate(40, format::with_length(format::COMPILED_METHOD, 19), 3, Oop(0))
            .unwrap();
        let big = h
            .allocate(
                40,
                format::with_length(format::COMPILED_METHOD, 300 * 8 - 1),
                300,
                Oop(0),
            )
            .unwrap();
        h.set_byte_at(m, 18, 0xab);
        assert_eq!(h.code_len(m), h.byte_size(m));
        assert_eq!(h.code_len(m), 19);
        assert_eq!(h.code_len(big), 300 * 8 - 1);
        assert_eq!(h.body(m)[..h.code_len(m)][18], 0xab);
    }

    #[test]
    fn growth_adds_segments_with_bridges() {
        let mut h = small_heap();
        let first = h.allocate(40, format::INDEXABLE, 10, Oop::small_int(1)).unwrap();
        // Larger than the first segment's room: forces a second segment.
        let huge = h
            .allocate(40, format::WORDS64, (MIN_GROWTH_SEGMENT / 8) + 10, Oop(0))
            .unwrap();
        assert_eq!(h.segments().len(), 2);
        let s0 = h.segments()[0];
        assert_eq!(h.u64_at(s0.bridge), BRIDGE_HEADER);
        assert_eq!(
            h.u64_at(s0.bridge + 8) as usize,
            h.segments()[1].bridge - h.segments()[1].start + BRIDGE_BYTES
        );
        let all: Vec<Oop> = h.objects().collect();
        assert_eq!(all, vec![first, huge]);
    }

    #[test]
    fn hashes_are_nonzero_and_stable() {
        let mut h = small_heap();
        let a = h.allocate(40, format::FIXED, 1, Oop::small_int(0)).unwrap();
        let x = h.identity_hash(a);
        assert_ne!(x, 0);
        assert_eq!(h.identity_hash(a), x);
        assert!(x <= header::MAX_IDENTITY_HASH);
    }
}

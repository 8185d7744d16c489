//! become with forwarders, pinning, and the read barrier's `follow`.
//!
//! A forwarder is an object whose header has class index 8 (format 7) and
//! whose slot 0 holds the object it stands for. References to it stay
//! valid: the VM follows them lazily ([`Heap::follow`] when a send or a
//! primitive meets one), scavenges resolve young ones, and a full GC
//! rewrites every reference and frees all forwarders.

use crate::header::{class_index, format, object_bytes, Header, OVERFLOW_SLOTS, WORD};
use crate::heap::{AllocError, Heap};
use crate::oop::Oop;

/// Why a become was refused (nothing changed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BecomeError {
    /// The two arrays have different lengths.
    LengthMismatch,
    /// Element `i` is an immediate (or nil/true/false when forwarding them).
    NotAnObject(usize),
    /// An object appears twice.
    Duplicate(usize),
    /// Copies for a two-way become of different sizes could not be allocated.
    OutOfMemory,
}

impl Heap {
    /// True when `o` is a forwarder. Always inlined: the interpreter's
    /// `==` asks it of both operands.
    #[inline(always)]
    pub fn is_forwarded(&self, o: Oop) -> bool {
        o.is_object() && self.header(o).is_forwarder()
    }

    /// Turns `a` into a forwarder to `b`.
    fn forward(&mut self, a: Oop, b: Oop) {
        let h = self.header(a);
        let nsf = match h.num_slots_field() {
            0 => 1, // a 0-slot object still has room for the target (16 bytes)
            n => n,
        };
        let fh = Header::new(class_index::FORWARDER, format::IMMEDIATE, nsf, 0)
            .with_flag(crate::header::REMEMBERED_BIT, h.is_remembered());
        self.set_header(a, fh);
        self.mem.set_u64_at(a.addr() + WORD, b.0);
        if self.is_young(b) && !self.is_young(a) {
            self.remember(a);
        }
    }

    /// A copy of `o` with a new identity (same header fields, hash `hash`).
    fn copy_object(&mut self, o: Oop, hash: u32) -> Result<Oop, AllocError> {
        let h = self.header(o);
        let n = self.num_slots(o);
        let c = self.allocate(h.class_index(), h.format(), n, Oop(0))?;
        self.copy_bytes(o, 0, c, 0, n.max(1) * WORD);
        let ch = self.header(c);
        self.set_header(
            c,
            ch.with_hash(hash)
                .with_flag(crate::header::IMMUTABLE_BIT, h.is_immutable()),
        );
        Ok(c)
    }

    /// Keeps the class table consistent when a class's identity moves to `to`.
    fn retarget_class(&mut self, from: Oop, to: Oop) {
        let hash = self.header(from).hash();
        if hash != 0 && self.class_at_index(hash) == Some(from) {
            self.set_class_at_index(hash, to);
        }
    }

    /// become: for each i, references to `a[i]` now mean `b[i]`, and with
    /// `two_way` references to `b[i]` mean `a[i]`. With `copy_hash` the
    /// identity hash stays with the reference (`b[i]` takes `a[i]`'s hash in
    /// a one-way become; in a two-way become the hashes do not travel with
    /// the contents). Two-way becomes of objects of the same size swap their
    /// contents in place; others leave forwarders (followed lazily by the
    /// VM, removed by the next full GC).
    pub fn become_objects(
        &mut self,
        a: &[Oop],
        b: &[Oop],
        two_way: bool,
        copy_hash: bool,
    ) -> Result<(), BecomeError> {
        if a.len() != b.len() {
            return Err(BecomeError::LengthMismatch);
        }
        let a: Vec<Oop> = a.iter().map(|&o| self.follow(o)).collect();
        let b: Vec<Oop> = b.iter().map(|&o| self.follow(o)).collect();
        let specials = [self.nil(), self.true_obj(), self.false_obj()];
        for i in 0..a.len() {
            if !a[i].is_object() || !b[i].is_object() || specials.contains(&a[i]) {
                return Err(BecomeError::NotAnObject(i));
            }
            if two_way && specials.contains(&b[i]) {
                return Err(BecomeError::NotAnObject(i));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, o) in a.iter().enumerate() {
            if !seen.insert(*o) {
                return Err(BecomeError::Duplicate(i));
            }
        }
        if two_way {
            for (i, o) in b.iter().enumerate() {
                if !seen.insert(*o) && a[i] != *o {
                    return Err(BecomeError::Duplicate(i));
                }
            }
        }
        for i in 0..a.len() {
            let (x, y) = (a[i], b[i]);
            if x == y {
                continue;
            }
            if !two_way {
                if copy_hash && !self.is_class(y) {
                    let hx = self.header(x).hash();
                    let hy = self.header(y);
                    self.set_header(y, hy.with_hash(hx));
                }
                self.retarget_class(x, y);
                self.forward(x, y);
                continue;
            }
            let (nx, ny) = (self.num_slots(x), self.num_slots(y));
            let same_shape =
                object_bytes(nx) == object_bytes(ny) && (nx >= OVERFLOW_SLOTS) == (ny >= OVERFLOW_SLOTS);
            if same_shape {
                self.swap_in_place(x, y, copy_hash);
            } else {
                let (hx, hy) = (self.header(x).hash(), self.header(y).hash());
                let (hash_x2, hash_y2) = if copy_hash { (hy, hx) } else { (hx, hy) };
                // x2: a copy of x that references to y will reach; y2 likewise.
                let x2 = self
                    .copy_object(x, hash_x2)
                    .map_err(|_| BecomeError::OutOfMemory)?;
                let y2 = self
                    .copy_object(y, hash_y2)
                    .map_err(|_| BecomeError::OutOfMemory)?;
                self.retarget_class(x, y2);
                self.retarget_class(y, x2);
                self.forward(x, y2);
                self.forward(y, x2);
            }
        }
        let mut r = self.roots;
        r.special_objects = self.follow(r.special_objects);
        r.hidden_roots = self.follow(r.hidden_roots);
        self.roots = r;
        Ok(())
    }

    fn swap_in_place(&mut self, x: Oop, y: Oop, copy_hash: bool) {
        let n = self.num_slots(x).max(1);
        for i in 0..n {
            let (ax, ay) = (x.addr() + WORD + i * WORD, y.addr() + WORD + i * WORD);
            let (vx, vy) = (self.mem.u64_at(ax), self.mem.u64_at(ay));
            self.mem.set_u64_at(ax, vy);
            self.mem.set_u64_at(ay, vx);
        }
        let (hx, hy) = (self.header(x), self.header(y));
        // Location-bound flags stay; class, format, slots, immutability move.
        let keep = crate::header::REMEMBERED_BIT | crate::header::PINNED_BIT | crate::header::MARKED_BIT;
        let mut nx = Header((hy.0 & !keep) | (hx.0 & keep));
        let mut ny = Header((hx.0 & !keep) | (hy.0 & keep));
        if copy_hash {
            nx = nx.with_hash(hx.hash());
            ny = ny.with_hash(hy.hash());
        }
        self.set_header(x, nx);
        self.set_header(y, ny);
        if self.num_slots(x) >= OVERFLOW_SLOTS {
            let (ox, oy) = (self.mem.u64_at(x.addr() - WORD), self.mem.u64_at(y.addr() - WORD));
            self.mem.set_u64_at(x.addr() - WORD, oy);
            self.mem.set_u64_at(y.addr() - WORD, ox);
        }
        for o in [x, y] {
            if !self.is_young(o) && self.has_young_refs(o) {
                self.remember(o);
            }
        }
    }

    /// Pins `obj` so that it never moves. A young object is first copied to
    /// old space (the young copy becomes a forwarder): the answer is the
    /// object to use from now on.
    pub fn pin(&mut self, obj: Oop) -> Result<Oop, AllocError> {
        let obj = self.follow(obj);
        if !self.is_young(obj) {
            let h = self.header(obj);
            self.set_header(obj, h.with_flag(crate::header::PINNED_BIT, true));
            return Ok(obj);
        }
        let n = self.num_slots(obj);
        let bytes = object_bytes(n);
        let chunk = self.allocate_old_chunk(bytes)?;
        let src = self.chunk_start(obj);
        self.mem.copy(src, chunk, bytes);
        let new = Oop::from_addr(chunk + (obj.addr() - src));
        let h = self.header(new);
        self.set_header(new, h.with_flag(crate::header::PINNED_BIT, true));
        if self.has_young_refs(new) {
            self.remember(new);
        }
        self.forward(obj, new);
        Ok(new)
    }

    /// Clears the pinned bit (the object may move again at the next full GC).
    pub fn unpin(&mut self, obj: Oop) {
        let h = self.header(obj);
        self.set_header(obj, h.with_flag(crate::header::PINNED_BIT, false));
    }
}

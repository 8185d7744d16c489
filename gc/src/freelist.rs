//! Old-space free chunks. A free chunk is a heap object with class index 0
//! (so the heap stays walkable); the lists that find them by size live in
//! Rust, keyed by chunk bytes (small sizes are exact lists, large ones are
//! found best-fit through the ordered map).

use crate::header::{Header, OVERFLOW_SLOTS, WORD};
use crate::heap::Heap;
use std::collections::BTreeMap;

/// Free chunks of old space by size in bytes.
#[derive(Debug, Default, Clone)]
pub struct FreeLists {
    pub(crate) by_size: BTreeMap<usize, Vec<usize>>,
    pub(crate) bytes: usize,
    pub(crate) count: usize,
}

impl FreeLists {
    pub(crate) fn clear(&mut self) {
        self.by_size.clear();
        self.bytes = 0;
        self.count = 0;
    }

    fn push(&mut self, addr: usize, bytes: usize) {
        self.by_size.entry(bytes).or_default().push(addr);
        self.bytes += bytes;
        self.count += 1;
    }

    /// Every chunk (address, bytes).
    pub fn chunks(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.by_size
            .iter()
            .flat_map(|(&b, v)| v.iter().map(move |&a| (a, b)))
    }

    pub fn total_bytes(&self) -> usize {
        self.bytes
    }
}

impl Heap {
    /// Writes free-chunk headers over `[addr, addr+len)` (`len` a multiple of
    /// 8, not 8: an 8-byte range is left as is) and returns the chunks written. A 2048-byte range cannot be one
    /// chunk (254 slots need 2040 bytes, 255 need 2056), so it becomes two.
    pub(crate) fn write_free_range(&mut self, addr: usize, len: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let (mut at, mut left) = (addr, len);
        while left >= 2 * WORD {
            let this = if left == 2048 { 2 * WORD } else { left };
            self.write_free_chunk(at, this);
            out.push((at, this));
            at += this;
            left -= this;
        }
        out
    }

    fn write_free_chunk(&mut self, at: usize, bytes: usize) {
        let slots_plain = bytes / WORD - 1;
        if slots_plain < OVERFLOW_SLOTS {
            self.mem.set_u64_at(at, Header::new(0, 0, slots_plain, 0).0);
            self.mem.set_u64_at(at + WORD, 0);
        } else {
            let slots = bytes / WORD - 2;
            self.mem.set_u64_at(at, slots as u64 | (0xff << 56));
            self.mem
                .set_u64_at(at + WORD, Header::new(0, 0, OVERFLOW_SLOTS, 0).0);
            self.mem.set_u64_at(at + 2 * WORD, 0);
        }
    }

    /// Makes `[addr, addr+len)` free and available to allocation.
    pub(crate) fn add_free_range(&mut self, addr: usize, len: usize) {
        for (a, b) in self.write_free_range(addr, len) {
            self.free.push(a, b);
        }
    }

    /// Takes a free chunk of exactly `bytes`, or splits a larger one (never
    /// leaving an unrepresentable 8-byte rest). Returns the chunk address.
    pub(crate) fn take_free_chunk(&mut self, bytes: usize) -> Option<usize> {
        if self.free.count == 0 {
            return None;
        }
        let size = if self.free.by_size.get(&bytes).is_some_and(|v| !v.is_empty()) {
            bytes
        } else {
            *self
                .free
                .by_size
                .range(bytes + 2 * WORD..)
                .find(|(_, v)| !v.is_empty())?
                .0
        };
        let list = self.free.by_size.get_mut(&size).expect("list");
        let at = list.pop().expect("non-empty");
        if list.is_empty() {
            self.free.by_size.remove(&size);
        }
        self.free.bytes -= size;
        self.free.count -= 1;
        if size > bytes {
            self.add_free_range(at + bytes, size - bytes);
        }
        Some(at)
    }

    /// The free lists (for tools and tests).
    pub fn free_lists(&self) -> &FreeLists {
        &self.free
    }
}

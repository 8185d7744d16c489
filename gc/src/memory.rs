//! Raw access to heap memory: the one place in `gc` that dereferences
//! addresses. Every access is checked against the committed range, so a bad
//! reference becomes a Rust panic (which the VM turns into a fault report)
//! instead of a segfault.

use platform::{page_size, Reservation};
use std::io;

const WORD_BYTES: usize = 8;

/// A reserved range of address space whose prefix `[base, base+committed)` is
/// readable and writable.
#[derive(Debug)]
pub struct HeapMemory {
    region: Reservation,
    committed: usize,
    /// `region.base()`, kept beside `word_limit` for the word accessors.
    base: usize,
    /// A word at `base + off` is committed when `off < word_limit`: one
    /// comparison per word access instead of two (kept by `set_committed`).
    word_limit: usize,
}

impl HeapMemory {
    /// Reserves `bytes` of address space; nothing is committed yet.
    pub fn reserve(bytes: usize) -> io::Result<HeapMemory> {
        let region = Reservation::reserve(bytes)?;
        Ok(HeapMemory {
            base: region.base(),
            region,
            committed: 0,
            word_limit: 0,
        })
    }

    fn set_committed(&mut self, committed: usize) {
        self.committed = committed;
        self.word_limit = committed.saturating_sub(WORD_BYTES - 1);
    }

    #[inline]
    pub fn base(&self) -> usize {
        self.base
    }

    /// First address past the committed prefix.
    #[inline]
    pub fn committed_end(&self) -> usize {
        self.region.base() + self.committed
    }

    /// One past the last reserved address.
    pub fn reserved_end(&self) -> usize {
        self.region.base() + self.region.len()
    }

    /// Commits memory so that every address below `end` is usable.
    pub fn ensure_committed(&mut self, end: usize) -> io::Result<()> {
        if end <= self.committed_end() {
            return Ok(());
        }
        if end > self.reserved_end() {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!("heap reservation of {} bytes exhausted", self.region.len()),
            ));
        }
        let chunk = (1 << 20).max(page_size());
        let new_committed = platform::memory::round_up(end - self.base(), chunk).min(self.region.len());
        self.region
            .commit(self.committed, new_committed - self.committed)?;
        self.set_committed(new_committed);
        Ok(())
    }

    /// Returns the committed memory above `end` (rounded up to the commit
    /// granule) to the operating system.
    pub fn decommit_above(&mut self, end: usize) {
        let chunk = (1 << 20).max(page_size());
        let keep = platform::memory::round_up(end.saturating_sub(self.base()), chunk).min(self.region.len());
        if keep < self.committed && self.region.decommit(keep, self.committed - keep).is_ok() {
            self.set_committed(keep);
        }
    }

    #[inline(always)]
    fn check(&self, addr: usize, len: usize) {
        let off = addr.wrapping_sub(self.region.base());
        if off > self.committed || len > self.committed - off {
            bad_access(addr, len, self.region.base(), self.committed);
        }
    }

    /// The check for a word at `addr`: one comparison (see `word_limit`).
    #[inline(always)]
    fn check_word(&self, addr: usize) {
        if addr.wrapping_sub(self.base) >= self.word_limit {
            bad_access(addr, WORD_BYTES, self.base, self.committed);
        }
    }

    #[inline]
    pub fn u64_at(&self, addr: usize) -> u64 {
        self.check_word(addr);
        // SAFETY: the range is inside committed memory (checked above);
        // unaligned reads are allowed by read_unaligned.
        unsafe { (addr as *const u64).read_unaligned() }
    }

    #[inline]
    pub fn set_u64_at(&mut self, addr: usize, v: u64) {
        self.check_word(addr);
        // SAFETY: inside committed memory; `&mut self` excludes other borrows.
        unsafe { (addr as *mut u64).write_unaligned(v) }
    }

    /// The check for the `n` words from `addr`: inside committed memory
    /// and 8-aligned, as a `u64` slice must be.
    #[inline(always)]
    fn check_words(&self, addr: usize, n: usize) {
        let len = n.saturating_mul(WORD_BYTES);
        self.check(addr, len);
        if !addr.is_multiple_of(WORD_BYTES) {
            bad_access(addr, len, self.region.base(), self.committed);
        }
    }

    /// The `n` words from `addr`, checked against committed memory once:
    /// for readers of several fields of one object.
    #[inline(always)]
    pub fn words(&self, addr: usize, n: usize) -> &[u64] {
        self.check_words(addr, n);
        // SAFETY: inside committed memory and 8-aligned (checked above);
        // the slice borrows `self`, so nothing writes or unmaps the memory
        // while it lives.
        unsafe { std::slice::from_raw_parts(addr as *const u64, n) }
    }

    /// The `n` words from `addr`, writable, checked once (see `words`).
    #[inline(always)]
    pub fn words_mut(&mut self, addr: usize, n: usize) -> &mut [u64] {
        self.check_words(addr, n);
        // SAFETY: inside committed memory and 8-aligned (checked above);
        // the mutable slice borrows `self` exclusively.
        unsafe { std::slice::from_raw_parts_mut(addr as *mut u64, n) }
    }

    #[inline]
    pub fn u8_at(&self, addr: usize) -> u8 {
        self.check(addr, 1);
        // SAFETY: inside committed memory.
        unsafe { (addr as *const u8).read() }
    }

    #[inline]
    pub fn set_u8_at(&mut self, addr: usize, v: u8) {
        self.check(addr, 1);
        // SAFETY: inside committed memory; exclusive access through &mut self.
        unsafe { (addr as *mut u8).write(v) }
    }

    /// The bytes `[addr, addr+len)`.
    #[inline]
    pub fn bytes(&self, addr: usize, len: usize) -> &[u8] {
        self.check(addr, len);
        // SAFETY: inside committed memory; the slice borrows `self`, so the
        // memory cannot be written or unmapped while it lives.
        unsafe { std::slice::from_raw_parts(addr as *const u8, len) }
    }

    /// The bytes `[addr, addr+len)`, writable.
    #[inline]
    pub fn bytes_mut(&mut self, addr: usize, len: usize) -> &mut [u8] {
        self.check(addr, len);
        // SAFETY: inside committed memory; the mutable slice borrows `self`
        // exclusively.
        unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, len) }
    }

    /// Copies the `len` bytes (a multiple of 8) of an object from `src`
    /// to `dst`, ranges that do not overlap (the scavenger's copy). Most
    /// objects are a few words, for which a word loop beats a call to
    /// `memcpy`.
    #[inline]
    pub fn copy_object(&mut self, src: usize, dst: usize, len: usize) {
        self.check(src, len);
        self.check(dst, len);
        assert!(
            len.is_multiple_of(WORD_BYTES) && (src + len <= dst || dst + len <= src),
            "object copy of {len} bytes from {src:#x} to {dst:#x}"
        );
        if len <= 16 * WORD_BYTES {
            for k in (0..len).step_by(WORD_BYTES) {
                // SAFETY: both ranges are inside committed memory (checked
                // above) and do not overlap.
                unsafe { ((dst + k) as *mut u64).write_unaligned(((src + k) as *const u64).read_unaligned()) }
            }
        } else {
            // SAFETY: as above.
            unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, len) }
        }
    }

    /// Copies `len` bytes from `src` to `dst`; the ranges may overlap.
    pub fn copy(&mut self, src: usize, dst: usize, len: usize) {
        self.check(src, len);
        self.check(dst, len);
        // SAFETY: both ranges are inside committed memory; `copy` handles overlap.
        unsafe { std::ptr::copy(src as *const u8, dst as *mut u8, len) }
    }
}

#[cold]
#[inline(never)]
fn bad_access(addr: usize, len: usize, base: usize, committed: usize) -> ! {
    panic!(
        "heap access out of range: {addr:#x}+{len} outside [{base:#x}, {:#x})",
        base + committed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_and_access() {
        let mut m = HeapMemory::reserve(64 << 20).unwrap();
        m.ensure_committed(m.base() + 100).unwrap();
        let a = m.base() + 16;
        m.set_u64_at(a, 0x1122334455667788);
        assert_eq!(m.u64_at(a), 0x1122334455667788);
        assert_eq!(m.u8_at(a), 0x88);
        m.copy(a, a + 4, 8);
        assert_eq!(m.u8_at(a + 4), 0x88);
        assert!(m.ensure_committed(m.base() + (65 << 20)).is_err());
    }

    #[test]
    fn words_reads_a_run_and_checks_it_once() {
        let mut m = HeapMemory::reserve(8 << 20).unwrap();
        m.ensure_committed(m.base() + 4096).unwrap();
        let a = m.base() + 64;
        m.set_u64_at(a, 7);
        m.set_u64_at(a + 8, 9);
        assert_eq!(m.words(a, 2), &[7, 9]);
        m.words_mut(a, 2)[1] = 11;
        assert_eq!(m.u64_at(a + 8), 11);
        let end = m.committed_end();
        assert_eq!(m.words(end - 16, 2).len(), 2);
        assert!(m.words(end, 0).is_empty());
        for (at, n) in [(end - 8, 2), (a + 4, 1), (m.base() - 8, 1), (a, usize::MAX)] {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.words(at, n).len()));
            assert!(r.is_err(), "words({at:#x}, {n}) must be refused");
        }
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn out_of_range_panics_instead_of_faulting() {
        let mut m = HeapMemory::reserve(8 << 20).unwrap();
        m.ensure_committed(m.base() + 4096).unwrap();
        let end = m.committed_end();
        m.u64_at(end - 4);
    }
}

//! Address-space reservation with commit-on-demand.
//!
//! The Spur heap lives at fixed addresses for its whole life (an object
//! reference *is* an address), so the VM reserves one large range up front
//! and commits pages inside it as spaces grow. Reserved but uncommitted pages
//! are `PROT_NONE`: touching them faults instead of silently reading zeros.

use std::fmt;
use std::io;

/// The operating system's page size in bytes.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions and only reads a constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size <= 0 {
        4096
    } else {
        size as usize
    }
}

/// Rounds `n` up to a multiple of `align` (a power of two).
pub fn round_up(n: usize, align: usize) -> usize {
    debug_assert!(align.is_power_of_two());
    (n + align - 1) & !(align - 1)
}

/// A reserved range of address space. Pages start inaccessible; [`commit`]
/// makes a range readable and writable (zero-filled on first touch).
///
/// Invariant: `base` is page aligned and `len` is a multiple of the page size;
/// the mapping stays valid until drop.
///
/// [`commit`]: Reservation::commit
pub struct Reservation {
    base: *mut u8,
    len: usize,
}

// SAFETY: the reservation is a plain range of process memory; ownership of the
// range moves with the value and all mutation goes through `&mut self`.
unsafe impl Send for Reservation {}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reservation({:#x}+{:#x})", self.base as usize, self.len)
    }
}

impl Reservation {
    /// Reserves `len` bytes (rounded up to whole pages) without committing them.
    pub fn reserve(len: usize) -> io::Result<Reservation> {
        let len = round_up(len.max(1), page_size());
        // SAFETY: an anonymous, private PROT_NONE mapping at an address of the
        // kernel's choosing cannot alias any existing Rust object.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Reservation {
            base: ptr as *mut u8,
            len,
        })
    }

    /// The first address of the range.
    pub fn base(&self) -> usize {
        self.base as usize
    }

    /// The length of the range in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the reservation is empty (never, after a successful reserve).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn check_range(&self, offset: usize, len: usize) -> io::Result<()> {
        let ps = page_size();
        if !offset.is_multiple_of(ps)
            || !len.is_multiple_of(ps)
            || offset.checked_add(len).is_none_or(|e| e > self.len)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("range {offset:#x}+{len:#x} is not page aligned inside {self:?}"),
            ));
        }
        Ok(())
    }

    /// Makes `[offset, offset+len)` readable and writable. Both must be page
    /// multiples. Newly committed pages read as zero.
    pub fn commit(&mut self, offset: usize, len: usize) -> io::Result<()> {
        self.check_range(offset, len)?;
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the range lies inside our own mapping (checked above).
        let rc = unsafe {
            libc::mprotect(
                self.base.add(offset) as *mut libc::c_void,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Returns `[offset, offset+len)` to the operating system and makes it
    /// inaccessible again. Its contents are lost.
    pub fn decommit(&mut self, offset: usize, len: usize) -> io::Result<()> {
        self.check_range(offset, len)?;
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the range lies inside our own mapping (checked above);
        // remapping it fresh drops the pages and their contents.
        let ptr = unsafe {
            libc::mmap(
                self.base.add(offset) as *mut libc::c_void,
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: we own the whole mapping; nothing can use it after drop.
        unsafe {
            libc::munmap(self.base as *mut libc::c_void, self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_commit_write_decommit() {
        let ps = page_size();
        let mut r = Reservation::reserve(1 << 30).expect("reserve 1 GiB");
        assert_eq!(r.base() % ps, 0);
        assert!(r.len() >= 1 << 30);
        r.commit(ps, 2 * ps).unwrap();
        let p = (r.base() + ps) as *mut u64;
        // SAFETY: the page at base+ps was just committed read-write.
        unsafe {
            assert_eq!(p.read(), 0, "fresh pages read as zero");
            p.write(0xdead_beef);
            assert_eq!(p.read(), 0xdead_beef);
        }
        r.decommit(ps, 2 * ps).unwrap();
        r.commit(ps, ps).unwrap();
        // SAFETY: recommitted; contents were dropped by decommit.
        unsafe { assert_eq!(p.read(), 0) };
    }

    #[test]
    fn rejects_misaligned_and_out_of_range() {
        let mut r = Reservation::reserve(page_size() * 4).unwrap();
        assert!(r.commit(1, page_size()).is_err());
        assert!(r.commit(0, page_size() * 8).is_err());
        assert!(r.commit(usize::MAX - page_size() + 1, page_size()).is_err());
    }
}

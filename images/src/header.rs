//! Image file headers.
//!
//! Both word sizes share one field order; "word" fields are 4 bytes in a
//! 32-bit image and 8 in a 64-bit one:
//!
//! | field | 32-bit | 64-bit |
//! |---|---|---|
//! | image format | u32 @0 | u32 @0 |
//! | header size | u32 @4 | u32 @4 |
//! | data size (bytes of all segments) | word @8 | word @8 |
//! | old base address | word @12 | word @16 |
//! | special objects oop | word @16 | word @24 |
//! | last hash | word @20 | word @32 |
//! | saved window size (w << 16 \| h) | word @24 | word @40 |
//! | header flags | word @28 | word @48 |
//! | extra VM memory | u32 @32 | u32 @56 |
//! | stack pages | u16 @36 | u16 @60 |
//! | code size (KiB) | u16 @38 | u16 @62 |
//! | eden bytes | u32 @40 | u32 @64 |
//! | max external semaphores | u16 @44 | u16 @68 |
//! | unused | u16 @46 | u16 @70 |
//! | first segment bytes | word @48 | word @72 |
//! | free old space | word @52 | word @80 |
//!
//! The rest up to the header size (64 or 128 bytes) is padding.

use crate::error::{ImageError, Result};

/// Spur 32-bit, V3PlusClosures.
pub const FORMAT_SPUR32: u32 = 6521;
/// Spur 64-bit.
pub const FORMAT_SPUR64: u32 = 68021;
/// The bit that says methods may use the alternate (SistaV1) bytecode set.
pub const FORMAT_MULTIPLE_BYTECODE_SETS: u32 = 512;
/// Spur 64-bit with the alternate bytecode set flag.
pub const FORMAT_SPUR64_SISTA: u32 = FORMAT_SPUR64 | FORMAT_MULTIPLE_BYTECODE_SETS;
pub const FORMAT_SPUR32_SISTA: u32 = FORMAT_SPUR32 | FORMAT_MULTIPLE_BYTECODE_SETS;

pub const HEADER_BYTES_32: usize = 64;
pub const HEADER_BYTES_64: usize = 128;

/// Header flag: floats are stored in the platform's (little-endian) word order.
pub const FLAG_FLOATS_PLATFORM_ORDER: u64 = 2;

/// The fields of an image header, widened to 64 bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageHeader {
    pub format: u32,
    pub header_size: u32,
    pub data_size: u64,
    pub old_base: u64,
    pub special_objects: u64,
    pub last_hash: u64,
    pub screen_size: u64,
    pub flags: u64,
    pub extra_vm_memory: u32,
    pub num_stack_pages: u16,
    pub code_size_kib: u16,
    pub eden_bytes: u32,
    pub max_ext_sem_tab_size: u16,
    pub unused: u16,
    pub first_segment_size: u64,
    pub free_old_space: u64,
}

/// Word size of an image format, or a clear error for formats we don't read.
pub fn word_size_of_format(format: u32) -> Result<usize> {
    match format {
        FORMAT_SPUR32 | FORMAT_SPUR32_SISTA => Ok(4),
        FORMAT_SPUR64 | FORMAT_SPUR64_SISTA => Ok(8),
        6502 | 6504 | 6505 | 6506 => Err(ImageError::Unsupported(format!(
            "V3 image format {format} is not supported yet (Sprocket reads Spur images: 6521, 68021, 68533)"
        ))),
        68000 | 68002 | 68003 | 68004 => Err(ImageError::Unsupported(format!(
            "V3 64-bit image format {format} is not supported yet (Sprocket reads Spur images: 6521, 68021, 68533)"
        ))),
        f if f.swap_bytes() == FORMAT_SPUR32 || f.swap_bytes() == FORMAT_SPUR64 || f.swap_bytes() == 6505 => {
            Err(ImageError::Unsupported(format!(
                "big-endian image (format {}) is not supported",
                f.swap_bytes()
            )))
        }
        f => Err(ImageError::NotAnImage(format!("unknown image format number {f}"))),
    }
}

/// Human name of a format number.
pub fn format_name(format: u32) -> &'static str {
    match format {
        FORMAT_SPUR32 => "Spur 32-bit",
        FORMAT_SPUR32_SISTA => "Spur 32-bit, multiple bytecode sets",
        FORMAT_SPUR64 => "Spur 64-bit",
        FORMAT_SPUR64_SISTA => "Spur 64-bit, multiple bytecode sets",
        _ => "unknown",
    }
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

impl ImageHeader {
    /// Word size in bytes (4 or 8).
    pub fn word_size(&self) -> usize {
        if self.format == FORMAT_SPUR32 || self.format == FORMAT_SPUR32_SISTA {
            4
        } else {
            8
        }
    }

    /// Parses and sanity-checks the header at the start of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<ImageHeader> {
        if bytes.len() < 8 {
            return Err(ImageError::NotAnImage(format!("only {} bytes", bytes.len())));
        }
        let format = u32_at(bytes, 0);
        let ws = word_size_of_format(format)?;
        let min_header = if ws == 4 { HEADER_BYTES_32 } else { HEADER_BYTES_64 };
        if bytes.len() < min_header {
            return Err(ImageError::Truncated(format!(
                "{} bytes, less than the {min_header}-byte header",
                bytes.len()
            )));
        }
        let word = |o32: usize, o64: usize| -> u64 {
            if ws == 4 {
                u32_at(bytes, o32) as u64
            } else {
                u64_at(bytes, o64)
            }
        };
        let o_tail = if ws == 4 { 32 } else { 56 };
        let h = ImageHeader {
            format,
            header_size: u32_at(bytes, 4),
            data_size: word(8, 8),
            old_base: word(12, 16),
            special_objects: word(16, 24),
            last_hash: word(20, 32),
            screen_size: word(24, 40),
            flags: word(28, 48),
            extra_vm_memory: u32_at(bytes, o_tail),
            num_stack_pages: u16_at(bytes, o_tail + 4),
            code_size_kib: u16_at(bytes, o_tail + 6),
            eden_bytes: u32_at(bytes, o_tail + 8),
            max_ext_sem_tab_size: u16_at(bytes, o_tail + 12),
            unused: u16_at(bytes, o_tail + 14),
            first_segment_size: word(48, 72),
            free_old_space: word(52, 80),
        };
        h.check(bytes.len())?;
        Ok(h)
    }

    fn check(&self, file_len: usize) -> Result<()> {
        let hs = self.header_size as usize;
        let min_header = if self.word_size() == 4 {
            HEADER_BYTES_32
        } else {
            HEADER_BYTES_64
        };
        if hs < min_header || hs > 1 << 16 {
            return Err(ImageError::Corrupt(format!("header size {hs} is out of range")));
        }
        let avail = file_len.saturating_sub(hs) as u64;
        if self.data_size > avail {
            return Err(ImageError::Truncated(format!(
                "header says {} bytes of objects, the file holds {avail}",
                self.data_size
            )));
        }
        if self.first_segment_size > self.data_size || self.first_segment_size < 16 {
            return Err(ImageError::Corrupt(format!(
                "first segment size {} is out of range (data size {})",
                self.first_segment_size, self.data_size
            )));
        }
        let ws = self.word_size() as u64;
        if !self.old_base.is_multiple_of(8) || !self.special_objects.is_multiple_of(8) {
            return Err(ImageError::Corrupt(
                "old base or special objects address is not aligned".into(),
            ));
        }
        if self.special_objects < self.old_base
            || self.special_objects
                >= self
                    .old_base
                    .saturating_add(self.data_size + (1 << 40) * (ws / 8))
        {
            return Err(ImageError::Corrupt(format!(
                "special objects address {:#x} is outside the heap at {:#x}",
                self.special_objects, self.old_base
            )));
        }
        Ok(())
    }

    /// Serializes a 64-bit header (128 bytes).
    pub fn to_bytes_64(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_BYTES_64);
        b.extend_from_slice(&self.format.to_le_bytes());
        b.extend_from_slice(&(HEADER_BYTES_64 as u32).to_le_bytes());
        for w in [
            self.data_size,
            self.old_base,
            self.special_objects,
            self.last_hash,
            self.screen_size,
            self.flags,
        ] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&self.extra_vm_memory.to_le_bytes());
        b.extend_from_slice(&self.num_stack_pages.to_le_bytes());
        b.extend_from_slice(&self.code_size_kib.to_le_bytes());
        b.extend_from_slice(&self.eden_bytes.to_le_bytes());
        b.extend_from_slice(&self.max_ext_sem_tab_size.to_le_bytes());
        b.extend_from_slice(&self.unused.to_le_bytes());
        b.extend_from_slice(&self.first_segment_size.to_le_bytes());
        b.extend_from_slice(&self.free_old_space.to_le_bytes());
        b.resize(HEADER_BYTES_64, 0);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_64_bit_header() {
        let h = ImageHeader {
            format: FORMAT_SPUR64,
            header_size: 128,
            data_size: 1000,
            old_base: 0x1000_0000,
            special_objects: 0x1000_0100,
            last_hash: 77,
            screen_size: 0x0320_021b,
            flags: 2,
            extra_vm_memory: 0,
            num_stack_pages: 8,
            code_size_kib: 0,
            eden_bytes: 0,
            max_ext_sem_tab_size: 0,
            unused: 0,
            first_segment_size: 1000,
            free_old_space: 0,
        };
        let mut bytes = h.to_bytes_64();
        bytes.resize(128 + 1000, 0);
        assert_eq!(ImageHeader::parse(&bytes).unwrap(), h);
    }

    #[test]
    fn names_unsupported_formats() {
        let mut b = vec![0u8; 200];
        b[..4].copy_from_slice(&6505u32.to_le_bytes());
        let e = ImageHeader::parse(&b).unwrap_err().to_string();
        assert!(e.contains("V3 image format 6505 is not supported yet"), "{e}");
        b[..4].copy_from_slice(&12345u32.to_le_bytes());
        assert!(ImageHeader::parse(&b)
            .unwrap_err()
            .to_string()
            .starts_with("not a Smalltalk image"));
        b[..4].copy_from_slice(&FORMAT_SPUR64.swap_bytes().to_le_bytes());
        assert!(ImageHeader::parse(&b)
            .unwrap_err()
            .to_string()
            .contains("big-endian"));
    }
}

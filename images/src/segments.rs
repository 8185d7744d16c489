//! Splitting an image's object data into its segments.
//!
//! Segments are stored back to back in the file. Each ends with a 16-byte
//! bridge: a header word, then the byte size of the next segment (0 after
//! the last). When the saved segments were not adjacent in memory, the
//! bridge's header word is an overflow-style word (top byte non-zero) whose
//! low 56 bits give the gap to the next segment in words.

use crate::error::{ImageError, Result};

pub const BRIDGE_BYTES: usize = 16;

/// One segment of an image file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSegment {
    /// Offset of the segment in the data (after the header).
    pub offset: usize,
    /// Bytes including the bridge.
    pub size: usize,
    /// The address the segment had when the image was saved.
    pub old_start: u64,
}

impl FileSegment {
    /// One past the segment's old address range, bridge included.
    pub fn old_end(&self) -> u64 {
        self.old_start + self.size as u64
    }
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

/// Finds the segments in `data` (the bytes after the header).
pub fn split(data: &[u8], first_size: u64, old_base: u64, word_size: usize) -> Result<Vec<FileSegment>> {
    let mut segs = Vec::new();
    let mut offset = 0usize;
    let mut size = first_size;
    let mut old_start = old_base;
    loop {
        let sz = usize::try_from(size)
            .map_err(|_| ImageError::Corrupt(format!("segment size {size} is out of range")))?;
        if sz < BRIDGE_BYTES || sz % 8 != 0 {
            return Err(ImageError::Corrupt(format!(
                "segment {} has a bad size {sz}",
                segs.len()
            )));
        }
        let end = offset
            .checked_add(sz)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| {
                ImageError::Truncated(format!(
                    "segment {} needs {sz} bytes at offset {offset}, only {} remain",
                    segs.len(),
                    data.len().saturating_sub(offset)
                ))
            })?;
        segs.push(FileSegment {
            offset,
            size: sz,
            old_start,
        });
        if segs.len() > 1 << 16 {
            return Err(ImageError::Corrupt("more than 65536 segments".into()));
        }
        let bridge = end - BRIDGE_BYTES;
        let bridge_word = u64_at(data, bridge);
        let next = u64_at(data, bridge + 8);
        let gap_words = if bridge_word >> 56 != 0 {
            bridge_word & 0x00ff_ffff_ffff_ffff
        } else {
            0
        };
        if next == 0 {
            if end != data.len() {
                return Err(ImageError::Corrupt(format!(
                    "{} bytes after the last segment",
                    data.len() - end
                )));
            }
            return Ok(segs);
        }
        offset = end;
        size = next;
        old_start = old_start
            .checked_add(sz as u64)
            .and_then(|a| a.checked_add(gap_words.checked_mul(word_size as u64)?))
            .ok_or_else(|| ImageError::Corrupt("segment addresses overflow".into()))?;
    }
}

/// Maps old (saved) addresses to new ones, segment by segment.
#[derive(Clone, Debug, Default)]
pub struct AddressMap {
    /// (old start, old end, new start), sorted by old start.
    ranges: Vec<(u64, u64, u64)>,
}

impl AddressMap {
    pub fn push(&mut self, old_start: u64, old_end: u64, new_start: u64) {
        self.ranges.push((old_start, old_end, new_start));
        self.ranges.sort_unstable();
    }

    /// The new address of `old`, if it lies in a segment.
    pub fn map(&self, old: u64) -> Option<u64> {
        let i = self.ranges.partition_point(|r| r.0 <= old);
        let (s, e, n) = *self.ranges.get(i.checked_sub(1)?)?;
        (old < e).then(|| old - s + n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_map() {
        let mut m = AddressMap::default();
        m.push(0x1000, 0x2000, 0x9000);
        m.push(0x3000, 0x3100, 0x5000);
        assert_eq!(m.map(0x1000), Some(0x9000));
        assert_eq!(m.map(0x1ff8), Some(0x9ff8));
        assert_eq!(m.map(0x2000), None);
        assert_eq!(m.map(0x30f0), Some(0x50f0));
        assert_eq!(m.map(0x10), None);
    }

    #[test]
    fn split_two_segments_with_gap() {
        let mut data = vec![0u8; 64];
        // segment 0: 32 bytes, bridge at 16..32 with a 4-word gap, next 32
        data[16..24].copy_from_slice(&(0xff00_0000_0000_0004u64).to_le_bytes());
        data[24..32].copy_from_slice(&32u64.to_le_bytes());
        data[48..56].copy_from_slice(&0x0080_0000_4900_0003u64.to_le_bytes());
        let s = split(&data, 32, 0x1000, 8).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].old_start, 0x1000 + 32 + 32);
        assert!(split(&data[..40], 32, 0x1000, 8).is_err());
    }
}

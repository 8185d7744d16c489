//! Writing a heap as a 64-bit Spur image file.
//!
//! The file is position independent of where this process mapped the heap:
//! references are rewritten to the header's `old_base` plus each object's
//! offset in the file, so loading an image and saving it again gives the
//! same bytes. Saving is atomic (temporary file, fsync, rename).

use crate::error::{ImageError, Result};
use crate::header::{ImageHeader, HEADER_BYTES_64};
use crate::segments::AddressMap;
use gc::header::{class_index, WORD};
use gc::heap::BRIDGE_HEADER;
use gc::{Heap, Oop};
use std::path::Path;

/// Where images converted or built by Sprocket say their heap starts.
pub const DEFAULT_BASE: u64 = 0x1000_0000;

/// The bytes of a 64-bit image of `heap`, with `header`'s settings
/// (format, screen size, flags, eden bytes, stack pages...) and its
/// `old_base` as the saved base address.
pub fn image_bytes(heap: &Heap, header: &ImageHeader) -> Vec<u8> {
    let base = header.old_base;
    let segs = heap.segments();
    let mut map = AddressMap::default();
    let mut at = base;
    for s in segs {
        map.push(s.start as u64, s.alloc_end as u64, at);
        at += s.file_bytes() as u64;
    }
    let reloc = |v: u64| map.map(v).unwrap_or(v);
    let mut data = Vec::with_capacity((at - base) as usize);
    for (i, s) in segs.iter().enumerate() {
        let seg_off = data.len();
        data.extend_from_slice(&heap.segment_file_bytes(i));
        let put = |data: &mut Vec<u8>, addr: usize, v: u64| {
            let o = seg_off + (addr - s.start);
            data[o..o + 8].copy_from_slice(&v.to_le_bytes());
        };
        for obj in objects_in(heap, s.start, s.alloc_end) {
            let h = heap.header(obj);
            if h.class_index() == class_index::FREE || h.class_index() == class_index::WORD_SIZE_PUN {
                for k in 0..heap.num_slots(obj) {
                    let a = heap.slot_addr(obj, k);
                    let v = heap.u64_at(a);
                    if v != 0 && v & 7 == 0 {
                        put(&mut data, a, reloc(v));
                    }
                }
                continue;
            }
            for k in heap.reference_slots(obj) {
                let v = heap.slot(obj, k);
                if v.is_object() {
                    put(&mut data, heap.slot_addr(obj, k), reloc(v.0));
                }
            }
        }
        debug_assert_eq!(
            u64::from_le_bytes(data[data.len() - 16..data.len() - 8].try_into().expect("8")),
            BRIDGE_HEADER
        );
    }
    let mut h = header.clone();
    h.header_size = HEADER_BYTES_64 as u32;
    h.data_size = data.len() as u64;
    h.special_objects = reloc(heap.special_objects().0);
    h.last_hash = heap.last_hash;
    h.first_segment_size = segs.first().map(|s| s.file_bytes() as u64).unwrap_or(0);
    let mut out = h.to_bytes_64();
    out.extend_from_slice(&data);
    out
}

fn objects_in(heap: &Heap, start: usize, end: usize) -> impl Iterator<Item = Oop> + '_ {
    let mut next = start;
    std::iter::from_fn(move || {
        if next >= end {
            return None;
        }
        let obj = heap.object_at_chunk(next);
        next = obj.addr() + WORD + heap.num_slots(obj).max(1) * WORD;
        Some(obj)
    })
}

/// Saves `heap` to `path` atomically.
pub fn save_image(path: &Path, heap: &Heap, header: &ImageHeader) -> Result<()> {
    let bytes = image_bytes(heap, header);
    platform::files::write_atomically(path, |w| w.write_all(&bytes)).map_err(|err| ImageError::Io {
        path: path.to_path_buf(),
        err,
    })
}

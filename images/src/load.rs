//! Loading an image file into a [`Heap`].
//!
//! A 64-bit image's segments are copied into old space as they are and every
//! reference is relocated from the saved addresses to the new ones. A 32-bit
//! image is first converted into 64-bit segment bytes ([`crate::convert32`]),
//! then loaded the same way. Nothing here trusts the file: every size and
//! address is checked before it is used.

use crate::convert32;
use crate::error::{ImageError, Result};
use crate::header::{ImageHeader, FORMAT_SPUR32_SISTA, FORMAT_SPUR64, FORMAT_SPUR64_SISTA, HEADER_BYTES_64};
use crate::segments::{self, AddressMap};
use gc::header::class_index;
use gc::heap::BRIDGE_BYTES;
use gc::{Heap, HeapConfig, Oop, Roots};
use std::path::Path;

/// Where a loaded heap came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Word size of the file (4 or 8).
    pub file_word_size: usize,
    /// Objects in the file, counting free chunks and forwarders.
    pub objects_in_file: usize,
    /// Forwarders dropped while converting (their referents were updated).
    pub forwarders_dropped: usize,
    /// Free chunks dropped while converting.
    pub free_chunks_dropped: usize,
    /// Boxed floats that became SmallFloat64 immediates.
    pub floats_made_immediate: usize,
    /// Segments in the file.
    pub segments: usize,
}

/// A heap loaded from an image, with the header to save it back with.
#[derive(Debug)]
pub struct LoadedImage {
    /// The 64-bit header to write the heap with (a 32-bit image's header is
    /// widened: format 68021 or 68533, 128 bytes, the same settings).
    pub header: ImageHeader,
    /// The header exactly as read from the file.
    pub file_header: ImageHeader,
    pub heap: Heap,
    pub stats: LoadStats,
}

/// Reads and loads an image file.
pub fn load_image(path: &Path) -> Result<LoadedImage> {
    let bytes = std::fs::read(path).map_err(|err| ImageError::Io {
        path: path.to_path_buf(),
        err,
    })?;
    load_image_bytes(&bytes)
}

/// Loads an image from its bytes.
pub fn load_image_bytes(bytes: &[u8]) -> Result<LoadedImage> {
    load_image_bytes_with(bytes, HeapConfig::default())
}

/// Loads an image from its bytes into a heap of the given configuration.
pub fn load_image_bytes_with(bytes: &[u8], config: HeapConfig) -> Result<LoadedImage> {
    let file_header = ImageHeader::parse(bytes)?;
    let hs = file_header.header_size as usize;
    let data = &bytes[hs..hs + file_header.data_size as usize];
    let heap = Heap::new(config).map_err(|e| ImageError::Memory(e.to_string()))?;
    if file_header.word_size() == 4 {
        let (heap, stats) = convert32::load_32(data, &file_header, heap)?;
        let mut header = file_header.clone();
        header.format = if file_header.format == FORMAT_SPUR32_SISTA {
            FORMAT_SPUR64_SISTA
        } else {
            FORMAT_SPUR64
        };
        header.header_size = HEADER_BYTES_64 as u32;
        header.old_base = crate::write::DEFAULT_BASE;
        return Ok(LoadedImage {
            header,
            file_header,
            heap,
            stats,
        });
    }
    let (heap, stats) = load_64(data, &file_header, heap)?;
    Ok(LoadedImage {
        header: file_header.clone(),
        file_header,
        heap,
        stats,
    })
}

fn load_64(data: &[u8], h: &ImageHeader, mut heap: Heap) -> Result<(Heap, LoadStats)> {
    let segs = segments::split(data, h.first_segment_size, h.old_base, 8)?;
    let mut map = AddressMap::default();
    for s in &segs {
        let start = heap
            .add_segment_from_bytes(&data[s.offset..s.offset + s.size], true)
            .map_err(|e| ImageError::Memory(e.to_string()))?;
        map.push(s.old_start, s.old_end() - BRIDGE_BYTES as u64, start as u64);
    }
    let layout = gc::verify::verify_layout(&heap);
    if let Some(f) = layout.first() {
        return Err(ImageError::Corrupt(format!("object memory does not parse: {f}")));
    }
    let objects = relocate(&mut heap, &map)?;
    let special = map.map(h.special_objects).ok_or_else(|| {
        ImageError::Corrupt(format!(
            "special objects {:#x} is outside the heap",
            h.special_objects
        ))
    })?;
    install_roots(&mut heap, Oop(special))?;
    heap.last_hash = h.last_hash;
    let stats = LoadStats {
        file_word_size: 8,
        objects_in_file: objects,
        segments: segs.len(),
        ..LoadStats::default()
    };
    Ok((heap, stats))
}

/// Rewrites every reference in the heap through `map`. Returns the number of
/// chunks walked.
fn relocate(heap: &mut Heap, map: &AddressMap) -> Result<usize> {
    let objs: Vec<Oop> = heap.objects().collect();
    // Sorted (walk order is address order): every reference must land on one.
    let starts: Vec<u64> = objs.iter().map(|o| o.0).collect();
    for &obj in &objs {
        let h = heap.header(obj);
        if gc::format::is_compiled_method(h.format()) && h.class_index() != class_index::FREE {
            let ok = heap.num_slots(obj) >= 1 && heap.slot(obj, 0).is_small_integer();
            if !ok {
                return Err(ImageError::Corrupt(format!(
                    "method at {:#x} has no SmallInteger header",
                    obj.0
                )));
            }
        }
        if h.class_index() == class_index::FREE || h.class_index() == class_index::WORD_SIZE_PUN {
            // Free chunks' links and the free-lists / remembered-set words are
            // raw addresses: relocate the ones that point into the heap.
            for i in 0..heap.num_slots(obj) {
                let a = heap.slot_addr(obj, i);
                let v = heap.u64_at(a);
                if v != 0 && v & 7 == 0 {
                    if let Some(n) = map.map(v) {
                        heap.set_u64_at(a, n);
                    }
                }
            }
            continue;
        }
        let range = heap.reference_slots(obj);
        for i in range {
            let v = heap.slot(obj, i);
            if v.is_object() {
                let n = map.map(v.0).ok_or_else(|| {
                    ImageError::Corrupt(format!(
                        "object at {:#x} slot {i} refers to {:#x}, outside every segment",
                        obj.0, v.0
                    ))
                })?;
                if starts.binary_search(&n).is_err() {
                    return Err(ImageError::Corrupt(format!(
                        "object at {:#x} slot {i} refers to {:#x}, which is not the start of an object",
                        obj.0, v.0
                    )));
                }
                heap.set_slot(obj, i, Oop(n));
            }
        }
    }
    Ok(objs.len())
}

/// Finds nil, false, true, the free lists and the hidden roots by position.
pub(crate) fn install_roots(heap: &mut Heap, special_objects: Oop) -> Result<()> {
    let first: Vec<Oop> = heap.objects().take(5).collect();
    if first.len() < 5 {
        return Err(ImageError::Corrupt(format!(
            "only {} objects in the heap",
            first.len()
        )));
    }
    let roots = Roots {
        nil: first[0],
        false_obj: first[1],
        true_obj: first[2],
        free_lists: first[3],
        hidden_roots: first[4],
        special_objects,
    };
    for (i, o) in first.iter().enumerate() {
        let h = heap.header(*o);
        if h.is_free() || h.is_forwarder() {
            return Err(ImageError::Corrupt(format!(
                "object {i} of the heap is a free chunk or a forwarder"
            )));
        }
    }
    let hidden = first[4];
    let pointers =
        |heap: &Heap, o: Oop| gc::format::is_pointers(heap.format(o)) && !heap.header(o).is_forwarder();
    if !pointers(heap, hidden) || heap.num_slots(hidden) < class_index::NUM_PAGES {
        return Err(ImageError::Corrupt(
            "the hidden roots object is not a class table".into(),
        ));
    }
    let nil = first[0];
    for p in 0..class_index::NUM_PAGES {
        let page = heap.slot(hidden, p);
        if page == nil {
            continue;
        }
        if !page.is_object()
            || !pointers(heap, page)
            || heap.num_slots(page) != class_index::PAGE_SIZE as usize
        {
            return Err(ImageError::Corrupt(format!(
                "class-table page {p} is not a 1024-slot pointer object"
            )));
        }
    }
    if !heap.objects().any(|o| o == special_objects) {
        return Err(ImageError::Corrupt(format!(
            "special objects {:#x} is not the start of an object",
            special_objects.0
        )));
    }
    if heap.num_slots(special_objects) < 3 || !gc::format::is_pointers(heap.format(special_objects)) {
        return Err(ImageError::Corrupt("special objects array is too small".into()));
    }
    heap.set_roots(roots);
    Ok(())
}

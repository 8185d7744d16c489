//! Tests against the real image files in `../shared/images` (see its README).
//!
//! The 32-bit and 64-bit files are parsed here by small walkers written
//! from the Spur format rules, independently of `images`' own loader and
//! converter, so that the loader's answers are checked against a second
//! reading of the same bytes rather than against themselves.
//!
//! The fixtures are read-only: every test that writes an image first copies
//! the fixture it needs into a fresh scratch directory under the system's
//! temporary directory.

use gc::verify::{verify, Finding, VerifyOptions};
use gc::{Heap, Oop};
use images::info::ImageInfo;
use images::{image_bytes, load_image, load_image_bytes, save_image, LoadedImage};
use std::collections::{HashMap, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

const HEADLESS32: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/images/headless.image");
const HEADLESS64: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/images/headless64.image"
);
/// File sizes the README gives; a different size means the fixture changed.
const HEADLESS32_BYTES: usize = 135_472;
const HEADLESS64_BYTES: usize = 202_424;

// ---------------------------------------------------------------------------
// Fixtures and scratch directories
// ---------------------------------------------------------------------------

/// A fresh directory under the system temporary directory, removed when the
/// test passes (kept for inspection when it fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sprocket-real-images-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Copies a fixture into the scratch directory and returns the copy's path.
    fn copy_fixture(&self, fixture: &str) -> PathBuf {
        let name = Path::new(fixture).file_name().unwrap();
        let dst = self.0.join(name);
        fs::copy(fixture, &dst).unwrap();
        dst
    }

    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

fn fixture_bytes(path: &str) -> Vec<u8> {
    let b = fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let expect = if path.ends_with("headless64.image") {
        HEADLESS64_BYTES
    } else {
        HEADLESS32_BYTES
    };
    assert_eq!(b.len(), expect, "{path} is not the file the README describes");
    b
}

fn load(path: &str) -> LoadedImage {
    load_image_bytes(&fixture_bytes(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn strict() -> VerifyOptions {
    VerifyOptions {
        allow_forwarders: false,
        ..Default::default()
    }
}

fn assert_clean(what: &str, heap: &Heap) {
    let findings: Vec<Finding> = verify(heap, strict());
    assert!(
        findings.is_empty(),
        "{what}: {} findings, first ones:\n{}",
        findings.len(),
        findings
            .iter()
            .take(20)
            .map(|f| format!("  {f}\n"))
            .collect::<String>()
    );
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

// Header word fields (the same 64-bit header word in 32- and 64-bit Spur).
fn hdr_class_index(h: u64) -> u32 {
    (h & 0x3f_ffff) as u32
}
fn hdr_format(h: u64) -> u8 {
    ((h >> 24) & 0x1f) as u8
}
fn hdr_hash(h: u64) -> u32 {
    ((h >> 32) & 0x3f_ffff) as u32
}
const HDR_IMMUTABLE: u64 = 1 << 23;
const HDR_PINNED: u64 = 1 << 30;

/// Spur 32-bit special objects array indices (OpenSmalltalk numbering).
const SO_CLASS_FLOAT: usize = 9;
const SO_CLASS_METHOD_CONTEXT: usize = 10;
const SO_CLASS_BLOCK_CLOSURE: usize = 36;

// ---------------------------------------------------------------------------
// An independent reader of Spur 32-bit image files
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Raw32 {
    /// Address of the header word when the image was saved.
    old: u32,
    hdr: u64,
    num_slots: usize,
    /// File offset of slot 0.
    body: usize,
}

struct Image32 {
    bytes: Vec<u8>,
    format: u32,
    flags: u32,
    special: u32,
    objs: Vec<Raw32>,
    by_addr: HashMap<u32, usize>,
    /// Segments as (file offset of the bridge, bridge header, next size).
    bridges: Vec<(usize, u64, u64)>,
}

impl Image32 {
    /// Walks a Spur 32-bit file: a 64-byte header (firstSegmentSize at 48),
    /// then segments of objects: an 8-byte header word with numSlots in its
    /// top byte (255: the word before holds the count in its low 32 bits),
    /// followed by max(numSlots, 2) 4-byte slots rounded up to 8 bytes;
    /// each segment ends with a 16-byte bridge whose second word is the
    /// next segment's size.
    fn parse(bytes: Vec<u8>) -> Image32 {
        let format = u32_at(&bytes, 0);
        let header_size = u32_at(&bytes, 4) as usize;
        assert_eq!(header_size, 64, "32-bit header size");
        let data_size = u32_at(&bytes, 8) as usize;
        let old_base = u32_at(&bytes, 12);
        let special = u32_at(&bytes, 16);
        let flags = u32_at(&bytes, 28);
        let first_segment = u32_at(&bytes, 48) as usize;
        assert_eq!(header_size + data_size, bytes.len(), "data size fills the file");
        let mut objs = Vec::new();
        let mut by_addr = HashMap::new();
        let mut bridges = Vec::new();
        let mut seg_start = header_size;
        let mut seg_size = first_segment;
        let mut seg_old = old_base;
        loop {
            let bridge = seg_start + seg_size - 16;
            let mut at = seg_start;
            while at < bridge {
                let mut w = u64_at(&bytes, at);
                let mut hdr_at = at;
                let mut n = (w >> 56) as usize;
                if n == 255 {
                    n = (w & 0xffff_ffff) as usize;
                    hdr_at += 8;
                    w = u64_at(&bytes, hdr_at);
                    assert_eq!(
                        w >> 56,
                        255,
                        "overflow word at {at} not followed by an overflow header"
                    );
                }
                let body_bytes = (n.max(2) * 4 + 7) & !7;
                let old = seg_old + (hdr_at - seg_start) as u32;
                by_addr.insert(old, objs.len());
                objs.push(Raw32 {
                    old,
                    hdr: w,
                    num_slots: n,
                    body: hdr_at + 8,
                });
                at = hdr_at + 8 + body_bytes;
            }
            assert_eq!(at, bridge, "objects end exactly at the segment's bridge");
            let next = u64_at(&bytes, bridge + 8);
            bridges.push((bridge, u64_at(&bytes, bridge), next));
            if next == 0 {
                assert_eq!(bridge + 16, bytes.len(), "the last segment ends the file");
                break;
            }
            seg_old += seg_size as u32;
            seg_start += seg_size;
            seg_size = next as usize;
        }
        Image32 {
            bytes,
            format,
            flags,
            special,
            objs,
            by_addr,
            bridges,
        }
    }

    fn obj(&self, addr: u32) -> &Raw32 {
        let i = self
            .by_addr
            .get(&addr)
            .unwrap_or_else(|| panic!("{addr:#x} is not an object of the 32-bit file"));
        &self.objs[*i]
    }

    fn slot(&self, o: &Raw32, i: usize) -> u32 {
        assert!(
            i < o.num_slots,
            "slot {i} of {:#x} with {} slots",
            o.old,
            o.num_slots
        );
        u32_at(&self.bytes, o.body + 4 * i)
    }

    /// The object a reference leads to, through any forwarders.
    fn resolve(&self, mut addr: u32) -> &Raw32 {
        for _ in 0..100 {
            let o = self.obj(addr);
            if hdr_class_index(o.hdr) != 8 {
                return o;
            }
            addr = self.slot(o, 0);
        }
        panic!("forwarder chain from {addr:#x} does not end");
    }

    fn special_object(&self, i: usize) -> &Raw32 {
        let soa = self.obj(self.special);
        self.resolve(self.slot(soa, i))
    }

    /// Class-table entry `ci` (address), through the hidden roots (object 4).
    fn class_at(&self, ci: u32) -> Option<u32> {
        let hidden = self.objs[4];
        let nil = self.objs[0].old;
        let page = self.slot(&hidden, (ci / 1024) as usize);
        if page == nil {
            return None;
        }
        let e = self.slot(self.obj(page), (ci % 1024) as usize);
        (e != nil).then_some(e)
    }

    fn class_of(&self, o: &Raw32) -> Option<u32> {
        self.class_at(hdr_class_index(o.hdr)).map(|c| self.resolve(c).old)
    }

    /// The raw bytes of a non-pointer object, without the odd-size padding.
    fn raw_bytes(&self, o: &Raw32) -> &[u8] {
        let f = hdr_format(o.hdr);
        let unused = match f {
            9 => 0,
            10..=11 => (f as usize - 10) * 4,
            12..=15 => (f as usize - 12) * 2,
            16..=23 => f as usize - 16,
            24..=31 => f as usize - 24,
            _ => panic!("format {f} has no raw bytes"),
        };
        &self.bytes[o.body..o.body + o.num_slots * 4 - unused]
    }

    /// Bits of a boxed 32-bit Float (two 32-bit words, in the header flags' order).
    fn float_bits(&self, o: &Raw32) -> u64 {
        let (a, b) = (self.slot(o, 0) as u64, self.slot(o, 1) as u64);
        if self.flags & 2 != 0 {
            a | (b << 32)
        } else {
            (a << 32) | b
        }
    }

    fn count_class_index(&self, ci: u32) -> usize {
        self.objs.iter().filter(|o| hdr_class_index(o.hdr) == ci).count()
    }
}

/// Number of literals of a 32-bit CompiledMethod (its header's low 15 bits).
fn literals32(img: &Image32, method: &Raw32) -> usize {
    assert!(hdr_format(method.hdr) >= 24, "{:#x} is not a method", method.old);
    let h = img.slot(method, 0);
    assert_eq!(h & 1, 1, "method header is a SmallInteger");
    ((h >> 1) & 0x7fff) as usize
}

// ---------------------------------------------------------------------------
// An independent reader of Spur 64-bit image files
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Raw64 {
    old: u64,
    hdr: u64,
    num_slots: usize,
    body: usize,
}

struct Image64 {
    bytes: Vec<u8>,
    special: u64,
    objs: Vec<Raw64>,
    by_addr: HashMap<u64, usize>,
    /// (file offset of the bridge, bridge header, next size).
    bridges: Vec<(usize, u64, u64)>,
}

impl Image64 {
    /// Walks a Spur 64-bit file: a 128-byte header (firstSegmentSize at 72),
    /// objects of an 8-byte header (numSlots 255: the word before holds the
    /// count in its low 56 bits) and max(numSlots, 1) 8-byte slots, each
    /// segment ending with a 16-byte bridge.
    fn parse(bytes: Vec<u8>) -> Image64 {
        let header_size = u32_at(&bytes, 4) as usize;
        let data_size = u64_at(&bytes, 8) as usize;
        let old_base = u64_at(&bytes, 16);
        let special = u64_at(&bytes, 24);
        let first_segment = u64_at(&bytes, 72) as usize;
        assert_eq!(header_size + data_size, bytes.len(), "data size fills the file");
        let mut objs = Vec::new();
        let mut by_addr = HashMap::new();
        let mut bridges = Vec::new();
        let mut seg_start = header_size;
        let mut seg_size = first_segment;
        let mut seg_old = old_base;
        loop {
            let bridge = seg_start + seg_size - 16;
            let mut at = seg_start;
            while at < bridge {
                let mut w = u64_at(&bytes, at);
                let mut hdr_at = at;
                let mut n = (w >> 56) as usize;
                if n == 255 {
                    n = (w & 0x00ff_ffff_ffff_ffff) as usize;
                    hdr_at += 8;
                    w = u64_at(&bytes, hdr_at);
                    assert_eq!(w >> 56, 255);
                }
                let old = seg_old + (hdr_at - seg_start) as u64;
                by_addr.insert(old, objs.len());
                objs.push(Raw64 {
                    old,
                    hdr: w,
                    num_slots: n,
                    body: hdr_at + 8,
                });
                at = hdr_at + 8 + n.max(1) * 8;
            }
            assert_eq!(at, bridge, "objects end exactly at the segment's bridge");
            let next = u64_at(&bytes, bridge + 8);
            bridges.push((bridge, u64_at(&bytes, bridge), next));
            if next == 0 {
                assert_eq!(bridge + 16, bytes.len(), "the last segment ends the file");
                break;
            }
            seg_old += seg_size as u64;
            seg_start += seg_size;
            seg_size = next as usize;
        }
        Image64 {
            bytes,
            special,
            objs,
            by_addr,
            bridges,
        }
    }

    fn obj(&self, addr: u64) -> &Raw64 {
        let i = self
            .by_addr
            .get(&addr)
            .unwrap_or_else(|| panic!("{addr:#x} is not an object of the 64-bit file"));
        &self.objs[*i]
    }

    fn slot(&self, o: &Raw64, i: usize) -> u64 {
        assert!(
            i < o.num_slots,
            "slot {i} of {:#x} with {} slots",
            o.old,
            o.num_slots
        );
        u64_at(&self.bytes, o.body + 8 * i)
    }

    fn raw_bytes(&self, o: &Raw64) -> &[u8] {
        let f = hdr_format(o.hdr);
        let unused = match f {
            9 => 0,
            10..=11 => (f as usize - 10) * 4,
            12..=15 => (f as usize - 12) * 2,
            16..=23 => f as usize - 16,
            24..=31 => f as usize - 24,
            _ => panic!("format {f} has no raw bytes"),
        };
        &self.bytes[o.body..o.body + o.num_slots * 8 - unused]
    }

    fn class_at(&self, ci: u32) -> Option<u64> {
        let hidden = self.objs[4];
        let nil = self.objs[0].old;
        let page = self.slot(&hidden, (ci / 1024) as usize);
        if page == nil {
            return None;
        }
        let e = self.slot(self.obj(page), (ci % 1024) as usize);
        (e != nil).then_some(e)
    }
}

/// A 64-bit SmallInteger's value.
fn small_int64(v: u64) -> Option<i64> {
    (v & 7 == 1).then_some(v as i64 >> 3)
}

/// The IEEE bits a SmallFloat64 immediate stands for (Spur's encoding: the
/// exponent rebased by 896, the sign rotated to the bottom).
fn small_float64_bits(v: u64) -> u64 {
    assert_eq!(v & 7, 4);
    let mut rot = v >> 3;
    if rot > 1 {
        rot += 896 << 53;
    }
    rot.rotate_right(1)
}

/// Whether a double becomes a SmallFloat64 (zero, or a biased exponent in 897..=1151).
fn fits_small_float(bits: u64) -> bool {
    let exp = (bits >> 52) & 0x7ff;
    bits & !(1 << 63) == 0 || (exp > 896 && exp <= 896 + 255)
}

// ---------------------------------------------------------------------------
// 1. headless.image loads and verifies clean
// ---------------------------------------------------------------------------

#[test]
fn headless32_loads_and_verifies_clean() {
    let img = load(HEADLESS32);
    assert_clean("headless.image", &img.heap);
    let info = ImageInfo::gather(&img);
    assert_eq!(info.format, 6521);
    assert_eq!(img.file_header.format, 6521);
    assert_eq!(info.file_word_size, 4);
    assert_eq!(info.methods, 918);
    assert_eq!(info.methods_v3, 918, "all methods use V3PlusClosures");
    assert_eq!(info.methods_sista, 0);
    assert_eq!(info.bytecode_sets(), "V3PlusClosures");
    assert_eq!(info.forwarders, 0, "forwarders left in the converted heap");
    assert_eq!(info.forwarders_dropped, 44);
    assert_eq!(info.free_chunks, 0);
    // The loaded heap is 64-bit: the header to save it with says so.
    assert_eq!(img.header.format, 68021);
    assert_eq!(img.header.header_size, 128);
    assert_eq!(img.header.flags, img.file_header.flags);
    assert_eq!(img.header.screen_size, img.file_header.screen_size);
}

// ---------------------------------------------------------------------------
// 2. Object counts against an independent walk of the 32-bit file
// ---------------------------------------------------------------------------

#[test]
fn headless32_object_counts_match_an_independent_walk() {
    let raw = Image32::parse(fixture_bytes(HEADLESS32));
    assert_eq!(raw.format, 6521);
    assert_eq!(raw.bridges.len(), 1, "headless.image has one segment");
    let forwarders = raw.count_class_index(8);
    let free = raw.count_class_index(0);
    let methods = raw
        .objs
        .iter()
        .filter(|o| !matches!(hdr_class_index(o.hdr), 0 | 8) && hdr_format(o.hdr) >= 24)
        .count();
    assert_eq!(forwarders, 44);
    assert_eq!(methods, 918);

    // Boxed floats whose value fits a SmallFloat64 become immediates.
    let float_class = raw.special_object(SO_CLASS_FLOAT).old;
    let floats: Vec<&Raw32> = raw
        .objs
        .iter()
        .filter(|o| hdr_format(o.hdr) == 10 && o.num_slots == 2 && raw.class_of(o) == Some(float_class))
        .collect();
    let immediate = floats
        .iter()
        .filter(|o| fits_small_float(raw.float_bits(o)))
        .count();

    let img = load(HEADLESS32);
    let info = ImageInfo::gather(&img);
    assert_eq!(info.objects_in_file, raw.objs.len());
    assert_eq!(info.objects_in_file, 2493);
    assert_eq!(img.stats.objects_in_file, raw.objs.len());
    assert_eq!(img.stats.forwarders_dropped, forwarders);
    assert_eq!(img.stats.free_chunks_dropped, free);
    assert_eq!(img.stats.floats_made_immediate, immediate);
    assert_eq!(img.stats.segments, raw.bridges.len());
    assert_eq!(info.file_segments, raw.bridges.len());
    // Everything else is in the heap, one object per object.
    assert_eq!(
        img.heap.objects().count(),
        raw.objs.len() - forwarders - free - immediate
    );
    assert_eq!(info.objects, raw.objs.len() - forwarders - free - immediate);
    // The heap holds the same methods.
    let heap_methods = img.heap.objects().filter(|&o| img.heap.format(o) >= 24).count();
    assert_eq!(heap_methods, methods);
}

// ---------------------------------------------------------------------------
// 3. Class names
// ---------------------------------------------------------------------------

fn class_table_names(heap: &Heap) -> Vec<(u32, String)> {
    let hidden = heap.roots().hidden_roots;
    let nil = heap.nil();
    let mut names = Vec::new();
    for page in 0..4096u32 {
        if heap.slot(hidden, page as usize) == nil {
            continue;
        }
        for e in 0..1024 {
            let ci = page * 1024 + e;
            if let Some(name) = heap.class_at_index(ci).and_then(|c| heap.class_name(c)) {
                names.push((ci, name));
            }
        }
    }
    names
}

fn assert_kernel_class_names(what: &str, heap: &Heap) {
    let names = class_table_names(heap);
    assert!(names.len() > 100, "{what}: only {} named classes", names.len());
    for want in [
        "Object",
        "SmallInteger",
        "ProcessorScheduler",
        "Array",
        "Symbol",
        "CompiledMethod",
        "MethodContext",
    ] {
        assert!(
            names.iter().any(|(_, n)| n == want),
            "{what}: no class named {want} in the class table"
        );
    }
    // A class's name agrees with the special objects array where it names one.
    let sa = |i: usize| heap.class_name(heap.special(i));
    assert_eq!(sa(5).as_deref(), Some("SmallInteger"), "{what}");
    assert_eq!(sa(7).as_deref(), Some("Array"), "{what}");
    assert_eq!(sa(16).as_deref(), Some("CompiledMethod"), "{what}");
    assert_eq!(
        sa(SO_CLASS_METHOD_CONTEXT).as_deref(),
        Some("MethodContext"),
        "{what}"
    );
    // SmallInteger is class index 1 in every Spur image.
    assert_eq!(
        heap.class_at_index(1).and_then(|c| heap.class_name(c)).as_deref(),
        Some("SmallInteger"),
        "{what}"
    );
}

#[test]
fn class_names_headless32() {
    assert_kernel_class_names("headless.image", &load(HEADLESS32).heap);
}

#[test]
fn class_names_headless64() {
    assert_kernel_class_names("headless64.image", &load(HEADLESS64).heap);
}

// ---------------------------------------------------------------------------
// 4. Convert, save, reload: the same object graph
// ---------------------------------------------------------------------------

/// Walks two heaps breadth first in lockstep from their special objects
/// arrays (and each object's class), checking that they hold the same
/// object graph. Objects are identified by their visit order. Returns the
/// number of objects visited.
fn assert_same_graph(a: &Heap, b: &Heap) -> usize {
    let mut ids_a: HashMap<u64, usize> = HashMap::new();
    let mut ids_b: HashMap<u64, usize> = HashMap::new();
    let mut queue: VecDeque<(Oop, Oop)> = VecDeque::new();
    let mut visit = |x: Oop, y: Oop, q: &mut VecDeque<(Oop, Oop)>, at: &str| {
        if x.is_immediate() || y.is_immediate() {
            assert_eq!(x, y, "{at}: immediates differ");
            return;
        }
        let (ia, ib) = (ids_a.get(&x.0).copied(), ids_b.get(&y.0).copied());
        match (ia, ib) {
            (None, None) => {
                let id = ids_a.len();
                ids_a.insert(x.0, id);
                ids_b.insert(y.0, id);
                q.push_back((x, y));
            }
            (ia, ib) => assert_eq!(ia, ib, "{at}: {x:?} and {y:?} are different objects"),
        }
    };
    visit(
        a.special_objects(),
        b.special_objects(),
        &mut queue,
        "special objects",
    );
    let mut n = 0;
    while let Some((x, y)) = queue.pop_front() {
        n += 1;
        let at = format!("object #{n} ({x:?} / {y:?})");
        let (hx, hy) = (a.header(x), b.header(y));
        assert_eq!(hx.class_index(), hy.class_index(), "{at}: class index");
        assert_eq!(
            a.class_name(a.class_of(x)),
            b.class_name(b.class_of(y)),
            "{at}: class name"
        );
        assert_eq!(hx.format(), hy.format(), "{at}: format");
        assert_eq!(hx.hash(), hy.hash(), "{at}: identity hash");
        assert_eq!(hx.is_immutable(), hy.is_immutable(), "{at}: immutability");
        assert_eq!(hx.is_pinned(), hy.is_pinned(), "{at}: pinning");
        let ns = a.num_slots(x);
        assert_eq!(ns, b.num_slots(y), "{at}: num slots");
        let f = hx.format();
        let ci = hx.class_index();
        if ci >= 32 {
            let (cx, cy) = (a.class_at_index(ci), b.class_at_index(ci));
            assert_eq!(cx.is_some(), cy.is_some(), "{at}: class");
            if let (Some(cx), Some(cy)) = (cx, cy) {
                visit(cx, cy, &mut queue, &format!("{at} class"));
            }
        }
        if gc::format::is_pointers(f) {
            for i in 0..ns {
                visit(a.slot(x, i), b.slot(y, i), &mut queue, &format!("{at} slot {i}"));
            }
        } else if gc::format::is_compiled_method(f) {
            let h = a.slot(x, 0);
            assert_eq!(h, b.slot(y, 0), "{at}: method header");
            let lits = (h.small_int_value() & 0x7fff) as usize;
            for i in 1..=lits {
                visit(
                    a.slot(x, i),
                    b.slot(y, i),
                    &mut queue,
                    &format!("{at} literal {i}"),
                );
            }
            assert_eq!(
                a.bytes(x)[(1 + lits) * 8..],
                b.bytes(y)[(1 + lits) * 8..],
                "{at}: bytecodes"
            );
        } else {
            assert_eq!(a.bytes(x), b.bytes(y), "{at}: raw contents");
        }
    }
    n
}

#[test]
fn converted_image_saves_reloads_and_keeps_its_graph() {
    let scratch = Scratch::new("convert");
    let src = scratch.copy_fixture(HEADLESS32);
    let img = load_image(&src).unwrap();
    assert_clean("converted in memory", &img.heap);
    let out = scratch.path("headless-converted64.image");
    save_image(&out, &img.heap, &img.header).unwrap();
    assert_eq!(
        fs::read(&src).unwrap(),
        fixture_bytes(HEADLESS32),
        "the source is untouched"
    );

    let reloaded = load_image(&out).unwrap();
    assert_eq!(reloaded.file_header.format, 68021);
    assert_eq!(reloaded.file_header.header_size, 128);
    assert_clean("converted, saved and reloaded", &reloaded.heap);
    let visited = assert_same_graph(&img.heap, &reloaded.heap);
    let total = img.heap.objects().count();
    assert_eq!(total, reloaded.heap.objects().count());
    assert!(
        visited * 10 >= total * 9,
        "the walk reached only {visited} of {total} objects"
    );

    let written = fs::read(&out).unwrap();
    let reference = fixture_bytes(HEADLESS64);
    assert_eq!(written.len(), reference.len(), "converted file size");
    if let Some(i) = written.iter().zip(&reference).position(|(a, b)| a != b) {
        panic!(
            "the converted file differs from headless64.image first at byte {i} ({:#04x} vs {:#04x})",
            written[i], reference[i]
        );
    }
}

/// The graph comparison is not vacuous: one changed reference, one changed
/// SmallInteger or one changed byte deep in the graph is noticed.
#[test]
fn the_graph_check_notices_a_difference() {
    let a = load(HEADLESS64);
    // A reference: the scheduler association replaced by nil.
    let mut b = load(HEADLESS64);
    let soa = b.heap.special_objects();
    let nil = b.heap.nil();
    b.heap.set_slot(soa, 3, nil);
    let msg = graph_check_panic(&a.heap, &b.heap);
    assert!(msg.contains("different objects"), "{msg}");
    // A byte of the last method's bytecodes.
    let mut b = load(HEADLESS64);
    let m = b
        .heap
        .objects()
        .filter(|&o| b.heap.format(o) >= 24)
        .last()
        .unwrap();
    let last = b.heap.byte_size(m) - 1;
    let v = b.heap.byte_at(m, last);
    b.heap.set_byte_at(m, last, v ^ 1);
    let msg = graph_check_panic(&a.heap, &b.heap);
    assert!(msg.contains("bytecodes"), "{msg}");
}

fn graph_check_panic(a: &Heap, b: &Heap) -> String {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| assert_same_graph(a, b)));
    panic_message(r.expect_err("the difference must be noticed"))
}

// ---------------------------------------------------------------------------
// 5. headless64.image, and the README's facts on Sprocket's converted image
// ---------------------------------------------------------------------------

#[test]
fn headless64_loads_and_verifies_clean() {
    let img = load(HEADLESS64);
    assert_clean("headless64.image", &img.heap);
    let info = ImageInfo::gather(&img);
    assert_eq!(info.format, 68021);
    assert_eq!(info.file_word_size, 8);
    assert_eq!(info.forwarders, 0);
    assert_eq!(info.free_chunks, 0);
    assert_eq!(info.methods, 918);
    assert_eq!(info.methods_v3, 918);
    let raw = Image64::parse(fixture_bytes(HEADLESS64));
    assert_eq!(info.objects_in_file, raw.objs.len());
    assert_eq!(img.heap.objects().count(), raw.objs.len());
}

#[test]
fn converted_image_has_the_readme_facts() {
    let img = load(HEADLESS32);
    let bytes = image_bytes(&img.heap, &img.header);
    let c = Image64::parse(bytes.clone());

    // Header: 128 bytes, format 68021, floats in platform order.
    assert_eq!(u32_at(&bytes, 0), 68021);
    assert_eq!(u32_at(&bytes, 4), 128);
    assert_eq!(u64_at(&bytes, 8) as usize, bytes.len() - 128, "data size");
    assert_ne!(
        u64_at(&bytes, 48) & 2,
        0,
        "header flag 2 (floats in platform order)"
    );
    // Other settings carried over from the 32-bit header.
    let f32 = fixture_bytes(HEADLESS32);
    assert_eq!(u64_at(&bytes, 40), u32_at(&f32, 24) as u64, "screen size");
    assert_eq!(u16_at(&bytes, 60), u16_at(&f32, 36), "stack pages");

    // One segment, ending with the bridge; firstSegmentBytes counts it.
    assert_eq!(c.bridges.len(), 1);
    let first_segment = u64_at(&bytes, 72) as usize;
    assert_eq!(
        first_segment,
        bytes.len() - 128,
        "firstSegmentBytes includes the bridge"
    );
    let (bridge_at, bridge_hdr, next) = c.bridges[0];
    assert_eq!(bridge_at, 128 + first_segment - 16);
    assert_eq!(bridge_hdr, 0x0080_0000_4900_0003, "bridge header");
    assert_eq!(next, 0, "no next segment");

    // No forwarders, no free chunks.
    assert!(c.objs.iter().all(|o| hdr_class_index(o.hdr) != 8), "a forwarder");
    assert!(c.objs.iter().all(|o| hdr_class_index(o.hdr) != 0), "a free chunk");

    // The first five objects by position.
    let soa = *c.obj(c.special);
    assert_eq!(c.slot(&soa, 0), c.objs[0].old, "object 0 is nil");
    assert_eq!(c.slot(&soa, 1), c.objs[1].old, "object 1 is false");
    assert_eq!(c.slot(&soa, 2), c.objs[2].old, "object 2 is true");
    let fl = c.objs[3];
    assert_eq!(
        (fl.num_slots, hdr_format(fl.hdr), hdr_class_index(fl.hdr)),
        (64, 9, 19),
        "object 3 is the free lists"
    );
    let hidden = c.objs[4];
    assert!(
        hidden.num_slots > 4096,
        "hidden roots: 4096 pages, then the remembered set"
    );
    let nil = c.objs[0].old;
    let mut pages = 0;
    for p in 0..4096 {
        let page = c.slot(&hidden, p);
        if page != nil {
            let po = c.obj(page);
            assert_eq!(po.num_slots, 1024, "class-table page {p}");
            assert_eq!(
                hdr_class_index(po.hdr),
                16,
                "class-table page {p} is a hidden array"
            );
            pages += 1;
        }
    }
    assert!(
        pages >= 1 && c.slot(&hidden, 0) != nil,
        "class-table page 0 exists"
    );
    // After the pages come the VM's hidden root slots; the remembered set
    // is the fourth (OpenSmalltalk's RememberedSetRootIndex = pages + 3).
    assert_eq!(hidden.num_slots, 4096 + 8, "hidden roots slots");
    for i in 4096..hidden.num_slots {
        if i != 4096 + 3 {
            assert_eq!(c.slot(&hidden, i), nil, "hidden root slot {i}");
        }
    }
    let remembered = c.obj(c.slot(&hidden, 4096 + 3));
    assert_ne!(remembered.old, nil, "the remembered set exists");
    assert_eq!(
        hdr_class_index(remembered.hdr),
        19,
        "the remembered set is a hidden word object"
    );
    assert_eq!(
        hdr_format(remembered.hdr),
        9,
        "the remembered set holds 64-bit words"
    );
    assert_ne!(remembered.hdr & HDR_PINNED, 0, "the remembered set is pinned");

    // Class table entry 4 is the Float class.
    let float_class = c.slot(&soa, SO_CLASS_FLOAT);
    assert_eq!(c.class_at(4), Some(float_class));
    assert_eq!(
        img.heap.class_name(img.heap.special(SO_CLASS_FLOAT)).as_deref(),
        Some("Float")
    );
    assert_eq!(img.heap.class_at_index(4), Some(img.heap.special(SO_CLASS_FLOAT)));
}

/// What the lockstep walk of the 32-bit file and the converted 64-bit file saw.
#[derive(Debug, Default)]
struct ConversionCounts {
    visited: usize,
    contexts: usize,
    contexts_with_pc: usize,
    closures: usize,
    methods: usize,
    boxed_floats: usize,
    immediate_float_refs: usize,
}

/// Walks the 32-bit file and its 64-bit conversion in lockstep, checking
/// that every pair of objects converted as the README says.
struct ConversionWalk<'a> {
    old: &'a Image32,
    new: &'a Image64,
    /// 32-bit object address -> 64-bit object address, and back.
    map: HashMap<u32, u64>,
    back: HashMap<u64, u32>,
    queue: VecDeque<(u32, u64)>,
    counts: ConversionCounts,
    nil32: u32,
    page0_32: u32,
    float_class: u32,
    context_class: u32,
    closure_class: u32,
}

impl<'a> ConversionWalk<'a> {
    fn new(old: &'a Image32, new: &'a Image64) -> ConversionWalk<'a> {
        ConversionWalk {
            old,
            new,
            map: HashMap::new(),
            back: HashMap::new(),
            queue: VecDeque::new(),
            counts: ConversionCounts::default(),
            nil32: old.objs[0].old,
            page0_32: old.slot(&old.objs[4], 0),
            float_class: old.special_object(SO_CLASS_FLOAT).old,
            context_class: old.special_object(SO_CLASS_METHOD_CONTEXT).old,
            closure_class: old.special_object(SO_CLASS_BLOCK_CLOSURE).old,
        }
    }

    /// A 32-bit object that becomes a SmallFloat64: its float bits.
    fn immediate_float(&self, o: &Raw32) -> Option<u64> {
        let is_float =
            hdr_format(o.hdr) == 10 && o.num_slots == 2 && self.old.class_of(o) == Some(self.float_class);
        if !is_float {
            return None;
        }
        let bits = self.old.float_bits(o);
        fits_small_float(bits).then_some(bits)
    }

    /// Pairs two objects (or checks an earlier pairing).
    fn pair(&mut self, a32: u32, a64: u64, at: &str) {
        match (self.map.get(&a32), self.back.get(&a64)) {
            (None, None) => {
                self.map.insert(a32, a64);
                self.back.insert(a64, a32);
                self.queue.push_back((a32, a64));
            }
            (m, b) => {
                assert_eq!(m, Some(&a64), "{at}: {a32:#x} converted to two objects");
                assert_eq!(b, Some(&a32), "{at}: {a64:#x} stands for two objects");
            }
        }
    }

    /// Compares a 32-bit reference with its 64-bit counterpart.
    fn same_ref(&mut self, v32: u32, v64: u64, at: &str) {
        if v32 & 1 == 1 {
            assert_eq!(
                small_int64(v64),
                Some((v32 as i32 >> 1) as i64),
                "{at}: SmallInteger {v32:#x}"
            );
            return;
        }
        if v32 & 3 == 2 {
            assert_eq!(v64 & 7, 2, "{at}: Character");
            assert_eq!(v64 >> 3, (v32 >> 2) as u64, "{at}: Character value");
            return;
        }
        let o = *self.old.resolve(v32);
        if let Some(bits) = self.immediate_float(&o) {
            assert_eq!(
                v64 & 7,
                4,
                "{at}: Float {} should be a SmallFloat64",
                f64::from_bits(bits)
            );
            assert_eq!(small_float64_bits(v64), bits, "{at}: SmallFloat64 value");
            self.counts.immediate_float_refs += 1;
            return;
        }
        assert_eq!(v64 & 7, 0, "{at}: {v32:#x} became immediate {v64:#x}");
        self.pair(o.old, v64, at);
    }

    /// Compares every queued pair, queueing what they refer to.
    fn drain(&mut self) {
        while let Some((a32, a64)) = self.queue.pop_front() {
            self.compare(a32, a64);
        }
    }

    fn compare(&mut self, a32: u32, a64: u64) {
        let (old, new) = (self.old, self.new);
        self.counts.visited += 1;
        let (o, n) = (*old.obj(a32), *new.obj(a64));
        let at = format!("{a32:#x} -> {a64:#x}");
        let (f32, f64_) = (hdr_format(o.hdr), hdr_format(n.hdr));
        assert_eq!(
            hdr_class_index(o.hdr),
            hdr_class_index(n.hdr),
            "{at}: class index"
        );
        assert_eq!(hdr_hash(o.hdr), hdr_hash(n.hdr), "{at}: identity hash");
        assert_eq!(o.hdr & HDR_IMMUTABLE, n.hdr & HDR_IMMUTABLE, "{at}: immutability");
        assert_eq!(o.hdr & HDR_PINNED, n.hdr & HDR_PINNED, "{at}: pinning");
        let class = old.class_of(&o);
        if f32 <= 5 {
            assert_eq!(f64_, f32, "{at}: format");
            assert_eq!(n.num_slots, o.num_slots, "{at}: slots");
            // Contexts' pcs and closures' start pcs (slot 1) move with the
            // literal frame of their method (a closure's: its outer context's).
            let pc_method = if class == Some(self.context_class) {
                self.counts.contexts += 1;
                let method = old.slot(&o, 3);
                (method & 3 == 0 && method != self.nil32).then(|| *old.resolve(method))
            } else if class == Some(self.closure_class) {
                self.counts.closures += 1;
                let outer = *old.resolve(old.slot(&o, 0));
                Some(*old.resolve(old.slot(&outer, 3)))
            } else {
                None
            };
            for i in 0..o.num_slots {
                let (v32, v64) = (old.slot(&o, i), new.slot(&n, i));
                match pc_method {
                    _ if a32 == self.page0_32 && i == 4 => {
                        assert_eq!(v32, self.nil32, "32-bit class table entry 4 is empty");
                        self.same_ref(self.float_class, v64, "class table entry 4 (Float)");
                    }
                    Some(method) if i == 1 && v32 & 1 == 1 => {
                        let lits = literals32(old, &method);
                        let expect = (v32 as i32 >> 1) as i64 + 4 * (lits as i64 + 1);
                        assert_eq!(
                            small_int64(v64),
                            Some(expect),
                            "{at}: pc (slot 1): 32-bit {} with {lits} literals",
                            v32 as i32 >> 1
                        );
                        if class == Some(self.context_class) {
                            self.counts.contexts_with_pc += 1;
                        }
                    }
                    _ => self.same_ref(v32, v64, &format!("{at} slot {i}")),
                }
            }
        } else if f32 >= 24 {
            self.counts.methods += 1;
            assert!(f64_ >= 24, "{at}: a method became format {f64_}");
            let lits = literals32(old, &o);
            assert_eq!(
                small_int64(new.slot(&n, 0)),
                Some((old.slot(&o, 0) as i32 >> 1) as i64),
                "{at}: method header"
            );
            for i in 1..=lits {
                self.same_ref(old.slot(&o, i), new.slot(&n, i), &format!("{at} literal {i}"));
            }
            let code32 = &old.raw_bytes(&o)[(1 + lits) * 4..];
            let code64 = &new.raw_bytes(&n)[(1 + lits) * 8..];
            assert_eq!(code32, code64, "{at}: bytecodes and trailer");
        } else if f32 == 10 && o.num_slots == 2 && class == Some(self.float_class) {
            // A float that does not fit a SmallFloat64 stays boxed.
            self.counts.boxed_floats += 1;
            let bits = old.float_bits(&o);
            assert!(!fits_small_float(bits), "{at}: boxed {}", f64::from_bits(bits));
            assert_eq!((f64_, n.num_slots), (10, 1), "{at}: a boxed 64-bit float");
            assert_eq!(new.slot(&n, 0), bits, "{at}: float bits");
        } else {
            let same_kind = match f32 {
                9 => f64_ == 9,
                10..=11 => (10..=11).contains(&f64_),
                12..=15 => (12..=15).contains(&f64_),
                16..=23 => (16..=23).contains(&f64_),
                _ => panic!("{at}: format {f32} in the 32-bit file"),
            };
            assert!(same_kind, "{at}: format {f32} became {f64_}");
            assert_eq!(old.raw_bytes(&o), new.raw_bytes(&n), "{at}: raw contents");
        }
    }
}

/// The whole conversion of headless.image, checked object by object against
/// the 32-bit file: first everything reachable from the special objects
/// array and the class table; then the few unreachable objects, paired in
/// address order. Every MethodContext's pc must have moved by
/// 4 * (numLiterals + 1) of its method.
#[test]
fn converted_graph_matches_the_32_bit_file_and_pcs_moved() {
    let old = Image32::parse(fixture_bytes(HEADLESS32));
    let img = load(HEADLESS32);
    let new = Image64::parse(image_bytes(&img.heap, &img.header));
    check_whole_conversion(&old, &new);
}

/// The checker above is not vacuous: a context whose pc was left as in the
/// 32-bit file is caught.
#[test]
fn the_conversion_check_notices_an_unmoved_pc() {
    let old = Image32::parse(fixture_bytes(HEADLESS32));
    let img = load(HEADLESS32);
    let mut bytes = image_bytes(&img.heap, &img.header);
    let good = Image64::parse(bytes.clone());
    let ctx_class = good.slot(good.obj(good.special), SO_CLASS_METHOD_CONTEXT);
    let ctx = good
        .objs
        .iter()
        .find(|o| hdr_class_index(o.hdr) >= 32 && good.class_at(hdr_class_index(o.hdr)) == Some(ctx_class))
        .expect("a context");
    let pc = small_int64(good.slot(ctx, 1)).expect("a SmallInteger pc");
    let method = good.obj(good.slot(ctx, 3));
    let lits = small_int64(good.slot(method, 0)).unwrap() & 0x7fff;
    let unmoved = ((pc - 4 * (lits + 1)) << 3) as u64 | 1;
    bytes[ctx.body + 8..ctx.body + 16].copy_from_slice(&unmoved.to_le_bytes());
    let bad = Image64::parse(bytes);
    let r = std::panic::catch_unwind(|| check_whole_conversion(&old, &bad));
    let msg = panic_message(r.expect_err("an unmoved pc must be noticed"));
    assert!(msg.contains("pc (slot 1)"), "{msg}");
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn check_whole_conversion(old: &Image32, new: &Image64) -> ConversionCounts {
    let mut walk = ConversionWalk::new(old, new);

    walk.same_ref(old.special, new.special, "special objects");
    let (h32, h64) = (old.objs[4], new.objs[4]);
    for p in 0..4096 {
        walk.same_ref(
            old.slot(&h32, p),
            new.slot(&h64, p),
            &format!("class-table page {p}"),
        );
    }
    walk.drain();
    let reached = walk.counts.visited;

    // Objects nothing refers to: they must still be converted, one for one.
    let remembered32 = old.slot(&h32, 4096 + 3);
    let remembered64 = new.slot(&h64, 4096 + 3);
    let rest32: Vec<u32> = old.objs[5..]
        .iter()
        .filter(|o| !matches!(hdr_class_index(o.hdr), 0 | 8) && o.old != remembered32)
        .filter(|o| !walk.map.contains_key(&o.old) && walk.immediate_float(o).is_none())
        .map(|o| o.old)
        .collect();
    let rest64: Vec<u64> = new.objs[5..]
        .iter()
        .filter(|o| o.old != remembered64 && !walk.back.contains_key(&o.old))
        .map(|o| o.old)
        .collect();
    assert_eq!(rest32.len(), rest64.len(), "unreachable objects kept");
    for (&a, &b) in rest32.iter().zip(&rest64) {
        walk.pair(a, b, "unreachable object");
    }
    walk.drain();
    let c = &walk.counts;
    // All but the free lists, the hidden roots and the remembered set.
    assert_eq!(
        c.visited + 3,
        new.objs.len(),
        "every object but the hidden ones was compared"
    );
    for (i, o) in old.objs[..3].iter().enumerate() {
        assert_eq!(
            walk.map.get(&o.old),
            Some(&new.objs[i].old),
            "object {i} (nil, false, true)"
        );
    }
    assert!(reached > 2000, "only {reached} objects reachable: {c:?}");
    assert_eq!(c.methods, 918, "{c:?}");

    // Every MethodContext of either file was compared, with its pc.
    let ctx32 = walk.context_class;
    let n32 = old.objs.iter().filter(|o| old.class_of(o) == Some(ctx32)).count();
    let ctx64 = new.slot(new.obj(new.special), SO_CLASS_METHOD_CONTEXT);
    let n64 = new
        .objs
        .iter()
        .filter(|o| hdr_class_index(o.hdr) >= 32 && new.class_at(hdr_class_index(o.hdr)) == Some(ctx64))
        .count();
    assert!(n32 >= 1, "headless.image has a suspended context");
    assert_eq!(n64, n32, "contexts in the converted file");
    assert_eq!(c.contexts, n32, "contexts compared");
    assert_eq!(c.contexts_with_pc, n32, "contexts whose pc was checked");
    // Floats: the ones that fit became immediates, the others stay boxed.
    let floats32 = old
        .objs
        .iter()
        .filter(|o| hdr_format(o.hdr) == 10 && o.num_slots == 2 && old.class_of(o) == Some(walk.float_class))
        .count();
    let immediate = old
        .objs
        .iter()
        .filter(|o| walk.immediate_float(o).is_some())
        .count();
    assert_eq!(c.boxed_floats, floats32 - immediate, "{c:?}");
    assert!(immediate > 0 && c.immediate_float_refs > 0, "{c:?}");
    walk.counts
}

// ---------------------------------------------------------------------------
// 6. Round trips and atomic saving
// ---------------------------------------------------------------------------

#[test]
fn headless64_round_trips_byte_for_byte() {
    let scratch = Scratch::new("roundtrip");
    let src = scratch.copy_fixture(HEADLESS64);
    let input = fs::read(&src).unwrap();
    let img = load_image(&src).unwrap();
    assert_eq!(
        image_bytes(&img.heap, &img.header),
        input,
        "image_bytes of a loaded image"
    );
    let once = scratch.path("once.image");
    save_image(&once, &img.heap, &img.header).unwrap();
    assert_eq!(fs::read(&once).unwrap(), input, "saved headless64.image");

    let again = load_image(&once).unwrap();
    assert_clean("reloaded", &again.heap);
    let twice = scratch.path("twice.image");
    save_image(&twice, &again.heap, &again.header).unwrap();
    assert_eq!(
        fs::read(&twice).unwrap(),
        input,
        "a Sprocket-written image saved again"
    );
    assert_eq!(
        scratch.entries(),
        ["headless64.image", "once.image", "twice.image"]
    );
}

#[test]
fn saving_into_a_missing_directory_fails_and_leaves_nothing() {
    let scratch = Scratch::new("missing-dir");
    let img = load(HEADLESS64);
    let target = scratch.path("no-such-dir").join("x.image");
    let err = save_image(&target, &img.heap, &img.header).unwrap_err();
    assert!(
        err.to_string().contains("x.image"),
        "the error names the file: {err}"
    );
    assert!(!target.exists());
    assert!(!scratch.path("no-such-dir").exists());
    assert!(
        scratch.entries().is_empty(),
        "left behind: {:?}",
        scratch.entries()
    );
}

#[test]
fn saving_over_a_directory_fails_and_leaves_no_temporary_file() {
    let scratch = Scratch::new("over-dir");
    let img = load(HEADLESS64);
    // The temporary file can be created beside the target, but the rename
    // over a non-empty directory must fail: the temporary must be removed.
    let target = scratch.path("a.image");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("keep"), b"keep").unwrap();
    assert!(save_image(&target, &img.heap, &img.header).is_err());
    assert_eq!(scratch.entries(), ["a.image"], "only the directory remains");
    assert_eq!(fs::read(target.join("keep")).unwrap(), b"keep");
}

#[test]
fn saving_over_an_existing_file_replaces_it_fully() {
    let scratch = Scratch::new("replace");
    let img = load(HEADLESS64);
    let expect = image_bytes(&img.heap, &img.header);
    let target = scratch.path("big.image");
    // Longer than the image: a save that wrote in place would leave a tail.
    fs::write(&target, vec![0xa5u8; expect.len() * 3]).unwrap();
    save_image(&target, &img.heap, &img.header).unwrap();
    assert_eq!(fs::read(&target).unwrap(), expect);
    // And a shorter old file too.
    let small = scratch.path("small.image");
    fs::write(&small, b"old").unwrap();
    save_image(&small, &img.heap, &img.header).unwrap();
    assert_eq!(fs::read(&small).unwrap(), expect);
    assert_eq!(scratch.entries(), ["big.image", "small.image"]);
}

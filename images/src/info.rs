//! A description of a loaded image: header, segments, object counts per
//! class, the special objects array and the bytecode sets its methods use.

use crate::load::LoadedImage;
use gc::header::class_index;
use gc::method::{BytecodeSet, MethodHeader};
use gc::{format, Heap, Oop};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Objects of one class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassCount {
    pub class_index: u32,
    pub name: String,
    pub instances: usize,
    pub bytes: usize,
}

/// What `sprocket image info` reports.
#[derive(Clone, Debug)]
pub struct ImageInfo {
    pub format: u32,
    pub format_name: &'static str,
    pub file_word_size: usize,
    pub header_size: u32,
    pub data_size: u64,
    pub old_base: u64,
    pub special_objects_oop: u64,
    pub last_hash: u64,
    pub screen_width: u64,
    pub screen_height: u64,
    pub flags: u64,
    pub num_stack_pages: u16,
    pub eden_bytes: u32,
    pub first_segment_size: u64,
    pub free_old_space: u64,
    pub file_segments: usize,
    pub objects_in_file: usize,
    pub forwarders_dropped: usize,
    pub free_chunks_dropped: usize,
    pub floats_made_immediate: usize,
    /// Objects in the loaded heap (not counting free chunks).
    pub objects: usize,
    pub heap_bytes: usize,
    pub free_chunks: usize,
    pub forwarders: usize,
    /// Heap segments: (address, bytes in a file).
    pub segments: Vec<(usize, usize)>,
    pub top_classes: Vec<ClassCount>,
    pub special_objects: Vec<(usize, &'static str, String)>,
    /// Names of the classes in the class table (not metaclasses), sorted.
    pub class_names: Vec<String>,
    pub methods: usize,
    pub methods_v3: usize,
    pub methods_sista: usize,
}

/// A short description of any reference, for reports.
pub fn describe(heap: &Heap, o: Oop) -> String {
    if o.is_small_integer() {
        return o.small_int_value().to_string();
    }
    if o.is_character() {
        return match char::from_u32(o.character_value()) {
            Some(c) if !c.is_control() => format!("${c}"),
            _ => format!("Character value: {}", o.character_value()),
        };
    }
    if o.is_small_float() {
        return format!("{}", o.small_float_value());
    }
    if !o.is_object() {
        return format!("invalid {:#x}", o.0);
    }
    if o == heap.nil() {
        return "nil".into();
    }
    if o == heap.true_obj() {
        return "true".into();
    }
    if o == heap.false_obj() {
        return "false".into();
    }
    if let Some(name) = heap.class_name(o) {
        return name;
    }
    let class = heap.class_of(o);
    let cname = heap
        .class_name(class)
        .unwrap_or_else(|| format!("class#{}", heap.class_index_of(o)));
    let f = heap.format(o);
    if format::is_bytes(f)
        && !format::is_compiled_method(f)
        && (cname.contains("Symbol") || cname.contains("String"))
    {
        if let Some(s) = heap.string_of(o) {
            let s: String = s.chars().take(40).collect();
            return if cname.contains("Symbol") {
                format!("#{s}")
            } else {
                format!("'{s}'")
            };
        }
    }
    let article = if cname.starts_with(['A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {cname}")
}

impl ImageInfo {
    pub fn gather(img: &LoadedImage) -> ImageInfo {
        let heap = &img.heap;
        let h = &img.file_header;
        let mut per_class: HashMap<u32, (usize, usize)> = HashMap::new();
        let (mut objects, mut bytes, mut free, mut fwd) = (0, 0, 0, 0);
        let (mut methods, mut v3, mut sista) = (0, 0, 0);
        for o in heap.objects() {
            let hd = heap.header(o);
            let size = heap.total_bytes(o);
            match hd.class_index() {
                class_index::FREE => {
                    free += 1;
                    continue;
                }
                class_index::FORWARDER => fwd += 1,
                _ => {}
            }
            objects += 1;
            bytes += size;
            let e = per_class.entry(hd.class_index()).or_default();
            e.0 += 1;
            e.1 += size;
            if format::is_compiled_method(hd.format()) {
                if let Some(mh) = MethodHeader::from_oop(heap.slot(o, 0)) {
                    methods += 1;
                    match mh.bytecode_set() {
                        BytecodeSet::V3PlusClosures => v3 += 1,
                        BytecodeSet::SistaV1 => sista += 1,
                    }
                }
            }
        }
        let mut top: Vec<ClassCount> = per_class
            .into_iter()
            .map(|(ci, (n, b))| ClassCount {
                class_index: ci,
                name: class_label(heap, ci),
                instances: n,
                bytes: b,
            })
            .collect();
        top.sort_by(|a, b| {
            b.instances
                .cmp(&a.instances)
                .then(a.class_index.cmp(&b.class_index))
        });
        top.truncate(20);
        let mut class_names: Vec<String> = class_table_entries(heap)
            .into_iter()
            .filter_map(|c| heap.class_name(c))
            .filter(|n| !n.ends_with(" class"))
            .collect();
        class_names.sort();
        class_names.dedup();
        let soa = heap.special_objects();
        let special_objects = (0..heap.num_slots(soa))
            .map(|i| (i, Heap::special_name(i), describe(heap, heap.slot(soa, i))))
            .collect();
        ImageInfo {
            format: h.format,
            format_name: crate::header::format_name(h.format),
            file_word_size: img.stats.file_word_size,
            header_size: h.header_size,
            data_size: h.data_size,
            old_base: h.old_base,
            special_objects_oop: h.special_objects,
            last_hash: h.last_hash,
            screen_width: (h.screen_size >> 16) & 0xffff,
            screen_height: h.screen_size & 0xffff,
            flags: h.flags,
            num_stack_pages: h.num_stack_pages,
            eden_bytes: h.eden_bytes,
            first_segment_size: h.first_segment_size,
            free_old_space: h.free_old_space,
            file_segments: img.stats.segments,
            objects_in_file: img.stats.objects_in_file,
            forwarders_dropped: img.stats.forwarders_dropped,
            free_chunks_dropped: img.stats.free_chunks_dropped,
            floats_made_immediate: img.stats.floats_made_immediate,
            objects,
            heap_bytes: bytes,
            free_chunks: free,
            forwarders: fwd,
            segments: heap
                .segments()
                .iter()
                .map(|s| (s.start, s.file_bytes()))
                .collect(),
            top_classes: top,
            special_objects,
            class_names,
            methods,
            methods_v3: v3,
            methods_sista: sista,
        }
    }

    pub fn bytecode_sets(&self) -> String {
        match (self.methods_v3, self.methods_sista) {
            (_, 0) => "V3PlusClosures".into(),
            (0, _) => "SistaV1".into(),
            (a, b) => format!("V3PlusClosures ({a} methods) and SistaV1 ({b} methods)"),
        }
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "format            {} ({}, {}-bit file)",
            self.format,
            self.format_name,
            self.file_word_size * 8
        );
        let _ = writeln!(s, "header size       {}", self.header_size);
        let _ = writeln!(s, "data size         {}", self.data_size);
        let _ = writeln!(s, "old base          {:#x}", self.old_base);
        let _ = writeln!(s, "special objects   {:#x}", self.special_objects_oop);
        let _ = writeln!(s, "last hash         {:#x}", self.last_hash);
        let _ = writeln!(
            s,
            "screen size       {}x{}",
            self.screen_width, self.screen_height
        );
        let _ = writeln!(s, "header flags      {:#x}", self.flags);
        let _ = writeln!(s, "stack pages       {}", self.num_stack_pages);
        let _ = writeln!(s, "eden bytes        {}", self.eden_bytes);
        let _ = writeln!(s, "first segment     {} bytes", self.first_segment_size);
        let _ = writeln!(s, "free old space    {}", self.free_old_space);
        let _ = writeln!(s, "segments in file  {}", self.file_segments);
        let _ = writeln!(s, "objects in file   {}", self.objects_in_file);
        if self.file_word_size == 4 {
            let _ = writeln!(
                s,
                "converted         {} forwarders and {} free chunks dropped, {} floats made immediate",
                self.forwarders_dropped, self.free_chunks_dropped, self.floats_made_immediate
            );
        }
        let _ = writeln!(
            s,
            "objects in heap   {} ({} bytes)",
            self.objects, self.heap_bytes
        );
        let _ = writeln!(s, "free chunks       {}", self.free_chunks);
        let _ = writeln!(s, "forwarders        {}", self.forwarders);
        let _ = writeln!(s, "methods           {}", self.methods);
        let _ = writeln!(s, "bytecode set      {}", self.bytecode_sets());
        let _ = writeln!(s, "\nheap segments:");
        for (i, (a, b)) in self.segments.iter().enumerate() {
            let _ = writeln!(s, "  {i:3}  at {a:#x}  {b} bytes");
        }
        let _ = writeln!(s, "\nclasses by instance count (top {}):", self.top_classes.len());
        for c in &self.top_classes {
            let _ = writeln!(
                s,
                "  {:8} {:10} bytes  {} (index {})",
                c.instances, c.bytes, c.name, c.class_index
            );
        }
        let _ = writeln!(s, "\nclasses ({}):", self.class_names.len());
        for line in wrap(&self.class_names, 96) {
            let _ = writeln!(s, "  {line}");
        }
        let _ = writeln!(
            s,
            "\nspecial objects array ({} entries):",
            self.special_objects.len()
        );
        for (i, name, d) in &self.special_objects {
            if d != "nil" {
                let _ = writeln!(s, "  {i:3} {name:28} {d}");
            }
        }
        s
    }

    pub fn to_json(&self) -> String {
        let mut s = String::from("{\n");
        let num = |s: &mut String, k: &str, v: u64| {
            let _ = writeln!(s, "  \"{k}\": {v},");
        };
        num(&mut s, "format", self.format as u64);
        let _ = writeln!(s, "  \"format_name\": {},", json_str(self.format_name));
        num(&mut s, "file_word_size", self.file_word_size as u64);
        num(&mut s, "header_size", self.header_size as u64);
        num(&mut s, "data_size", self.data_size);
        num(&mut s, "old_base", self.old_base);
        num(&mut s, "special_objects_oop", self.special_objects_oop);
        num(&mut s, "last_hash", self.last_hash);
        num(&mut s, "screen_width", self.screen_width);
        num(&mut s, "screen_height", self.screen_height);
        num(&mut s, "flags", self.flags);
        num(&mut s, "num_stack_pages", self.num_stack_pages as u64);
        num(&mut s, "eden_bytes", self.eden_bytes as u64);
        num(&mut s, "first_segment_size", self.first_segment_size);
        num(&mut s, "free_old_space", self.free_old_space);
        num(&mut s, "file_segments", self.file_segments as u64);
        num(&mut s, "objects_in_file", self.objects_in_file as u64);
        num(&mut s, "forwarders_dropped", self.forwarders_dropped as u64);
        num(&mut s, "free_chunks_dropped", self.free_chunks_dropped as u64);
        num(&mut s, "floats_made_immediate", self.floats_made_immediate as u64);
        num(&mut s, "objects", self.objects as u64);
        num(&mut s, "heap_bytes", self.heap_bytes as u64);
        num(&mut s, "free_chunks", self.free_chunks as u64);
        num(&mut s, "forwarders", self.forwarders as u64);
        num(&mut s, "methods", self.methods as u64);
        let _ = writeln!(s, "  \"bytecode_set\": {},", json_str(&self.bytecode_sets()));
        let segs: Vec<String> = self
            .segments
            .iter()
            .map(|(a, b)| format!("{{\"address\": {a}, \"bytes\": {b}}}"))
            .collect();
        let _ = writeln!(s, "  \"segments\": [{}],", segs.join(", "));
        let classes: Vec<String> = self
            .top_classes
            .iter()
            .map(|c| {
                format!(
                    "    {{\"name\": {}, \"class_index\": {}, \"instances\": {}, \"bytes\": {}}}",
                    json_str(&c.name),
                    c.class_index,
                    c.instances,
                    c.bytes
                )
            })
            .collect();
        let _ = writeln!(s, "  \"top_classes\": [\n{}\n  ],", classes.join(",\n"));
        let specials: Vec<String> = self
            .special_objects
            .iter()
            .map(|(i, n, d)| {
                format!(
                    "    {{\"index\": {i}, \"name\": {}, \"value\": {}}}",
                    json_str(n),
                    json_str(d)
                )
            })
            .collect();
        let _ = writeln!(s, "  \"special_objects\": [\n{}\n  ],", specials.join(",\n"));
        let names: Vec<String> = self.class_names.iter().map(|n| json_str(n)).collect();
        let _ = writeln!(s, "  \"classes\": [{}]", names.join(", "));
        s.push('}');
        s
    }
}

/// Every distinct class object in the class table.
pub fn class_table_entries(heap: &Heap) -> Vec<Oop> {
    let hidden = heap.roots().hidden_roots;
    let mut out = Vec::new();
    for p in 0..class_index::NUM_PAGES.min(heap.num_slots(hidden)) {
        let page = heap.slot(hidden, p);
        if page == heap.nil() || !page.is_object() {
            continue;
        }
        for e in 0..(class_index::PAGE_SIZE as usize).min(heap.num_slots(page)) {
            let c = heap.slot(page, e);
            if c != heap.nil() && c.is_object() && !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// Joins words into lines of at most `width` characters.
fn wrap(words: &[String], width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for w in words {
        if !line.is_empty() && line.len() + 1 + w.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn class_label(heap: &Heap, ci: u32) -> String {
    match ci {
        class_index::FORWARDER => return "(forwarder)".into(),
        16 => return "(hidden array)".into(),
        18 | 19 => return "(hidden words)".into(),
        _ => {}
    }
    heap.class_at_index(ci)
        .and_then(|c| heap.class_name(c))
        .unwrap_or_else(|| format!("(class index {ci})"))
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

//! [`file_in`]: compiling sources into an already-loaded heap — a built
//! image or a real Squeak one, whose class layout is discovered rather than
//! assumed: the instance-variable names of `Class` and `Metaclass` are read
//! from the image, then fields are found by name as in a build.

use super::objects::{CodeEnv, Kit, Writer};
use super::sources::{self, SourceSet};
use super::{BuildError, BuildOptions, FileInReport, Result};
use gc::header::{class_index, format};
use gc::specials::{association, class, so};
use gc::{Heap, Oop};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// Compact class indices the VM knows; new classes never take them.
const RESERVED_INDICES: &[u32] = &[32, 33, 34, 35, 36, 37, 38, 51, 52];

/// What file-in learns about the heap before changing it.
struct Image {
    classes: HashMap<String, Oop>,
    metaclass: Oop,
    /// Instance variable names of class objects and of metaclass objects.
    class_fields: Vec<String>,
    meta_fields: Vec<String>,
    globals: Option<Oop>,
    /// Whether the globals are hashed by identity hash (so we may add to them).
    globals_by_identity: bool,
    symbols: HashMap<Vec<u8>, Oop>,
}

fn canonical(name: &str) -> &str {
    match name {
        "instVarNames" => "instanceVariables",
        "classVariables" => "classPool",
        "soleInstance" => "thisClass",
        n => n,
    }
}

fn field(fields: &[String], name: &str) -> Option<usize> {
    fields.iter().position(|f| canonical(f) == name)
}

/// True for `tally, array, ...` objects whose array holds Associations.
fn is_dictionary(heap: &Heap, d: Oop, array_class: Oop) -> bool {
    d.is_object()
        && d != heap.nil()
        && format::is_pointers(heap.format(d))
        && heap.num_slots(d) >= 2
        && heap.slot(d, 0).is_small_integer()
        && heap.slot(d, 1).is_object()
        && heap.class_of(heap.slot(d, 1)) == array_class
}

/// The Associations of a dictionary, with their array indices.
fn dict_entries(heap: &Heap, d: Oop) -> Vec<(usize, Oop)> {
    let array = heap.slot(d, 1);
    (0..heap.num_slots(array))
        .map(|i| (i, heap.slot(array, i)))
        .filter(|&(_, a)| {
            a != heap.nil() && a.is_object() && format::is_pointers(heap.format(a)) && heap.num_slots(a) >= 2
        })
        .collect()
}

fn dict_lookup(heap: &Heap, d: Oop, name: &str) -> Option<Oop> {
    dict_entries(heap, d)
        .into_iter()
        .map(|(_, a)| a)
        .find(|&a| heap.string_of(heap.slot(a, association::KEY)).as_deref() == Some(name))
}

/// True when every Association sits where identity-hash probing finds it.
fn hashed_by_identity(heap: &Heap, d: Oop) -> bool {
    let array = heap.slot(d, 1);
    let cap = heap.num_slots(array);
    cap > 0
        && dict_entries(heap, d).into_iter().all(|(i, a)| {
            let key = heap.slot(a, association::KEY);
            if !key.is_object() {
                return false;
            }
            let mut j = heap.header(key).hash() as usize % cap;
            loop {
                if j == i {
                    return true;
                }
                if heap.slot(array, j) == heap.nil() {
                    return false;
                }
                j = (j + 1) % cap;
            }
        })
}

impl Image {
    fn scan(heap: &Heap) -> Result<Image> {
        let kernel = |m: &str| BuildError::Kernel(format!("cannot file in: {m}"));
        let mut classes = HashMap::new();
        let hidden = heap.roots().hidden_roots;
        for page in 0..class_index::NUM_PAGES {
            if heap.slot(hidden, page) == heap.nil() {
                continue;
            }
            for e in 0..class_index::PAGE_SIZE {
                let Some(c) = heap.class_at_index(page as u32 * class_index::PAGE_SIZE + e) else {
                    continue;
                };
                // A class at several indices is listed once, at its hash.
                if heap.is_class(c) {
                    if let Some(n) = heap.class_name(c).filter(|n| !n.contains(' ')) {
                        classes.entry(n).or_insert(c);
                    }
                }
            }
        }
        let class_class = *classes
            .get("Class")
            .ok_or_else(|| kernel("no class named Class"))?;
        let metaclass = heap.class_of(heap.class_of(class_class));
        let array = heap.special(so::CLASS_ARRAY);
        let names_at = |c: Oop, k: usize| -> Option<Vec<String>> {
            if k >= heap.num_slots(c) {
                return None;
            }
            let v = heap.slot(c, k);
            if v == heap.nil() {
                return Some(Vec::new());
            }
            if !v.is_object() || heap.class_of(v) != array {
                return None;
            }
            (0..heap.num_slots(v))
                .map(|i| heap.string_of(heap.slot(v, i)))
                .collect()
        };
        // The slot holding each class's own ivar names: the one whose names
        // along Class's superclass chain add up to Class's instance size.
        let all_names = |c: Oop, k: usize| -> Option<Vec<String>> {
            let mut chain = Vec::new();
            let mut b = c;
            while b != heap.nil() {
                chain.push(b);
                b = heap.slot(b, class::SUPERCLASS);
            }
            let mut all = Vec::new();
            for b in chain.into_iter().rev() {
                all.extend(names_at(b, k)?);
            }
            (Some(all.len()) == heap.class_format(c).map(|f| f.1)).then_some(all)
        };
        let n = heap.num_slots(class_class);
        let (class_fields, meta_fields) = (class::FORMAT + 1..n)
            .find_map(|k| {
                let cf = all_names(class_class, k)?;
                let mf = all_names(metaclass, k)?;
                Some((cf, mf))
            })
            .ok_or_else(|| kernel("cannot find the instance variable names of Class in this image"))?;
        let st = heap.special(so::SMALLTALK_DICTIONARY);
        let globals = if is_dictionary(heap, st, array) {
            Some(st)
        } else if st.is_object() && st != heap.nil() && format::is_pointers(heap.format(st)) {
            (0..heap.num_slots(st))
                .map(|i| heap.slot(st, i))
                .find(|&d| is_dictionary(heap, d, array))
        } else {
            None
        };
        let globals_by_identity = globals.is_some_and(|g| hashed_by_identity(heap, g));
        let symbol_class = heap.class_of(heap.special(so::SELECTOR_DOES_NOT_UNDERSTAND));
        let mut symbols = HashMap::new();
        for o in heap.objects() {
            let h = heap.header(o);
            if h.class_index() >= class_index::FIRST_REAL_CLASS
                && format::is_bytes(h.format())
                && !format::is_compiled_method(h.format())
                && heap.class_of(o) == symbol_class
            {
                symbols.entry(heap.bytes(o).to_vec()).or_insert(o);
            }
        }
        Ok(Image {
            classes,
            metaclass,
            class_fields,
            meta_fields,
            globals,
            globals_by_identity,
            symbols,
        })
    }

    fn is_meta(&self, heap: &Heap, b: Oop) -> bool {
        heap.class_of(b) == self.metaclass
    }

    fn fields_of(&self, heap: &Heap, b: Oop) -> &[String] {
        if self.is_meta(heap, b) {
            &self.meta_fields
        } else {
            &self.class_fields
        }
    }

    fn own_ivars(&self, heap: &Heap, b: Oop) -> Vec<String> {
        let Some(k) = field(self.fields_of(heap, b), "instanceVariables") else {
            return Vec::new();
        };
        let v = heap.slot(b, k);
        if v == heap.nil() || !v.is_object() || !format::is_pointers(heap.format(v)) {
            return Vec::new();
        }
        (0..heap.num_slots(v))
            .filter_map(|i| heap.string_of(heap.slot(v, i)))
            .collect()
    }

    /// Every instance variable of `b`, inherited first.
    fn all_ivars(&self, heap: &Heap, b: Oop, what: &str) -> Result<Vec<String>> {
        let mut chain = Vec::new();
        let mut c = b;
        while c != heap.nil() {
            chain.push(c);
            c = heap.slot(c, class::SUPERCLASS);
        }
        let all: Vec<String> = chain
            .into_iter()
            .rev()
            .flat_map(|c| self.own_ivars(heap, c))
            .collect();
        if Some(all.len()) != heap.class_format(b).map(|f| f.1) {
            return Err(BuildError::Kernel(format!(
                "cannot find the instance variable names of {what}"
            )));
        }
        Ok(all)
    }

    fn slot_named(&self, heap: &Heap, b: Oop, name: &str) -> Option<Oop> {
        field(self.fields_of(heap, b), name).map(|k| heap.slot(b, k))
    }
}

/// Compiles `files` (folders searched recursively) against `heap`: new
/// classes are created (their superclasses must exist in the heap or the
/// sources), methods are installed, replacing methods of the same selector.
pub fn file_in(heap: &mut Heap, files: &[&Path], opts: &BuildOptions) -> Result<FileInReport> {
    let paths = sources::collect_files(files)?;
    let set = sources::read_sources(&paths)?;
    let img = Image::scan(heap)?;
    for sc in set.values() {
        if sc.def.is_none() && !img.classes.contains_key(&sc.name) {
            return Err(BuildError::File {
                file: sc.file.clone(),
                message: format!("extension of class {}, which does not exist", sc.name),
            });
        }
    }
    let order = sources::topological_order(&set, &|n| img.classes.contains_key(n))?;
    let kit = kit(heap, &img)?;
    let symbols = img.symbols.clone();
    let mut w = Writer::new(heap, kit, symbols);
    let mut f = FileIn {
        img,
        report: FileInReport::default(),
        new_globals: BTreeMap::new(),
        set: &set,
    };
    for name in &order {
        if f.img.classes.contains_key(name) {
            f.check_redefinition(&mut w, name)?;
        } else {
            f.create_class(&mut w, name)?;
        }
    }
    for sc in set.values() {
        f.methods(&mut w, &sc.name, opts)?;
    }
    f.report.symbols_created = w.new_symbols.len();
    f.update_symbol_table(&mut w)?;
    Ok(f.report)
}

fn kit(heap: &Heap, img: &Image) -> Result<Kit> {
    let class = |n: &str| img.classes.get(n).copied();
    let special = |i: usize| Some(heap.special(i)).filter(|&c| c != heap.nil() && heap.is_class(c));
    let association = img
        .globals
        .and_then(|g| dict_entries(heap, g).first().map(|&(_, a)| heap.class_of(a)))
        .or_else(|| class("Association"))
        .ok_or_else(|| BuildError::Kernel("cannot file in: no Association class".into()))?;
    let object =
        class("Object").ok_or_else(|| BuildError::Kernel("cannot file in: no class Object".into()))?;
    let method_dict = heap.class_of(heap.slot(object, class::METHOD_DICT));
    let need = |o: Option<Oop>, what: &str| {
        o.ok_or_else(|| BuildError::Kernel(format!("cannot file in: no {what} class")))
    };
    Ok(Kit {
        array: need(special(so::CLASS_ARRAY), "Array")?,
        byte_string: need(special(so::CLASS_BYTE_STRING), "ByteString")?,
        symbol: heap.class_of(heap.special(so::SELECTOR_DOES_NOT_UNDERSTAND)),
        association,
        method_dict,
        compiled_method: need(special(so::CLASS_COMPILED_METHOD), "CompiledMethod")?,
        compiled_block: class("CompiledBlock"),
        large_positive: special(so::CLASS_LARGE_POSITIVE_INTEGER),
        large_negative: special(so::CLASS_LARGE_NEGATIVE_INTEGER),
        boxed_float: special(so::CLASS_FLOAT),
        byte_array: special(so::CLASS_BYTE_ARRAY),
        wide_string: class("WideString"),
        scaled_decimal: class("ScaledDecimal"),
        fraction: class("Fraction"),
        additional_state: class("AdditionalMethodState"),
        pragma: class("Pragma"),
    })
}

struct FileIn<'s> {
    img: Image,
    report: FileInReport,
    /// Globals made by this file-in that the image's dictionary could not take.
    new_globals: BTreeMap<String, Oop>,
    set: &'s SourceSet,
}

impl FileIn<'_> {
    /// A definition of a class that exists: only its methods are taken,
    /// and its instance variables must not change.
    fn check_redefinition(&self, w: &mut Writer, name: &str) -> Result<()> {
        let sc = &self.set[name];
        let Some(def) = &sc.def else { return Ok(()) };
        let cls = self.img.classes[name];
        let own = self.img.own_ivars(w.heap, cls);
        if own != def.inst_vars {
            return Err(BuildError::File {
                file: sc.file.clone(),
                message: format!(
                    "class {name} exists with instance variables {own:?}; changing them to {:?} is not supported",
                    def.inst_vars
                ),
            });
        }
        Ok(())
    }

    /// A free class-table index (adding a page when all are taken).
    fn free_index(&self, w: &mut Writer) -> Result<u32> {
        let hidden = w.heap.roots().hidden_roots;
        let nil = w.nil();
        for page in 0..class_index::NUM_PAGES {
            if w.heap.slot(hidden, page) == nil {
                let p = w.heap.allocate(
                    class_index::ARRAY_PUN,
                    format::INDEXABLE,
                    class_index::PAGE_SIZE as usize,
                    nil,
                )?;
                w.heap.set_slot(hidden, page, p);
            }
            let p = w.heap.slot(hidden, page);
            for e in 0..class_index::PAGE_SIZE {
                let i = page as u32 * class_index::PAGE_SIZE + e;
                if i >= class_index::FIRST_REAL_CLASS
                    && !RESERVED_INDICES.contains(&i)
                    && w.heap.slot(p, e as usize) == nil
                {
                    return Ok(i);
                }
            }
        }
        Err(BuildError::Memory("the class table is full".into()))
    }

    /// A byte object like `like` (a Symbol if `like` is one, else a String).
    fn name_like(&self, w: &mut Writer, like: Oop, s: &str) -> Result<Oop> {
        if like.is_object() && like != w.nil() && w.heap.class_of(like) == w.kit.symbol {
            w.symbol(s)
        } else {
            w.string(s)
        }
    }

    fn create_class(&mut self, w: &mut Writer, name: &str) -> Result<()> {
        let sc = &self.set[name];
        let def = sc.def.as_ref().expect("ordered classes have definitions");
        let nil = w.nil();
        let sup = match &def.superclass {
            Some(s) => self.img.classes[s],
            None => {
                return Err(BuildError::File {
                    file: sc.file.clone(),
                    message: format!("new root class {name} is not supported by file-in"),
                })
            }
        };
        let sup_meta = w.heap.class_of(sup);
        let (super_spec, super_size) = w.heap.class_format(sup).unwrap_or((0, 0));
        let size = super_size + def.inst_vars.len();
        let spec = sources::inst_spec(def.shape, size, Some(super_spec));
        let class_slots = w.heap.num_slots(sup) + def.class_inst_vars.len();
        let meta_slots = w.heap.num_slots(sup_meta);
        // The metaclass first: the class object's header needs its index.
        let meta_index = self.free_index(w)?;
        let metaclass_index = w.heap.identity_hash(self.img.metaclass);
        let meta = w.heap.allocate(metaclass_index, format::FIXED, meta_slots, nil)?;
        w.heap.set_class_at_index(meta_index, meta);
        let h = w.heap.header(meta).with_hash(meta_index);
        w.heap.set_header(meta, h);
        let index = self.free_index(w)?;
        let cls = w.heap.allocate(meta_index, format::FIXED, class_slots, nil)?;
        w.heap.set_class_at_index(index, cls);
        let h = w.heap.header(cls).with_hash(index);
        w.heap.set_header(cls, h);

        let sample_names = self
            .img
            .slot_named(w.heap, self.img.classes["Class"], "instanceVariables")
            .filter(|&a| a.is_object() && a != nil && w.heap.num_slots(a) > 0)
            .map(|a| w.heap.slot(a, 0))
            .unwrap_or(nil);
        let names = |this: &Self, w: &mut Writer, list: &[String]| -> Result<Oop> {
            let mut objs = Vec::new();
            for n in list {
                objs.push(this.name_like(w, sample_names, n)?);
            }
            w.array(&objs)
        };
        let class_fields = self.img.class_fields.clone();
        for (k, f) in class_fields.iter().enumerate() {
            let v = match canonical(f) {
                "superclass" => sup,
                "methodDict" => w.method_dict(0)?,
                "format" => Oop::small_int(((spec as i64) << 16) | size as i64),
                "instanceVariables" => names(self, w, &def.inst_vars)?,
                "subclasses" => w.array(&[])?,
                "name" => {
                    let like = self.img.slot_named(w.heap, sup, "name").unwrap_or(nil);
                    self.name_like(w, like, name)?
                }
                "classPool" if !def.class_vars.is_empty() => {
                    let mut assocs = Vec::new();
                    for v in &def.class_vars {
                        let key = w.symbol(v)?;
                        assocs.push(w.association(key, nil)?);
                    }
                    let dict_class =
                        self.img.classes.get("Dictionary").copied().ok_or_else(|| {
                            BuildError::Kernel("class variables need class Dictionary".into())
                        })?;
                    w.dictionary(dict_class, &assocs)?
                }
                "sharedPools" if !def.pools.is_empty() => {
                    let mut objs = Vec::new();
                    for p in &def.pools {
                        objs.push(*self.img.classes.get(p).ok_or_else(|| BuildError::File {
                            file: sc.file.clone(),
                            message: format!("pool {p} of {name} does not exist"),
                        })?);
                    }
                    w.array(&objs)?
                }
                "environment" => self.img.slot_named(w.heap, sup, "environment").unwrap_or(nil),
                "category" => match &def.category {
                    Some(c) => w.symbol(c)?,
                    None => nil,
                },
                _ => continue,
            };
            w.heap.set_slot(cls, k, v);
        }
        let (_, sup_meta_size) = w.heap.class_format(sup_meta).unwrap_or((1, 0));
        let meta_fields = self.img.meta_fields.clone();
        for (k, f) in meta_fields.iter().enumerate() {
            let v = match canonical(f) {
                "superclass" => sup_meta,
                "methodDict" => w.method_dict(0)?,
                "format" => Oop::small_int(
                    ((format::FIXED as i64) << 16) | (sup_meta_size + def.class_inst_vars.len()) as i64,
                ),
                "instanceVariables" => names(self, w, &def.class_inst_vars)?,
                "thisClass" => cls,
                _ => continue,
            };
            w.heap.set_slot(meta, k, v);
        }
        // Superclass's subclasses, when it keeps them in an Array.
        if let Some(k) = field(&self.img.class_fields, "subclasses") {
            let subs = w.heap.slot(sup, k);
            if subs.is_object() && subs != nil && w.heap.class_of(subs) == w.kit.array {
                let mut all: Vec<Oop> = (0..w.heap.num_slots(subs))
                    .map(|i| w.heap.slot(subs, i))
                    .collect();
                all.push(cls);
                let a = w.array(&all)?;
                w.heap.set_slot(sup, k, a);
            }
        }
        let key = w.symbol(name)?;
        let assoc = w.association(key, cls)?;
        self.add_global(w, name, assoc)?;
        self.img.classes.insert(name.to_string(), cls);
        self.report.classes_created.push(name.to_string());
        Ok(())
    }

    fn add_global(&mut self, w: &mut Writer, name: &str, assoc: Oop) -> Result<()> {
        match self.img.globals {
            Some(g) if self.img.globals_by_identity => w.dictionary_add(g, assoc)?,
            _ => {
                self.report.warnings.push(format!(
                    "{name} was not added to the globals: the image's dictionary does not hash by identity"
                ));
                self.new_globals.insert(name.to_string(), assoc);
            }
        }
        Ok(())
    }

    fn global(&self, w: &Writer, name: &str) -> Option<Oop> {
        self.new_globals
            .get(name)
            .copied()
            .or_else(|| self.img.globals.and_then(|g| dict_lookup(w.heap, g, name)))
    }

    /// The Association for `name` as seen from `cls`'s methods.
    fn resolve(&mut self, w: &mut Writer, cls: Oop, name: &str) -> Result<Oop> {
        let nil = w.nil();
        let array = w.kit.array;
        let mut c = cls;
        while c != nil {
            if let Some(pool) = self.img.slot_named(w.heap, c, "classPool") {
                if is_dictionary(w.heap, pool, array) {
                    if let Some(a) = dict_lookup(w.heap, pool, name) {
                        return Ok(a);
                    }
                }
            }
            if let Some(pools) = self.img.slot_named(w.heap, c, "sharedPools") {
                if pools.is_object() && pools != nil && w.heap.class_of(pools) == array {
                    for i in 0..w.heap.num_slots(pools) {
                        let p = w.heap.slot(pools, i);
                        let d = if is_dictionary(w.heap, p, array) {
                            Some(p)
                        } else if w.heap.is_class(p) {
                            self.img.slot_named(w.heap, p, "classPool")
                        } else {
                            None
                        };
                        if let Some(a) = d
                            .filter(|&d| is_dictionary(w.heap, d, array))
                            .and_then(|d| dict_lookup(w.heap, d, name))
                        {
                            return Ok(a);
                        }
                    }
                }
            }
            c = w.heap.slot(c, class::SUPERCLASS);
        }
        if let Some(a) = self.global(w, name) {
            return Ok(a);
        }
        let key = w.symbol(name)?;
        let a = w.association(key, nil)?;
        self.report.undeclared.push(name.to_string());
        self.add_global(w, name, a)?;
        Ok(a)
    }

    /// The class binding for methods of `target` (a class or metaclass):
    /// the one existing methods use, else the global, else a new one.
    fn class_binding(&mut self, w: &mut Writer, name: &str, target: Oop, class_side: bool) -> Result<Oop> {
        let nil = w.nil();
        let md = w.heap.slot(target, class::METHOD_DICT);
        if md.is_object() && md != nil && w.heap.num_slots(md) > 1 {
            let values = w.heap.slot(md, 1);
            for i in 0..w.heap.num_slots(values) {
                let m = w.heap.slot(values, i);
                if m.is_object() && m != nil && format::is_compiled_method(w.heap.format(m)) {
                    if let Some(h) = gc::method::MethodHeader::from_oop(w.heap.slot(m, 0)) {
                        let n = h.num_literals();
                        let b = if n > 0 { w.heap.slot(m, n) } else { nil };
                        if b.is_object()
                            && b != nil
                            && format::is_pointers(w.heap.format(b))
                            && w.heap.num_slots(b) >= 2
                            && w.heap.slot(b, association::VALUE) == target
                        {
                            return Ok(b);
                        }
                    }
                }
            }
        }
        if !class_side {
            if let Some(a) = self
                .global(w, name)
                .filter(|&a| w.heap.slot(a, association::VALUE) == target)
            {
                return Ok(a);
            }
            let key = w.symbol(name)?;
            return w.association(key, target);
        }
        w.association(nil, target)
    }

    fn methods(&mut self, w: &mut Writer, name: &str, opts: &BuildOptions) -> Result<()> {
        let sc = &self.set[name];
        let cls = self.img.classes[name];
        let meta = w.heap.class_of(cls);
        let ivars = self.img.all_ivars(w.heap, cls, name)?;
        let meta_ivars = self.img.all_ivars(w.heap, meta, &format!("{name} class"))?;
        let mut redefined = Vec::new();
        let compiled = sources::compile_class(
            sc,
            &ivars,
            &meta_ivars,
            opts.bytecode_set,
            &mut self.report.skipped_primitives,
            &mut redefined,
        )?;
        for (class_side, list) in [(false, &compiled.instance), (true, &compiled.class_side)] {
            if list.is_empty() {
                continue;
            }
            let target = if class_side { meta } else { cls };
            let binding = self.class_binding(w, name, target, class_side)?;
            for c in list {
                let mut names = BTreeSet::new();
                sources::binding_names(&c.spec, &mut names);
                let mut bindings = HashMap::new();
                for n in names {
                    let a = self.resolve(w, cls, &n)?;
                    bindings.insert(n, a);
                }
                let what = format!(
                    "{name}{}>>{}",
                    if class_side { " class" } else { "" },
                    c.spec.selector
                );
                let env = CodeEnv {
                    class_binding: binding,
                    bindings: &bindings,
                    what: format!("{}: {what}", c.file.display()),
                };
                let m = w.code(&c.spec, &env, None)?;
                let sel = w.symbol(&c.spec.selector)?;
                w.install_method(target, sel, m)?;
                self.report.methods_installed.push(what);
            }
        }
        Ok(())
    }

    /// Adds new symbols to `Symbol`'s `SymbolTable` when it is a sorted Array
    /// of symbols (as built images have).
    fn update_symbol_table(&mut self, w: &mut Writer) -> Result<()> {
        if w.new_symbols.is_empty() {
            return Ok(());
        }
        let nil = w.nil();
        let table = ["Symbol", "ByteSymbol"]
            .iter()
            .filter_map(|n| self.img.classes.get(*n).copied())
            .filter_map(|c| self.img.slot_named(w.heap, c, "classPool"))
            .filter(|&d| is_dictionary(w.heap, d, w.kit.array))
            .find_map(|d| dict_lookup(w.heap, d, "SymbolTable"));
        let Some(assoc) = table else {
            self.report.warnings.push(format!(
                "{} new symbols were not added to a symbol table (no Symbol class variable SymbolTable)",
                w.new_symbols.len()
            ));
            return Ok(());
        };
        let arr = w.heap.slot(assoc, association::VALUE);
        let old: Vec<Oop> = if arr.is_object() && arr != nil && w.heap.class_of(arr) == w.kit.array {
            (0..w.heap.num_slots(arr)).map(|i| w.heap.slot(arr, i)).collect()
        } else {
            Vec::new()
        };
        let mut all: Vec<(Vec<u8>, Oop)> = old
            .iter()
            .chain(w.new_symbols.iter())
            .filter(|&&s| s.is_object() && s != nil)
            .map(|&s| (w.heap.bytes(s).to_vec(), s))
            .collect();
        all.sort();
        all.dedup_by(|a, b| a.1 == b.1);
        let objs: Vec<Oop> = all.into_iter().map(|(_, s)| s).collect();
        let table = w.array(&objs)?;
        w.heap.set_slot(assoc, association::VALUE, table);
        Ok(())
    }
}

//! [`build_image`]: a whole image from sources.

use super::objects::{CodeEnv, Kit, Writer};
use super::sources::{self, ClassMethods, SourceSet};
use super::{BuildError, BuildOptions, BuildReport, BuiltImage, Result};
use crate::compiler::codegen::SPECIAL_SELECTORS;
use crate::compiler::ClassShape;
use crate::header::{ImageHeader, FORMAT_SPUR64, FORMAT_SPUR64_SISTA, HEADER_BYTES_64};
use gc::header::{class_index, format, PINNED_BIT};
use gc::method::{BytecodeSet, MethodHeader};
use gc::specials::{context, process, scheduler, so};
use gc::{Heap, HeapConfig, Oop, Roots};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// Identity-hash generator seed: fixed so builds are reproducible.
const HASH_SEED: u64 = 0x2545_F491;
/// First old-space segment; big enough that a kernel fits in one.
const FIRST_SEGMENT_BYTES: usize = 32 << 20;
/// Slots of the hidden-roots object: class-table pages, then 8 more.
const HIDDEN_ROOT_SLOTS: usize = class_index::NUM_PAGES + 8;
const REMEMBERED_SET_ROOT: usize = class_index::NUM_PAGES + 3;
const REMEMBERED_SET_SLOTS: usize = 1024;
const FREE_LISTS: usize = 64;
const SPECIAL_OBJECTS_SLOTS: usize = 60;
const PROCESS_PRIORITIES: usize = 80;
const START_PRIORITY: i64 = 40;

/// Classes at fixed class-table indices (first name found wins; the first
/// index is also the identity hash): the OpenSmalltalk VMs' compact class
/// indices, which their interpreters and machine code use directly.
const FIXED_INDICES: &[(&[&str], &[u32])] = &[
    (&["SmallInteger"], &[1, 3]),
    (&["Character"], &[2]),
    (&["SmallFloat64"], &[4]),
    (&["LargeNegativeInteger"], &[32]),
    (&["LargePositiveInteger"], &[33]),
    (&["BoxedFloat64", "Float"], &[34]),
    (&["Message"], &[35]),
    (&["Context", "MethodContext"], &[36]),
    (&["BlockClosure"], &[37]),
    (&["FullBlockClosure"], &[38]),
    (&["ByteArray"], &[50]),
    (&["Array"], &[51, 16]),
    (&["ByteString", "String"], &[52]),
    (&["Bitmap"], &[53]),
    // Cog's machine code for `@` (primitive 18) makes instances of index 54.
    (&["Point"], &[54]),
];

/// Alternatives in order of preference for the classes the builder needs.
const REQUIRED: &[&[&str]] = &[
    &["Class"],
    &["Metaclass"],
    &["UndefinedObject"],
    &["True"],
    &["False"],
    &["SmallInteger"],
    &["Character"],
    &["Array"],
    &["ByteString", "String"],
    &["ByteSymbol", "Symbol"],
    &["CompiledMethod"],
    &["Association"],
    &["MethodDictionary"],
    &["Process"],
    &["ProcessorScheduler"],
    &["LinkedList"],
    &["Context", "MethodContext"],
    &["SmalltalkImage"],
    &["SystemDictionary", "Dictionary"],
];

const PRIM_ERRORS: &[&str] = &[
    "bad receiver",
    "bad argument",
    "bad index",
    "bad number of arguments",
    "inappropriate operation",
    "unsupported operation",
    "no modification",
    "insufficient object memory",
    "insufficient C memory",
    "not found",
    "bad method",
    "internal error in named primitive machinery",
    "object may move",
    "resource limit exceeded",
    "object is pinned",
    "primitive write beyond end of object",
];

/// Special objects that are classes, by name.
const SPECIAL_CLASSES: &[(usize, &[&str])] = &[
    (so::CLASS_SMALL_INTEGER, &["SmallInteger"]),
    (so::CLASS_BYTE_STRING, &["ByteString", "String"]),
    (so::CLASS_ARRAY, &["Array"]),
    (so::CLASS_FLOAT, &["BoxedFloat64", "Float"]),
    (so::CLASS_METHOD_CONTEXT, &["Context", "MethodContext"]),
    (so::CLASS_POINT, &["Point"]),
    (so::CLASS_LARGE_POSITIVE_INTEGER, &["LargePositiveInteger"]),
    (so::CLASS_MESSAGE, &["Message"]),
    (so::CLASS_COMPILED_METHOD, &["CompiledMethod"]),
    (so::CLASS_SEMAPHORE, &["Semaphore"]),
    (so::CLASS_CHARACTER, &["Character"]),
    (so::CLASS_BYTE_ARRAY, &["ByteArray"]),
    (so::CLASS_PROCESS, &["Process"]),
    (31, &["DoubleByteArray"]),
    (32, &["WordArray"]),
    (33, &["DoubleWordArray"]),
    (so::CLASS_BLOCK_CLOSURE, &["BlockClosure"]),
    (so::CLASS_FULL_BLOCK_CLOSURE, &["FullBlockClosure"]),
    (so::CLASS_MUTEX, &["Mutex"]),
    (so::CLASS_LARGE_NEGATIVE_INTEGER, &["LargeNegativeInteger"]),
];

const SPECIAL_SELECTOR_OBJECTS: &[(usize, &str)] = &[
    (so::SELECTOR_DOES_NOT_UNDERSTAND, "doesNotUnderstand:"),
    (so::SELECTOR_CANNOT_RETURN, "cannotReturn:"),
    (so::SELECTOR_MUST_BE_BOOLEAN, "mustBeBoolean"),
    (so::SELECTOR_CANNOT_INTERPRET, "cannotInterpret:"),
    (so::SELECTOR_ABOUT_TO_RETURN, "aboutToReturn:through:"),
    (so::SELECTOR_RUN_WITH_IN, "run:with:in:"),
    (so::SELECTOR_ATTEMPT_TO_ASSIGN, "attemptToAssign:withIndex:"),
    (53, "invokeCallbackContext:"),
    (so::SELECTOR_UNKNOWN_BYTECODE, "unusedBytecode"),
    (so::SELECTOR_COUNTER_TRIPPED, "conditionalBranchCounterTrippedOn:"),
    (so::SELECTOR_SISTA_TRAP, "classTrapFor:"),
];

/// One class to build: its layout and class-table indices.
struct Planned {
    name: String,
    superclass: Option<usize>,
    inst_vars: Vec<String>,
    /// Every instance variable, inherited first.
    all_inst_vars: Vec<String>,
    /// Every class-side instance variable, inherited first (without Class's).
    all_class_inst_vars: Vec<String>,
    spec: u8,
    index: u32,
    extra_indices: Vec<u32>,
    meta_index: u32,
}

impl Planned {
    fn format(&self) -> i64 {
        ((self.spec as i64) << 16) | self.all_inst_vars.len() as i64
    }
}

struct Plan {
    classes: Vec<Planned>,
    by_name: HashMap<String, usize>,
    pages: usize,
}

impl Plan {
    fn find(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|n| self.by_name.get(*n).copied())
    }

    fn get(&self, name: &str) -> usize {
        self.by_name[name]
    }

    /// The class and its superclasses, the class first.
    fn chain(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(Some(i), move |&c| self.classes[c].superclass)
    }
}

fn make_plan(set: &SourceSet, order: &[String]) -> Result<Plan> {
    let mut classes: Vec<Planned> = Vec::new();
    let mut by_name = HashMap::new();
    for name in order {
        let sc = &set[name];
        let def = sc.def.as_ref().expect("ordered classes have definitions");
        let superclass = def.superclass.as_ref().map(|s| by_name[s.as_str()]);
        let (mut all, mut all_class, super_spec) = match superclass {
            Some(s) => {
                let p: &Planned = &classes[s];
                (
                    p.all_inst_vars.clone(),
                    p.all_class_inst_vars.clone(),
                    Some(p.spec),
                )
            }
            None => (Vec::new(), Vec::new(), None),
        };
        all.extend(def.inst_vars.iter().cloned());
        all_class.extend(def.class_inst_vars.iter().cloned());
        let spec = sources::inst_spec(def.shape, all.len(), super_spec);
        if def.shape == ClassShape::Immediate && !all.is_empty() {
            return Err(BuildError::File {
                file: sc.file.clone(),
                message: format!("immediate class {name} cannot have instance variables"),
            });
        }
        by_name.insert(name.clone(), classes.len());
        classes.push(Planned {
            name: name.clone(),
            superclass,
            inst_vars: def.inst_vars.clone(),
            all_inst_vars: all,
            all_class_inst_vars: all_class,
            spec,
            index: 0,
            extra_indices: Vec::new(),
            meta_index: 0,
        });
    }
    let mut plan = Plan {
        classes,
        by_name,
        pages: 1,
    };
    let missing: Vec<String> = REQUIRED
        .iter()
        .filter(|alts| plan.find(alts).is_none())
        .map(|alts| alts.join(" or "))
        .collect();
    if !missing.is_empty() {
        return Err(BuildError::Kernel(format!(
            "the sources do not define these classes an image needs: {}",
            missing.join(", ")
        )));
    }
    check_layouts(&plan)?;
    assign_indices(&mut plan);
    Ok(plan)
}

/// The VM reads some classes' instances directly: insist on their shapes.
fn check_layouts(plan: &Plan) -> Result<()> {
    let behavior = &plan.classes[plan.get("Class")].all_inst_vars;
    if behavior.len() < 3 || behavior[..3] != ["superclass", "methodDict", "format"] {
        return Err(BuildError::Kernel(
            "Class must inherit the instance variables superclass, methodDict, format first (from Behavior)"
                .into(),
        ));
    }
    let checks: &[(&[&str], &[u8], usize, &str)] = &[
        (&["Array"], &[2], 0, "#variable with no instance variables"),
        (&["ByteString", "String"], &[16], 0, "#bytes"),
        (&["ByteSymbol", "Symbol"], &[16], 0, "#bytes"),
        (&["CompiledMethod"], &[24], 0, "#compiledMethod"),
        (&["CompiledBlock"], &[24], 0, "#compiledMethod"),
        (
            &["MethodDictionary"],
            &[3],
            2,
            "#variable with 2 instance variables (tally, array)",
        ),
        (
            &["Context", "MethodContext"],
            &[3],
            6,
            "#variable with 6 instance variables",
        ),
        (&["SmallInteger"], &[7], 0, "#immediate"),
        (&["Character"], &[7], 0, "#immediate"),
        (&["SmallFloat64"], &[7], 0, "#immediate"),
        (&["BoxedFloat64", "Float"], &[10], 0, "#words"),
        (&["LargePositiveInteger"], &[16], 0, "#bytes"),
        (&["LargeNegativeInteger"], &[16], 0, "#bytes"),
        (&["ByteArray"], &[16], 0, "#bytes"),
        (
            &["Association"],
            &[1],
            2,
            "2 or more instance variables (key, value)",
        ),
        (&["Process"], &[1], 4, "4 or more instance variables"),
        (&["ProcessorScheduler"], &[1], 2, "2 or more instance variables"),
        (&["LinkedList"], &[1], 2, "2 or more instance variables"),
        (
            &["SystemDictionary", "Dictionary"],
            &[1],
            2,
            "2 or more instance variables (tally, array)",
        ),
    ];
    for (names, specs, ivars, what) in checks {
        let Some(i) = plan.find(names) else { continue };
        let c = &plan.classes[i];
        let n = c.all_inst_vars.len();
        let exact = matches!(c.spec, 2 | 3 | 24);
        if !specs.contains(&c.spec) || (exact && n != *ivars) || n < *ivars {
            return Err(BuildError::Kernel(format!(
                "class {} must be {what} (it has format {} with {n} instance variables)",
                c.name, c.spec
            )));
        }
    }
    Ok(())
}

fn assign_indices(plan: &mut Plan) {
    let mut reserved: BTreeSet<u32> = (0..class_index::FIRST_REAL_CLASS).collect();
    let float_at_4 = plan.find(&["SmallFloat64"]).is_none();
    for (names, indices) in FIXED_INDICES {
        reserved.extend(indices.iter().copied());
        if let Some(i) = plan.find(names) {
            let c = &mut plan.classes[i];
            c.index = indices[0];
            c.extra_indices = indices[1..].to_vec();
            if float_at_4 && names[0] == "BoxedFloat64" {
                c.extra_indices.push(class_index::SMALL_FLOAT);
            }
        }
    }
    let mut next = class_index::FIRST_REAL_CLASS;
    let mut take = || {
        while reserved.contains(&next) {
            next += 1;
        }
        reserved.insert(next);
        next
    };
    for c in &mut plan.classes {
        if c.index == 0 {
            c.index = take();
        }
        c.meta_index = take();
    }
    let max = plan
        .classes
        .iter()
        .map(|c| c.meta_index.max(c.index))
        .max()
        .unwrap_or(0);
    // The OpenSmalltalk VM expects at least pages 0 and 1 (its assert VM
    // checks them), even when every class fits in page 0.
    plan.pages = ((max / class_index::PAGE_SIZE) as usize + 1).max(2);
}

/// Instance variable name aliases between Squeak versions.
fn canonical(name: &str) -> &str {
    match name {
        "instVarNames" => "instanceVariables",
        "classVariables" => "classPool",
        "soleInstance" => "thisClass",
        n => n,
    }
}

/// Builds a 64-bit Spur image from the source folders (or files) `dirs`.
pub fn build_image(dirs: &[&Path], opts: &BuildOptions) -> Result<BuiltImage> {
    let files = sources::collect_files(dirs)?;
    let set = sources::read_sources(&files)?;
    if let Some(sc) = set.values().find(|sc| sc.def.is_none()) {
        return Err(BuildError::File {
            file: sc.file.clone(),
            message: format!("extension of class {}, which is not defined", sc.name),
        });
    }
    let order = sources::topological_order(&set, &|_| false)?;
    let plan = make_plan(&set, &order)?;
    let mut report = BuildReport::default();
    let class_ivars = plan.classes[plan.get("Class")].all_inst_vars.clone();
    let mut compiled = Vec::with_capacity(plan.classes.len());
    for c in &plan.classes {
        let mut meta_ivars = class_ivars.clone();
        meta_ivars.extend(c.all_class_inst_vars.iter().cloned());
        compiled.push(sources::compile_class(
            &set[&c.name],
            &c.all_inst_vars,
            &meta_ivars,
            opts.bytecode_set,
            &mut report.skipped_primitives,
            &mut report.redefined,
        )?);
    }
    let mut heap = Heap::new(HeapConfig::default()).map_err(|e| BuildError::Memory(e.to_string()))?;
    heap.last_hash = HASH_SEED;
    heap.add_empty_segment(FIRST_SEGMENT_BYTES)?;
    let mut b = Builder {
        plan: &plan,
        set: &set,
        report,
        classes: Vec::new(),
        metas: Vec::new(),
        globals: BTreeMap::new(),
        pools: vec![BTreeMap::new(); plan.classes.len()],
        pool_dicts: vec![None; plan.classes.len()],
    };
    let roots = b.first_objects(&mut heap)?;
    b.class_objects(&mut heap)?;
    let kit = b.kit();
    let mut w = Writer::new(&mut heap, kit, HashMap::new());
    let special_objects = b.populate(&mut w, &compiled)?;
    b.report.symbols = w.sorted_symbols().len();
    drop(w);
    heap.set_roots(Roots {
        special_objects,
        ..roots
    });
    let header = image_header(&heap, opts.bytecode_set);
    b.report.classes = plan.classes.len();
    Ok(BuiltImage {
        heap,
        header,
        report: b.report,
    })
}

fn image_header(heap: &Heap, set: BytecodeSet) -> ImageHeader {
    let base = crate::write::DEFAULT_BASE;
    let mut offset = 0u64;
    let mut special = 0;
    let so = heap.special_objects().addr();
    for s in heap.segments() {
        if (s.start..s.alloc_end).contains(&so) {
            special = base + offset + (so - s.start) as u64;
        }
        offset += s.file_bytes() as u64;
    }
    ImageHeader {
        format: match set {
            BytecodeSet::SistaV1 => FORMAT_SPUR64_SISTA,
            BytecodeSet::V3PlusClosures => FORMAT_SPUR64,
        },
        header_size: HEADER_BYTES_64 as u32,
        data_size: offset,
        old_base: base,
        special_objects: special,
        last_hash: heap.last_hash,
        screen_size: 0,
        flags: crate::header::FLAG_FLOATS_PLATFORM_ORDER,
        extra_vm_memory: 0,
        num_stack_pages: 8,
        code_size_kib: 0,
        eden_bytes: 0,
        max_ext_sem_tab_size: 0,
        unused: 0,
        first_segment_size: heap
            .segments()
            .first()
            .map(|s| s.file_bytes() as u64)
            .unwrap_or(0),
        free_old_space: 0,
    }
}

struct Builder<'p> {
    plan: &'p Plan,
    set: &'p SourceSet,
    report: BuildReport,
    /// Class and metaclass objects, indexed like `plan.classes`.
    classes: Vec<Oop>,
    metas: Vec<Oop>,
    /// Global name -> Association.
    globals: BTreeMap<String, Oop>,
    /// Per class: class variable name -> Association.
    pools: Vec<BTreeMap<String, Oop>>,
    pool_dicts: Vec<Option<Oop>>,
}

impl Builder<'_> {
    fn class(&self, names: &[&str]) -> Option<Oop> {
        self.plan.find(names).map(|i| self.classes[i])
    }

    fn required(&self, names: &[&str]) -> Oop {
        self.class(names).expect("required classes were checked")
    }

    /// nil, false, true, the free lists, the hidden roots with the
    /// class-table pages and the remembered set: the objects the VM finds
    /// by position.
    fn first_objects(&self, heap: &mut Heap) -> Result<Roots> {
        let p = self.plan;
        let ci = |n: &str| p.classes[p.get(n)].index;
        let nil = heap.allocate(ci("UndefinedObject"), format::ZERO_SIZED, 0, Oop(0))?;
        let false_obj = heap.allocate(ci("False"), format::ZERO_SIZED, 0, Oop(0))?;
        let true_obj = heap.allocate(ci("True"), format::ZERO_SIZED, 0, Oop(0))?;
        let free_lists = heap.allocate(class_index::WORD_SIZE_PUN, format::WORDS64, FREE_LISTS, Oop(0))?;
        let hidden = heap.allocate(class_index::ARRAY_PUN, format::INDEXABLE, HIDDEN_ROOT_SLOTS, nil)?;
        let roots = Roots {
            nil,
            false_obj,
            true_obj,
            free_lists,
            hidden_roots: hidden,
            special_objects: Oop(0),
        };
        heap.set_roots(roots);
        for page_no in 0..p.pages {
            let page = heap.allocate(
                class_index::ARRAY_PUN,
                format::INDEXABLE,
                class_index::PAGE_SIZE as usize,
                nil,
            )?;
            heap.set_slot(hidden, page_no, page);
        }
        let rs = heap.allocate(
            class_index::WORD_SIZE_PUN,
            format::WORDS64,
            REMEMBERED_SET_SLOTS,
            Oop(0),
        )?;
        let h = heap.header(rs).with_flag(PINNED_BIT, true);
        heap.set_header(rs, h);
        heap.set_slot(hidden, REMEMBERED_SET_ROOT, rs);
        Ok(roots)
    }

    /// Allocates every class and metaclass, with its format, hash and
    /// class-table entries; the other fields are filled later.
    fn class_objects(&mut self, heap: &mut Heap) -> Result<()> {
        let p = self.plan;
        let nil = heap.nil();
        let class_ivars = p.classes[p.get("Class")].all_inst_vars.len();
        let metaclass = &p.classes[p.get("Metaclass")];
        let meta_slots = metaclass.all_inst_vars.len();
        for c in &p.classes {
            let class_slots = class_ivars + c.all_class_inst_vars.len();
            let cls = heap.allocate(c.meta_index, format::FIXED, class_slots, nil)?;
            let h = heap.header(cls).with_hash(c.index);
            heap.set_header(cls, h);
            heap.set_slot(cls, gc::specials::class::FORMAT, Oop::small_int(c.format()));
            let meta = heap.allocate(metaclass.index, format::FIXED, meta_slots, nil)?;
            let h = heap.header(meta).with_hash(c.meta_index);
            heap.set_header(meta, h);
            let meta_format = ((format::FIXED as i64) << 16) | class_slots as i64;
            heap.set_slot(meta, gc::specials::class::FORMAT, Oop::small_int(meta_format));
            for &i in std::iter::once(&c.index).chain(&c.extra_indices) {
                heap.set_class_at_index(i, cls);
            }
            heap.set_class_at_index(c.meta_index, meta);
            self.classes.push(cls);
            self.metas.push(meta);
        }
        Ok(())
    }

    fn kit(&self) -> Kit {
        Kit {
            array: self.required(&["Array"]),
            byte_string: self.required(&["ByteString", "String"]),
            symbol: self.required(&["ByteSymbol", "Symbol"]),
            association: self.required(&["Association"]),
            method_dict: self.required(&["MethodDictionary"]),
            compiled_method: self.required(&["CompiledMethod"]),
            compiled_block: self.class(&["CompiledBlock"]),
            large_positive: self.class(&["LargePositiveInteger"]),
            large_negative: self.class(&["LargeNegativeInteger"]),
            boxed_float: self.class(&["BoxedFloat64", "Float"]),
            byte_array: self.class(&["ByteArray"]),
            wide_string: self.class(&["WideString"]),
            scaled_decimal: self.class(&["ScaledDecimal"]),
            fraction: self.class(&["Fraction"]),
            additional_state: self.class(&["AdditionalMethodState"]),
            pragma: self.class(&["Pragma"]),
        }
    }

    /// Everything after the classes' skeletons; answers the special
    /// objects array.
    fn populate(&mut self, w: &mut Writer, compiled: &[ClassMethods]) -> Result<Oop> {
        let p = self.plan;
        let nil = w.nil();
        for (i, c) in p.classes.iter().enumerate() {
            let sym = w.symbol(&c.name)?;
            let assoc = w.association(sym, self.classes[i])?;
            self.globals.insert(c.name.clone(), assoc);
        }
        let smalltalk = w.instance(self.required(&["SmalltalkImage"]), 0)?;
        let sym = w.symbol("Smalltalk")?;
        let smalltalk_assoc = w.association(sym, smalltalk)?;
        self.globals.insert("Smalltalk".into(), smalltalk_assoc);
        let sym = w.symbol("Processor")?;
        let processor_assoc = w.association(sym, nil)?;
        self.globals.insert("Processor".into(), processor_assoc);
        let pool_class = self.required(&["Dictionary", "SystemDictionary"]);
        for (i, c) in p.classes.iter().enumerate() {
            let def = self.set[&c.name].def.as_ref().expect("defined");
            if def.class_vars.is_empty() {
                continue;
            }
            let mut assocs = Vec::new();
            for v in &def.class_vars {
                let sym = w.symbol(v)?;
                let a = w.association(sym, nil)?;
                self.pools[i].insert(v.clone(), a);
                assocs.push(a);
            }
            self.pool_dicts[i] = Some(w.dictionary(pool_class, &assocs)?);
        }
        let start = self.methods(w, compiled)?;
        let assocs: Vec<Oop> = self.globals.values().copied().collect();
        let globals = w.dictionary(self.required(&["SystemDictionary", "Dictionary"]), &assocs)?;
        self.fill_classes(w, globals)?;
        let st = &p.classes[p.get("SmalltalkImage")];
        if let Some(k) = st.all_inst_vars.iter().position(|n| n == "globals") {
            w.heap.set_slot(smalltalk, k, globals);
        }
        let scheduler = self.startup_process(w, start, smalltalk)?;
        w.heap.set_slot(processor_assoc, 1, scheduler);
        let specials = self.special_objects(w, processor_assoc, smalltalk)?;
        self.symbol_table(w)?;
        Ok(specials)
    }

    /// The Association a method's `name` refers to: class variables of the
    /// class and its superclasses, their pools, then globals (declared on
    /// first use if nothing defines the name).
    fn resolve(&mut self, w: &mut Writer, class: usize, name: &str) -> Result<Oop> {
        let p = self.plan;
        for c in p.chain(class) {
            if let Some(&a) = self.pools[c].get(name) {
                return Ok(a);
            }
            let def = self.set[&p.classes[c].name].def.as_ref().expect("defined");
            for pool in &def.pools {
                if let Some(&pi) = p.by_name.get(pool) {
                    if let Some(&a) = self.pools[pi].get(name) {
                        return Ok(a);
                    }
                }
            }
        }
        if let Some(&a) = self.globals.get(name) {
            return Ok(a);
        }
        let sym = w.symbol(name)?;
        let nil = w.nil();
        let a = w.association(sym, nil)?;
        self.globals.insert(name.to_string(), a);
        self.report.undeclared.push(name.to_string());
        Ok(a)
    }

    /// Compiled methods into objects and method dictionaries; answers
    /// `SmalltalkImage>>#start`.
    fn methods(&mut self, w: &mut Writer, compiled: &[ClassMethods]) -> Result<Oop> {
        let p = self.plan;
        let st = p.get("SmalltalkImage");
        let mut start = None;
        for (i, cm) in compiled.iter().enumerate() {
            for class_side in [false, true] {
                let list = if class_side { &cm.class_side } else { &cm.instance };
                let target = if class_side {
                    self.metas[i]
                } else {
                    self.classes[i]
                };
                let md = w.method_dict(list.len())?;
                w.heap.set_slot(target, gc::specials::class::METHOD_DICT, md);
                if list.is_empty() {
                    continue;
                }
                let binding = if class_side {
                    let nil = w.nil();
                    w.association(nil, target)?
                } else {
                    self.globals[&p.classes[i].name]
                };
                for c in list {
                    let mut names = BTreeSet::new();
                    sources::binding_names(&c.spec, &mut names);
                    let mut bindings = HashMap::new();
                    for n in names {
                        let a = self.resolve(w, i, &n)?;
                        bindings.insert(n, a);
                    }
                    let env = CodeEnv {
                        class_binding: binding,
                        bindings: &bindings,
                        what: format!(
                            "{}: {}{}>>{}",
                            c.file.display(),
                            p.classes[i].name,
                            if class_side { " class" } else { "" },
                            c.spec.selector
                        ),
                    };
                    let m = w.code(&c.spec, &env, None)?;
                    let sel = w.symbol(&c.spec.selector)?;
                    w.install_method(target, sel, m)?;
                    self.report.methods += 1;
                    if i == st && !class_side && c.spec.selector == "start" {
                        start = Some(m);
                    }
                }
            }
        }
        start.ok_or_else(|| {
            BuildError::Kernel(
                "the sources define no SmalltalkImage>>#start, the method the image starts with".into(),
            )
        })
    }

    fn fill_classes(&mut self, w: &mut Writer, globals: Oop) -> Result<()> {
        let p = self.plan;
        let nil = w.nil();
        let class_layout = p.classes[p.get("Class")].all_inst_vars.clone();
        let meta_layout = p.classes[p.get("Metaclass")].all_inst_vars.clone();
        let root_meta_super = self.classes[p.get("Class")];
        let mut subclasses: Vec<Vec<usize>> = vec![Vec::new(); p.classes.len()];
        for (i, c) in p.classes.iter().enumerate() {
            if let Some(s) = c.superclass {
                subclasses[s].push(i);
            }
        }
        for (i, c) in p.classes.iter().enumerate() {
            let def = self.set[&c.name].def.as_ref().expect("defined");
            let (cls, meta) = (self.classes[i], self.metas[i]);
            for (k, ivar) in class_layout.iter().enumerate() {
                let v = match canonical(ivar) {
                    "superclass" => c.superclass.map(|s| self.classes[s]).unwrap_or(nil),
                    "instanceVariables" => self.names_array(w, &c.inst_vars)?,
                    "subclasses" => {
                        let mut subs = subclasses[i].clone();
                        subs.sort_by(|&a, &b| p.classes[a].name.cmp(&p.classes[b].name));
                        let objs: Vec<Oop> = subs.iter().map(|&s| self.classes[s]).collect();
                        w.array(&objs)?
                    }
                    "name" => w.symbol(&c.name)?,
                    "classPool" => self.pool_dicts[i].unwrap_or(nil),
                    "sharedPools" if !def.pools.is_empty() => {
                        let mut objs = Vec::new();
                        for pool in &def.pools {
                            let pi = p.by_name.get(pool).ok_or_else(|| BuildError::File {
                                file: self.set[&c.name].file.clone(),
                                message: format!("pool {pool} of {} is not defined", c.name),
                            })?;
                            objs.push(self.classes[*pi]);
                        }
                        w.array(&objs)?
                    }
                    "environment" => globals,
                    "category" => match &def.category {
                        Some(cat) => w.symbol(cat)?,
                        None => nil,
                    },
                    _ => continue,
                };
                w.heap.set_slot(cls, k, v);
            }
            for (k, ivar) in meta_layout.iter().enumerate() {
                let v = match canonical(ivar) {
                    "superclass" => c.superclass.map(|s| self.metas[s]).unwrap_or(root_meta_super),
                    "instanceVariables" => self.names_array(w, &def.class_inst_vars)?,
                    "thisClass" => cls,
                    _ => continue,
                };
                w.heap.set_slot(meta, k, v);
            }
        }
        Ok(())
    }

    fn names_array(&self, w: &mut Writer, names: &[String]) -> Result<Oop> {
        let mut objs = Vec::with_capacity(names.len());
        for n in names {
            objs.push(w.string(n)?);
        }
        w.array(&objs)
    }

    /// The scheduler with its empty process lists and the active process,
    /// suspended at the start of `SmalltalkImage>>#start`.
    fn startup_process(&self, w: &mut Writer, start: Oop, receiver: Oop) -> Result<Oop> {
        let nil = w.nil();
        let list_class = self.required(&["ProcessList", "LinkedList"]);
        let mut lists = Vec::with_capacity(PROCESS_PRIORITIES);
        for _ in 0..PROCESS_PRIORITIES {
            lists.push(w.instance(list_class, 0)?);
        }
        let lists = w.array(&lists)?;
        let header = MethodHeader::from_oop(w.heap.slot(start, 0)).expect("built methods have headers");
        let frame = if header.large_frame() {
            context::LARGE_FRAME_SLOTS
        } else {
            context::SMALL_FRAME_SLOTS
        };
        let ctx = w.instance(self.required(&["Context", "MethodContext"]), frame)?;
        let prim_skip = if header.has_primitive() { 3 } else { 0 };
        let pc = header.initial_pc() + 1 + prim_skip;
        w.heap.set_slot(ctx, context::SENDER, nil);
        w.heap.set_slot(ctx, context::PC, Oop::small_int(pc as i64));
        w.heap.set_slot(
            ctx,
            context::STACK_POINTER,
            Oop::small_int(header.num_temps() as i64),
        );
        w.heap.set_slot(ctx, context::METHOD, start);
        w.heap.set_slot(ctx, context::CLOSURE_OR_NIL, nil);
        w.heap.set_slot(ctx, context::RECEIVER, receiver);
        let proc = w.instance(self.required(&["Process"]), 0)?;
        w.heap.set_slot(proc, process::SUSPENDED_CONTEXT, ctx);
        w.heap
            .set_slot(proc, process::PRIORITY, Oop::small_int(START_PRIORITY));
        let sched = w.instance(self.required(&["ProcessorScheduler"]), 0)?;
        w.heap.set_slot(sched, scheduler::PROCESS_LISTS, lists);
        w.heap.set_slot(sched, scheduler::ACTIVE_PROCESS, proc);
        Ok(sched)
    }

    fn special_objects(&self, w: &mut Writer, processor: Oop, smalltalk: Oop) -> Result<Oop> {
        let soa = w.instance(self.required(&["Array"]), SPECIAL_OBJECTS_SLOTS)?;
        let (nil, f, t) = (w.nil(), w.heap.false_obj(), w.heap.true_obj());
        let set = |w: &mut Writer, i: usize, v: Oop| w.heap.set_slot(soa, i, v);
        set(w, so::NIL, nil);
        set(w, so::FALSE, f);
        set(w, so::TRUE, t);
        set(w, so::SCHEDULER_ASSOCIATION, processor);
        set(w, so::SMALLTALK_DICTIONARY, smalltalk);
        for (i, names) in SPECIAL_CLASSES {
            if let Some(c) = self.class(names) {
                set(w, *i, c);
            }
        }
        for (i, sel) in SPECIAL_SELECTOR_OBJECTS {
            let s = w.symbol(sel)?;
            set(w, *i, s);
        }
        let mut pairs = Vec::with_capacity(2 * SPECIAL_SELECTORS.len());
        for (sel, args) in SPECIAL_SELECTORS {
            pairs.push(w.symbol(sel)?);
            pairs.push(Oop::small_int(args as i64));
        }
        let specials = w.array(&pairs)?;
        set(w, so::SPECIAL_SELECTORS, specials);
        let mut errors = vec![nil];
        for e in PRIM_ERRORS {
            errors.push(w.symbol(e)?);
        }
        let errors = w.array(&errors)?;
        set(w, so::PRIM_ERR_TABLE, errors);
        let compact = w.array(&[])?;
        set(w, so::COMPACT_CLASSES, compact);
        let external = w.array(&[])?;
        set(w, so::EXTERNAL_OBJECTS_ARRAY, external);
        Ok(soa)
    }

    /// `Symbol`'s class variable `SymbolTable`, if declared: every symbol,
    /// sorted by bytes. Made last so that it holds them all.
    fn symbol_table(&self, w: &mut Writer) -> Result<()> {
        for name in ["Symbol", "ByteSymbol"] {
            if let Some(&i) = self.plan.by_name.get(name) {
                if let Some(&assoc) = self.pools[i].get("SymbolTable") {
                    let all = w.sorted_symbols();
                    let table = w.array(&all)?;
                    w.heap.set_slot(assoc, 1, table);
                }
            }
        }
        Ok(())
    }
}

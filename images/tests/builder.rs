//! Building images from Smalltalk sources and filing sources into images.

// In a module so that `cargo test -p images builder` selects these tests.
mod builder {
    use gc::method::{BytecodeSet, MethodHeader};
    use gc::specials::{association, class, method_dict, so};
    use gc::{Heap, Oop, VerifyOptions};
    use images::builder::{build_image, file_in, BuildOptions};
    use images::compiler::{self, ClassContext, CompileOptions};
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    /// A fresh empty folder under the system temp dir.
    fn temp_dir(tag: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "sprocket-builder-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn class_def(name: &str, superclass: &str, extra: &str) -> String {
        format!(
        "Class {{\n\t#name : #{name},\n\t#superclass : #{superclass},{extra}\n\t#category : #Kernel\n}}\n"
    )
    }

    /// A tiny kernel: just enough classes for an image, and a start method
    /// that exercises literals, blocks, globals and class variables.
    fn kernel() -> Vec<(String, String)> {
        let c =
            |name: &str, sup: &str, extra: &str| (format!("{name}.class.st"), class_def(name, sup, extra));
        let mut files = vec![
        (
            "Object.class.st".to_string(),
            "Class {\n\t#name : #Object,\n\t#superclass : nil,\n\t#category : #Kernel\n}\n\n\
             { #category : #accessing }\nObject >> yourself [\n\t^self\n]\n\n\
             Object class >> new [\n\t<primitive: 70>\n\t^nil\n]\n"
                .to_string(),
        ),
        c("Behavior", "Object", "\n\t#instVars : [ 'superclass', 'methodDict', 'format' ],"),
        c("ClassDescription", "Behavior", "\n\t#instVars : [ 'instanceVariables', 'organization' ],"),
        c(
            "Class",
            "ClassDescription",
            "\n\t#instVars : [ 'subclasses', 'name', 'classPool', 'sharedPools', 'environment', 'category' ],",
        ),
        c("Metaclass", "ClassDescription", "\n\t#instVars : [ 'thisClass' ],"),
        c("UndefinedObject", "Object", ""),
        c("Boolean", "Object", ""),
        c("True", "Boolean", ""),
        c("False", "Boolean", ""),
        c("Magnitude", "Object", ""),
        c("Character", "Magnitude", "\n\t#type : #immediate,"),
        c("Number", "Magnitude", ""),
        c("Integer", "Number", ""),
        c("SmallInteger", "Integer", "\n\t#type : #immediate,"),
        c("LargePositiveInteger", "Integer", "\n\t#type : #bytes,"),
        c("LargeNegativeInteger", "LargePositiveInteger", "\n\t#type : #bytes,"),
        c("Float", "Number", ""),
        c("BoxedFloat64", "Float", "\n\t#type : #words,"),
        c("SmallFloat64", "Float", "\n\t#type : #immediate,"),
        c("Collection", "Object", ""),
        c("ArrayedCollection", "Collection", ""),
        c("Array", "ArrayedCollection", "\n\t#type : #variable,"),
        c("String", "ArrayedCollection", ""),
        c("ByteString", "String", "\n\t#type : #bytes,"),
        c("Symbol", "String", "\n\t#classVars : [ 'SymbolTable' ],"),
        c("ByteSymbol", "Symbol", "\n\t#type : #bytes,"),
        c("ByteArray", "ArrayedCollection", "\n\t#type : #bytes,"),
        c("CompiledCode", "ByteArray", "\n\t#type : #compiledMethod,"),
        c("CompiledMethod", "CompiledCode", "\n\t#type : #compiledMethod,"),
        c("CompiledBlock", "CompiledCode", "\n\t#type : #compiledMethod,"),
        c("LookupKey", "Magnitude", "\n\t#instVars : [ 'key' ],"),
        c("Association", "LookupKey", "\n\t#instVars : [ 'value' ],"),
        c("HashedCollection", "Collection", "\n\t#instVars : [ 'tally', 'array' ],"),
        c("Dictionary", "HashedCollection", ""),
        c("SystemDictionary", "Dictionary", ""),
        c("MethodDictionary", "Dictionary", "\n\t#type : #variable,"),
        c("Link", "Object", "\n\t#instVars : [ 'nextLink' ],"),
        c(
            "Process",
            "Link",
            "\n\t#instVars : [ 'suspendedContext', 'priority', 'myList', 'name' ],",
        ),
        c("LinkedList", "Collection", "\n\t#instVars : [ 'firstLink', 'lastLink' ],"),
        c("Semaphore", "LinkedList", "\n\t#instVars : [ 'excessSignals' ],"),
        c("ProcessorScheduler", "Object", "\n\t#instVars : [ 'quiescentProcessLists', 'activeProcess' ],"),
        c(
            "Context",
            "Object",
            "\n\t#instVars : [ 'sender', 'pc', 'stackp', 'method', 'closureOrNil', 'receiver' ],\n\t#type : #variable,",
        ),
        c("BlockClosure", "Object", "\n\t#instVars : [ 'outerContext', 'startpc', 'numArgs' ],\n\t#type : #variable,"),
        c(
            "FullBlockClosure",
            "BlockClosure",
            "\n\t#instVars : [ 'receiver' ],\n\t#type : #variable,",
        ),
        c("Message", "Object", "\n\t#instVars : [ 'selector', 'args', 'lookupClass' ],"),
        c("Point", "Object", "\n\t#instVars : [ 'x', 'y' ],"),
        (
            "SmalltalkImage.class.st".to_string(),
            class_def(
                "SmalltalkImage",
                "Object",
                "\n\t#instVars : [ 'globals' ],\n\t#classVars : [ 'Counter' ],\n\t#classInstVars : [ 'default' ],",
            ) + START_METHODS,
        ),
    ];
        files.push((
        "extensions/Integer.extension.st".to_string(),
        "Extension { #name : #Integer }\n\n{ #category : #arithmetic }\nInteger >> double [\n\t^self + self\n]\n"
            .to_string(),
    ));
        files
    }

    const START_SOURCE: &str = "start\n\t| x blk |\n\tx := 3 + 4.\n\tCounter := x.\n\tblk := [:a | a + x].\n\tTranscript show: 'hello'.\n\t^#(1 $a 'str' #sym 2.5 1.0e300 100000000000000000000000 -100000000000000000000000 #[1 2 3]) size + (blk value: 1) + 12 double";

    const START_METHODS: &str = "\n{ #category : #running }\nSmalltalkImage >> start [\n\t| x blk |\n\tx := 3 + 4.\n\tCounter := x.\n\tblk := [:a | a + x].\n\tTranscript show: 'hello'.\n\t^#(1 $a 'str' #sym 2.5 1.0e300 100000000000000000000000 -100000000000000000000000 #[1 2 3]) size + (blk value: 1) + 12 double\n]\n\n{ #category : #accessing }\nSmalltalkImage >> globals [\n\t^globals\n]\n\nSmalltalkImage class >> default [\n\t^default ifNil: [default := self new]\n]\n";

    fn kernel_classes() -> usize {
        kernel().iter().filter(|(n, _)| n.ends_with(".class.st")).count()
    }

    fn write_files(dir: &Path, files: &[(String, String)]) {
        for (name, text) in files {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    }

    fn kernel_dir() -> PathBuf {
        let d = temp_dir("kernel");
        write_files(&d, &kernel());
        d
    }

    fn opts(set: BytecodeSet) -> BuildOptions {
        BuildOptions { bytecode_set: set }
    }

    fn assert_clean(heap: &Heap) {
        let findings = gc::verify(
            heap,
            VerifyOptions {
                allow_forwarders: false,
                max_findings: 20,
                ..VerifyOptions::default()
            },
        );
        assert!(findings.is_empty(), "verifier findings: {findings:#?}");
    }

    /// The class named `name` (scanning the class table).
    fn find_class(heap: &Heap, name: &str) -> Oop {
        (0..2048)
            .filter_map(|i| heap.class_at_index(i))
            .find(|&c| heap.is_class(c) && heap.class_name(c).as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no class {name}"))
    }

    /// Method lookup through the superclass chain, as the VM does it.
    fn lookup(heap: &Heap, mut cls: Oop, selector: &str) -> Option<Oop> {
        while cls != heap.nil() {
            let md = heap.slot(cls, class::METHOD_DICT);
            let cap = heap.num_slots(md) - method_dict::FIRST_SELECTOR;
            let values = heap.slot(md, method_dict::VALUES);
            for i in 0..cap {
                let k = heap.slot(md, method_dict::FIRST_SELECTOR + i);
                if k != heap.nil() && heap.string_of(k).as_deref() == Some(selector) {
                    // The slot must also be where hashing finds it.
                    let h = heap.header(k).hash() as usize;
                    let mut j = h % cap;
                    while heap.slot(md, method_dict::FIRST_SELECTOR + j) != k {
                        assert_ne!(
                            heap.slot(md, method_dict::FIRST_SELECTOR + j),
                            heap.nil(),
                            "{selector} not reachable by hash"
                        );
                        j = (j + 1) % cap;
                    }
                    return Some(heap.slot(values, i));
                }
            }
            cls = heap.slot(cls, class::SUPERCLASS);
        }
        None
    }

    fn method_bytecodes(heap: &Heap, m: Oop, trailer: usize) -> Vec<u8> {
        let h = MethodHeader::from_oop(heap.slot(m, 0)).unwrap();
        let bytes = heap.bytes(m);
        bytes[h.initial_pc()..bytes.len() - trailer].to_vec()
    }

    fn build_and_reload(set: BytecodeSet) -> (images::LoadedImage, Vec<u8>) {
        let dir = kernel_dir();
        let built = build_image(&[&dir], &opts(set)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(built.report.undeclared, vec!["Transcript".to_string()]);
        assert_clean(&built.heap);
        let path = dir.join("built.image");
        images::save_image(&path, &built.heap, &built.header).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes, images::image_bytes(&built.heap, &built.header));
        let img = images::load_image(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        (img, bytes)
    }

    fn check_built(set: BytecodeSet) {
        let (img, _) = build_and_reload(set);
        let heap = &img.heap;
        assert_clean(heap);
        assert_eq!(
            img.header.format,
            if set == BytecodeSet::SistaV1 { 68533 } else { 68021 }
        );
        assert_eq!(
            (
                img.header.header_size,
                img.header.flags,
                img.header.num_stack_pages
            ),
            (128, 2, 8)
        );

        // The first five objects, by position.
        let first: Vec<Oop> = heap.objects().take(6).collect();
        let r = *heap.roots();
        assert_eq!(
            &first[..5],
            &[r.nil, r.false_obj, r.true_obj, r.free_lists, r.hidden_roots]
        );
        assert_eq!(
            heap.class_name(heap.class_of(r.nil)).as_deref(),
            Some("UndefinedObject")
        );
        assert_eq!(
            heap.class_name(heap.class_of(r.true_obj)).as_deref(),
            Some("True")
        );
        assert_eq!(
            heap.class_name(heap.class_of(r.false_obj)).as_deref(),
            Some("False")
        );
        let fl = heap.header(r.free_lists);
        assert_eq!(
            (heap.num_slots(r.free_lists), fl.format(), fl.class_index()),
            (64, 9, 19)
        );
        assert!(heap.body(r.free_lists).iter().all(|&b| b == 0));
        let hr = heap.header(r.hidden_roots);
        assert_eq!(
            (heap.num_slots(r.hidden_roots), hr.format(), hr.class_index()),
            (4104, 2, 16)
        );
        let page0 = heap.slot(r.hidden_roots, 0);
        assert_eq!(first[5], page0, "class-table page 0 follows the hidden roots");
        let rs = heap.slot(r.hidden_roots, 4099);
        let rsh = heap.header(rs);
        assert!(rsh.is_pinned());
        assert_eq!(
            (heap.num_slots(rs), rsh.format(), rsh.class_index()),
            (1024, 9, 19)
        );
        for i in (4096..4104).filter(|&i| i != 4099) {
            assert_eq!(heap.slot(r.hidden_roots, i), r.nil);
        }

        // Class table: fixed indices, and hash == index everywhere else.
        let named = |i: u32| heap.class_at_index(i).and_then(|c| heap.class_name(c));
        assert_eq!(named(1).as_deref(), Some("SmallInteger"));
        assert_eq!(named(3).as_deref(), Some("SmallInteger"));
        assert_eq!(named(2).as_deref(), Some("Character"));
        assert_eq!(named(4).as_deref(), Some("SmallFloat64"));
        assert_eq!(named(16).as_deref(), Some("Array"));
        assert_eq!(named(51).as_deref(), Some("Array"));
        assert_eq!(named(52).as_deref(), Some("ByteString"));
        assert_eq!(named(34).as_deref(), Some("BoxedFloat64"));
        assert_eq!(named(36).as_deref(), Some("Context"));
        // Cog's machine code instantiates Point (for `@`) at index 54.
        assert_eq!(named(50).as_deref(), Some("ByteArray"));
        assert_eq!(named(54).as_deref(), Some("Point"));
        let mut classes = 0;
        for i in 0..1024u32 {
            if let Some(c) = heap.class_at_index(i) {
                if ![3, 16].contains(&i) {
                    assert_eq!(heap.header(c).hash(), i, "class {:?} at {i}", heap.class_name(c));
                    classes += 1;
                }
            }
        }
        assert_eq!(
            classes,
            2 * kernel_classes(),
            "every class and metaclass is in the table"
        );
        for (i, name) in [
            (so::CLASS_ARRAY, "Array"),
            (so::CLASS_BYTE_STRING, "ByteString"),
            (so::CLASS_COMPILED_METHOD, "CompiledMethod"),
            (so::CLASS_METHOD_CONTEXT, "Context"),
            (so::CLASS_FLOAT, "BoxedFloat64"),
            (so::CLASS_LARGE_NEGATIVE_INTEGER, "LargeNegativeInteger"),
        ] {
            assert_eq!(heap.class_name(heap.special(i)).as_deref(), Some(name));
        }
        assert_eq!(
            heap.string_of(heap.special(so::SELECTOR_DOES_NOT_UNDERSTAND))
                .as_deref(),
            Some("doesNotUnderstand:")
        );
        let specials = heap.special(so::SPECIAL_SELECTORS);
        assert_eq!(heap.num_slots(specials), 64);
        assert_eq!(
            heap.string_of(heap.slot(specials, 34)).as_deref(),
            Some("at:put:")
        );
        assert_eq!(heap.slot(specials, 35), Oop::small_int(2));

        // Class layout: name at slot 6, metaclass thisClass, format.
        let st = find_class(heap, "SmalltalkImage");
        assert_eq!(
            heap.string_of(heap.slot(st, 6)).as_deref(),
            Some("SmalltalkImage")
        );
        let meta = heap.class_of(st);
        assert_eq!(heap.slot(meta, 5), st);
        assert_eq!(heap.class_format(st), Some((1, 1)));
        let array = find_class(heap, "Array");
        assert_eq!(heap.class_format(array), Some((2, 0)));
        assert_eq!(heap.class_format(find_class(heap, "Context")), Some((3, 6)));
        assert_eq!(
            heap.class_format(find_class(heap, "CompiledMethod")),
            Some((24, 0))
        );
        assert_eq!(heap.slot(meta, 0), heap.class_of(find_class(heap, "Object")));
        // Class-side instance variable: one more slot than Class has.
        assert_eq!(heap.num_slots(st), 12);

        // The start method: header, literal frame, bytecodes.
        let start = lookup(heap, st, "start").expect("start is installed");
        let h = MethodHeader::from_oop(heap.slot(start, 0)).unwrap();
        assert_eq!(h.bytecode_set(), set);
        let n = h.num_literals();
        let sel = heap.slot(start, n - 1);
        assert_eq!(heap.string_of(sel).as_deref(), Some("start"));
        assert_eq!(heap.class_name(heap.class_of(sel)).as_deref(), Some("ByteSymbol"));
        let binding = heap.slot(start, n);
        assert_eq!(heap.slot(binding, association::VALUE), st);
        assert_eq!(
            heap.string_of(heap.slot(binding, association::KEY)).as_deref(),
            Some("SmalltalkImage")
        );
        let cset = match set {
            BytecodeSet::SistaV1 => compiler::BytecodeSet::SistaV1,
            BytecodeSet::V3PlusClosures => compiler::BytecodeSet::V3PlusClosures,
        };
        let ctx = ClassContext {
            class_name: "SmalltalkImage".into(),
            class_side: false,
            inst_vars: vec!["globals".into()],
        };
        let spec = compiler::compile_method(
            START_SOURCE,
            &ctx,
            &CompileOptions {
                bytecode_set: cset,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(spec.header_word(), h.0);
        let code = method_bytecodes(heap, start, 4);
        assert_eq!(code, spec.bytecodes);
        let listing = compiler::disasm::disassemble_bytes(&code, cset, &spec.literals).unwrap();
        assert_eq!(listing, compiler::disassemble(&spec).unwrap());
        // Literals point at the right objects.
        let lits: Vec<Oop> = (1..=n).map(|i| heap.slot(start, i)).collect();
        let has_string = |s: &str| {
            lits.iter()
                .any(|&o| o.is_object() && heap.string_of(o).as_deref() == Some(s))
        };
        assert!(has_string("hello"));
        assert!(has_string("show:"));
        let binding_of = |name: &str| {
            lits.iter().copied().find(|&o| {
                o.is_object()
                    && heap.format(o) == 1
                    && heap.string_of(heap.slot(o, 0)).as_deref() == Some(name)
            })
        };
        let transcript = binding_of("Transcript").expect("undeclared global binding");
        assert_eq!(heap.slot(transcript, 1), heap.nil());
        let counter = binding_of("Counter").expect("class variable binding");
        // The class pool holds the same Association.
        let pool = heap.slot(st, 7);
        let parray = heap.slot(pool, 1);
        assert!((0..heap.num_slots(parray)).any(|i| heap.slot(parray, i) == counter));
        let arr = lits
            .iter()
            .copied()
            .find(|&o| o.is_object() && heap.class_of(o) == array)
            .expect("literal array");
        let items: Vec<Oop> = (0..heap.num_slots(arr)).map(|i| heap.slot(arr, i)).collect();
        assert_eq!(items[0], Oop::small_int(1));
        assert_eq!(items[1], Oop::character('a' as u32));
        assert_eq!(heap.string_of(items[2]).as_deref(), Some("str"));
        assert_eq!(items[4], Oop::try_small_float(2.5).unwrap());
        assert_eq!(
            heap.class_name(heap.class_of(items[5])).as_deref(),
            Some("BoxedFloat64")
        );
        assert_eq!(
            f64::from_le_bytes(heap.bytes(items[5]).try_into().unwrap()),
            1e300
        );
        assert_eq!(
            heap.class_name(heap.class_of(items[6])).as_deref(),
            Some("LargePositiveInteger")
        );
        assert_eq!(
            heap.class_name(heap.class_of(items[7])).as_deref(),
            Some("LargeNegativeInteger")
        );
        assert_eq!(heap.bytes(items[8]), &[1, 2, 3]);
        if set == BytecodeSet::SistaV1 {
            let block = lits
                .iter()
                .copied()
                .find(|&o| {
                    o.is_object() && heap.class_name(heap.class_of(o)).as_deref() == Some("CompiledBlock")
                })
                .expect("compiled block literal");
            let bh = MethodHeader::from_oop(heap.slot(block, 0)).unwrap();
            assert_eq!(heap.slot(block, bh.num_literals()), start, "outer code");
        }
        assert!(lookup(heap, find_class(heap, "SmallInteger"), "double").is_some());
        assert!(lookup(heap, heap.class_of(st), "default").is_some());
        assert!(lookup(heap, heap.class_of(st), "new").is_some());

        // Globals: Smalltalk at: #Foo, by identity hash.
        let smalltalk = heap.special(so::SMALLTALK_DICTIONARY);
        assert_eq!(heap.class_of(smalltalk), st);
        let globals = heap.slot(smalltalk, 0);
        assert_eq!(
            heap.class_name(heap.class_of(globals)).as_deref(),
            Some("SystemDictionary")
        );
        let garray = heap.slot(globals, 1);
        let cap = heap.num_slots(garray);
        assert!(cap.is_power_of_two());
        let mut count = 0;
        for i in 0..cap {
            let a = heap.slot(garray, i);
            if a == heap.nil() {
                continue;
            }
            count += 1;
            let key = heap.slot(a, 0);
            let mut j = heap.header(key).hash() as usize % cap;
            while heap.slot(garray, j) != a {
                assert_ne!(heap.slot(garray, j), heap.nil());
                j = (j + 1) % cap;
            }
        }
        assert_eq!(heap.slot(globals, 0), Oop::small_int(count));
        assert_eq!(
            count as usize,
            kernel_classes() + 3,
            "classes, Smalltalk, Processor, Transcript"
        );

        // Symbol table: sorted, complete.
        let sym_class = find_class(heap, "Symbol");
        let spool = heap.slot(heap.slot(sym_class, 7), 1);
        let table = (0..heap.num_slots(spool))
            .map(|i| heap.slot(spool, i))
            .find(|&a| a != heap.nil())
            .map(|a| heap.slot(a, 1))
            .unwrap();
        let names: Vec<Vec<u8>> = (0..heap.num_slots(table))
            .map(|i| heap.bytes(heap.slot(table, i)).to_vec())
            .collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]));
        let bytesym = find_class(heap, "ByteSymbol");
        let all_symbols = heap.objects().filter(|&o| heap.class_of(o) == bytesym).count();
        assert_eq!(all_symbols, names.len());

        // Start-up process.
        let sched = heap.slot(heap.special(so::SCHEDULER_ASSOCIATION), 1);
        assert_eq!(heap.num_slots(heap.slot(sched, 0)), 80);
        let proc = heap.slot(sched, 1);
        assert_eq!(heap.slot(proc, 2), Oop::small_int(40));
        let ctx = heap.slot(proc, 1);
        assert_eq!(heap.slot(ctx, 3), start);
        assert_eq!(heap.slot(ctx, 5), smalltalk);
        assert_eq!(heap.slot(ctx, 1), Oop::small_int(((n + 1) * 8 + 1) as i64));
        assert_eq!(heap.slot(ctx, 2), Oop::small_int(h.num_temps() as i64));
        assert_eq!(heap.num_slots(ctx), if h.large_frame() { 62 } else { 22 });
    }

    #[test]
    fn builds_a_sista_image() {
        check_built(BytecodeSet::SistaV1);
    }

    #[test]
    fn builds_a_v3_image() {
        check_built(BytecodeSet::V3PlusClosures);
    }

    #[test]
    fn builds_are_reproducible() {
        let (_, saved) = build_and_reload(BytecodeSet::SistaV1);
        // Both heaps alive at once, so they are mapped at different addresses.
        let dir = kernel_dir();
        let a = build_image(&[&dir], &BuildOptions::default()).unwrap();
        let b = build_image(&[&dir], &BuildOptions::default()).unwrap();
        let (a, b) = (
            images::image_bytes(&a.heap, &a.header),
            images::image_bytes(&b.heap, &b.header),
        );
        assert!(a == b, "two builds differ");
        assert!(a == saved, "a build differs from an earlier one");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn source_errors_have_file_line_column() {
        let dir = kernel_dir();
        let bad = dir.join("Bad.class.st");
        std::fs::write(
            &bad,
            class_def("Bad", "Object", "") + "\nBad >> broken [\n\t^3 +\n]\n",
        )
        .unwrap();
        let e = build_image(&[&dir], &BuildOptions::default())
            .unwrap_err()
            .to_string();
        let prefix = format!("{}:", bad.display());
        assert!(e.starts_with(&prefix), "{e}");
        let rest = &e[prefix.len()..];
        let parts: Vec<&str> = rest.splitn(3, ':').collect();
        assert_eq!(parts[0], "9", "{e}");
        assert!(parts[1].parse::<usize>().is_ok(), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_superclass_and_start_are_named() {
        let dir = kernel_dir();
        std::fs::write(dir.join("Orphan.class.st"), class_def("Orphan", "Nowhere", "")).unwrap();
        let e = build_image(&[&dir], &BuildOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("superclass Nowhere of Orphan is not defined"), "{e}");
        assert!(e.contains("Orphan.class.st"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();

        let dir = temp_dir("nostart");
        let files: Vec<(String, String)> = kernel()
            .into_iter()
            .map(|(n, t)| {
                if n == "SmalltalkImage.class.st" {
                    (n, class_def("SmalltalkImage", "Object", ""))
                } else {
                    (n, t)
                }
            })
            .collect();
        write_files(&dir, &files);
        let e = build_image(&[&dir], &BuildOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("SmalltalkImage>>#start"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    const HEADLESS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/images/headless.image");

    const GREETER: &str = "Class {\n\t#name : #Greeter,\n\t#superclass : #Object,\n\t#instVars : [ 'greeting' ],\n\t#classVars : [ 'Default' ],\n\t#category : #Demo\n}\n\n\
Greeter >> greeting [\n\t^greeting ifNil: ['hello']\n]\n\n\
Greeter >> greeting: aString [\n\tgreeting := aString\n]\n\n\
Greeter class >> default [\n\t^Default ifNil: [Default := self new]\n]\n\n\
Greeter class >> arrayClass [\n\t^Array\n]\n";

    const TRIPLED: &str =
    "Extension { #name : #SmallInteger }\n\nSmallInteger >> tripled [\n\t^self * 3 + Greeter default greeting size\n]\n";

    #[test]
    fn files_in_to_the_headless_image() {
        let dir = temp_dir("filein");
        let copy = dir.join("headless.image");
        std::fs::copy(HEADLESS, &copy).unwrap();
        let src = dir.join("src");
        write_files(
            &src,
            &[
                ("Greeter.class.st".into(), GREETER.into()),
                ("SmallInteger.extension.st".into(), TRIPLED.into()),
            ],
        );
        let mut img = images::load_image(&copy).unwrap();
        let before = lookup(&img.heap, find_class(&img.heap, "SmallInteger"), "printString");
        let report = file_in(&mut img.heap, &[&src], &opts(BytecodeSet::V3PlusClosures))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.classes_created, vec!["Greeter".to_string()]);
        assert_eq!(report.methods_installed.len(), 5, "{report:?}");
        assert!(report.undeclared.is_empty(), "{report:?}");
        assert_clean(&img.heap);
        let out = dir.join("out.image");
        images::save_image(&out, &img.heap, &img.header).unwrap();

        let img = images::load_image(&out).unwrap();
        let heap = &img.heap;
        assert_clean(heap);
        let greeter = find_class(heap, "Greeter");
        let object = find_class(heap, "Object");
        assert_eq!(heap.slot(greeter, class::SUPERCLASS), object);
        assert_eq!(heap.class_format(greeter), Some((1, 1)));
        assert_eq!(
            heap.slot(heap.class_of(greeter), class::SUPERCLASS),
            heap.class_of(object)
        );
        let m = lookup(heap, greeter, "greeting:").expect("new class's method");
        let h = MethodHeader::from_oop(heap.slot(m, 0)).unwrap();
        assert_eq!((h.bytecode_set(), h.num_args()), (BytecodeSet::V3PlusClosures, 1));
        let binding = heap.slot(m, h.num_literals());
        assert_eq!(heap.slot(binding, association::VALUE), greeter);
        assert_eq!(
            heap.string_of(heap.slot(m, h.num_literals() - 1)).as_deref(),
            Some("greeting:")
        );
        let default = lookup(heap, heap.class_of(greeter), "default").expect("class-side method");
        let dh = MethodHeader::from_oop(heap.slot(default, 0)).unwrap();
        assert_eq!(
            heap.slot(heap.slot(default, dh.num_literals()), association::VALUE),
            heap.class_of(greeter)
        );
        let small = find_class(heap, "SmallInteger");
        let tripled = lookup(heap, small, "tripled").expect("extension method");
        let th = MethodHeader::from_oop(heap.slot(tripled, 0)).unwrap();
        // The extension's class binding is the one SmallInteger's methods share.
        let tb = heap.slot(tripled, th.num_literals());
        assert_eq!(heap.slot(tb, association::VALUE), small);
        assert!(lookup(heap, small, "printString").is_some() == before.is_some());
        // Greeter's binding in the extension is the one the class was made with.
        let gb = (1..th.num_literals())
            .map(|i| heap.slot(tripled, i))
            .find(|&o| o.is_object() && heap.format(o) == 1 && heap.slot(o, association::VALUE) == greeter)
            .expect("Greeter binding");
        assert_eq!(
            heap.string_of(heap.slot(gb, association::KEY)).as_deref(),
            Some("Greeter")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn files_in_to_a_built_image() {
        let dir = kernel_dir();
        let built = build_image(&[&dir], &BuildOptions::default()).unwrap();
        let mut heap = built.heap;
        let src = temp_dir("filein-built");
        write_files(
            &src,
            &[
                ("Greeter.class.st".into(), GREETER.into()),
                (
                    "SmallInteger.extension.st".into(),
                    TRIPLED.replace(" + Greeter default greeting size", " + Undefined1"),
                ),
            ],
        );
        let report = file_in(&mut heap, &[&src], &BuildOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(report.warnings.is_empty(), "{report:?}");
        assert_eq!(report.undeclared, vec!["Undefined1".to_string()]);
        assert_clean(&heap);
        let greeter = find_class(&heap, "Greeter");
        assert!(lookup(&heap, find_class(&heap, "SmallInteger"), "tripled").is_some());
        // Greeter is a global now: reachable by identity-hash probing.
        let globals = heap.slot(heap.special(so::SMALLTALK_DICTIONARY), 0);
        let array = heap.slot(globals, 1);
        let cap = heap.num_slots(array);
        let found = (0..cap)
            .map(|i| heap.slot(array, i))
            .any(|a| a != heap.nil() && heap.slot(a, 1) == greeter);
        assert!(found);
        // New symbols went into the sorted symbol table.
        let sym_class = find_class(&heap, "Symbol");
        let pool_array = heap.slot(heap.slot(sym_class, 7), 1);
        let assoc = (0..heap.num_slots(pool_array))
            .map(|i| heap.slot(pool_array, i))
            .find(|&a| a != heap.nil())
            .unwrap();
        let table = heap.slot(assoc, 1);
        let names: Vec<Vec<u8>> = (0..heap.num_slots(table))
            .map(|i| heap.bytes(heap.slot(table, i)).to_vec())
            .collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]));
        assert!(names.iter().any(|n| n == b"tripled"));
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&src).unwrap();
    }

    /// The real kernel (images/kernel), once it exists: it must build in both
    /// bytecode sets, verify clean and be reproducible.
    #[test]
    fn builds_the_kernel() {
        let kernel = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/kernel"));
        if !kernel.is_dir() {
            println!(
                "NOTICE: {} does not exist yet; skipping the kernel build",
                kernel.display()
            );
            return;
        }
        for set in [BytecodeSet::SistaV1, BytecodeSet::V3PlusClosures] {
            let t = Instant::now();
            let built = build_image(&[kernel], &opts(set)).unwrap_or_else(|e| panic!("{e}"));
            let elapsed = t.elapsed();
            let bytes = images::image_bytes(&built.heap, &built.header);
            println!(
            "kernel {set:?}: {} classes, {} methods, {} symbols, {} bytes, built in {elapsed:?}; undeclared {:?}; skipped {:?}",
            built.report.classes,
            built.report.methods,
            built.report.symbols,
            bytes.len(),
            built.report.undeclared,
            built.report.skipped_primitives
        );
            assert_clean(&built.heap);
            let img = images::load_image_bytes(&bytes).unwrap();
            assert_clean(&img.heap);
            let again = build_image(&[kernel], &opts(set)).unwrap();
            assert!(
                images::image_bytes(&again.heap, &again.header) == bytes,
                "kernel build is not reproducible"
            );
        }
    }
}

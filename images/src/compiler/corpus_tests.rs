//! Cross-module tests: exact bytecodes, corpus round trips through the disassembler, fuzzing.

use super::disasm::{disassemble, listing};
use super::*;

fn ctx() -> ClassContext {
    ClassContext {
        class_name: "Foo".into(),
        class_side: false,
        inst_vars: vec!["a".into(), "b".into()],
    }
}

fn compile(src: &str, set: BytecodeSet) -> CompiledMethodSpec {
    let opts = CompileOptions {
        bytecode_set: set,
        ..Default::default()
    };
    compile_method(src, &ctx(), &opts).unwrap_or_else(|e| panic!("{}: {}", src, e))
}

fn v3(src: &str) -> Vec<u8> {
    compile(src, BytecodeSet::V3PlusClosures).bytecodes
}

fn sista(src: &str) -> Vec<u8> {
    compile(src, BytecodeSet::SistaV1).bytecodes
}

// Expected bytes below were worked out by hand from the EncoderForSistaV1 and
// EncoderForV3PlusClosures tables (see sista.rs / v3.rs headers).

#[test]
fn exact_inst_var_plus_one() {
    assert_eq!(v3("foo ^ a + 1"), vec![0, 118, 176, 124]);
    assert_eq!(sista("foo ^ a + 1"), vec![0, 81, 96, 92]);
    let m = compile("foo ^ a + 1", BytecodeSet::V3PlusClosures);
    assert_eq!(
        m.literals,
        vec![Literal::Symbol("foo".into()), Literal::MethodClassBinding]
    );
    assert_eq!(m.header_word(), 2);
    let s = compile("foo ^ a + 1", BytecodeSet::SistaV1);
    assert_eq!(s.header_word(), 2 - (1i64 << 60));
    assert_eq!(s.header_word_for(4), 2 - (1i64 << 30));
}

#[test]
fn exact_args_and_sends() {
    assert_eq!(v3("a: x ^ x + 1"), vec![16, 118, 176, 124]);
    assert_eq!(sista("a: x ^ x + 1"), vec![64, 81, 96, 92]);
    let m = compile("a: x ^ x + 1", BytecodeSet::V3PlusClosures);
    assert_eq!(m.header_word(), 2 | (1 << 18) | (1 << 24));
    assert_eq!(v3("foo ^ self bar: 3"), vec![112, 32, 225, 124]);
    assert_eq!(sista("foo ^ self bar: 3"), vec![76, 232, 3, 144, 92]);
    assert_eq!(v3("foo ^ thisContext"), vec![137, 124]);
    assert_eq!(sista("foo ^ thisContext"), vec![82, 92]);
    assert_eq!(v3("foo ^ {1. 2}"), vec![118, 119, 138, 130, 124]);
    assert_eq!(sista("foo ^ {1. 2}"), vec![81, 232, 2, 231, 130, 92]);
}

#[test]
fn exact_super_and_cascade() {
    assert_eq!(v3("foo ^ super foo"), vec![112, 133, 0, 124]);
    assert_eq!(sista("foo ^ super foo"), vec![76, 17, 225, 64, 235, 0, 92]);
    let src = "foo ^ OrderedCollection new add: 1; add: 2; yourself";
    assert_eq!(
        v3(src),
        vec![64, 204, 136, 118, 225, 135, 136, 119, 225, 135, 210, 124]
    );
    assert_eq!(
        sista(src),
        vec![16, 124, 83, 81, 145, 216, 83, 232, 2, 145, 216, 130, 92]
    );
}

#[test]
fn exact_conditionals() {
    assert_eq!(v3("foo: x x ifTrue: [^1]. ^2"), vec![16, 153, 118, 124, 119, 124]);
    assert_eq!(
        sista("foo: x x ifTrue: [^1]. ^2"),
        vec![64, 193, 81, 92, 232, 2, 92]
    );
    assert_eq!(
        v3("foo: x ^ x ifNil: [0]"),
        vec![16, 136, 115, 198, 153, 135, 117, 124]
    );
    assert_eq!(
        sista("foo: x ^ x ifNil: [0]"),
        vec![64, 83, 79, 118, 193, 216, 80, 92]
    );
    assert_eq!(
        v3("foo: x ^ x > 0 and: [x < 5]"),
        vec![16, 117, 179, 155, 16, 32, 178, 144, 114, 124]
    );
    assert_eq!(
        sista("foo: x ^ x > 0 and: [x < 5]"),
        vec![64, 80, 99, 196, 64, 232, 5, 98, 176, 78, 92]
    );
}

#[test]
fn exact_loops() {
    let w = "foo | i | i := 0. [i < 10] whileTrue: [i := i + 1]. ^ i";
    assert_eq!(
        v3(w),
        vec![117, 104, 16, 32, 178, 157, 16, 118, 176, 104, 163, 246, 16, 124]
    );
    assert_eq!(
        sista(w),
        vec![80, 208, 64, 232, 10, 98, 199, 64, 81, 96, 208, 225, 255, 237, 243, 64, 92]
    );
    let t = "foo | s | s := 0. 1 to: 10 do: [:i | s := s + i]. ^ s";
    assert_eq!(
        v3(t),
        vec![
            117, 104, 118, 105, 17, 32, 180, 172, 10, 16, 17, 176, 104, 17, 118, 176, 105, 163, 241, 16, 124
        ]
    );
    assert_eq!(compile(t, BytecodeSet::V3PlusClosures).num_temps, 2);
}

#[test]
fn blocks_that_need_their_outer_context_keep_it() {
    // A home return, one in a nested block, one in an inlined block, and
    // thisContext need the outer context: no ignoreOuterContext bit.
    for src in [
        "foo ^ [:x | ^ x]",
        "foo ^ [[:x | ^ x]]",
        "foo ^ [:x | x ifTrue: [^ 1]. 2]",
        "foo ^ [thisContext]",
    ] {
        let s = compile(src, BytecodeSet::SistaV1);
        assert_eq!(s.bytecodes[..3], [249, 0, 0], "{src}");
    }
    // An inlined block's own return is not a block's: clean.
    let s = compile("foo ^ [:x | x ifTrue: [1] ifFalse: [2]]", BytecodeSet::SistaV1);
    assert_eq!(s.bytecodes[..3], [249, 0, 64]);
}

#[test]
fn exact_closures() {
    assert_eq!(v3("foo ^ [:x | x]"), vec![143, 1, 0, 2, 16, 125, 124]);
    let s = compile("foo ^ [:x | x]", BytecodeSet::SistaV1);
    // 64: ignoreOuterContext, as the block needs no outer context.
    assert_eq!(s.bytecodes, vec![249, 0, 64, 92]);
    let Literal::CompiledBlock(b) = &s.literals[0] else {
        panic!("block literal expected")
    };
    assert_eq!(b.bytecodes, vec![64, 94]);
    assert_eq!((b.num_args, b.num_temps, b.is_block), (1, 1, true));
    assert_eq!(b.literals, vec![Literal::OuterCode]);
    assert_eq!(v3("foo: y ^ [y]"), vec![16, 143, 16, 0, 2, 16, 125, 124]);
    // Temp written inside a block lives in a temp vector.
    let r = "foo | t | self bar: [t := 1]. ^ t";
    assert_eq!(
        v3(r),
        vec![138, 1, 104, 112, 16, 143, 16, 0, 5, 118, 141, 0, 0, 125, 224, 135, 140, 0, 0, 124]
    );
    let s = compile(r, BytecodeSet::SistaV1);
    assert_eq!(
        s.bytecodes,
        vec![231, 1, 208, 76, 64, 249, 0, 65, 145, 216, 251, 0, 0, 92]
    );
    let Literal::CompiledBlock(b) = &s.literals[0] else {
        panic!("block literal expected")
    };
    assert_eq!(b.bytecodes, vec![81, 252, 0, 0, 94]);
    assert_eq!((b.num_args, b.num_temps), (0, 1));
}

#[test]
fn exact_primitives() {
    assert_eq!(v3("foo <primitive: 60> ^ nil"), vec![139, 60, 0, 123]);
    assert_eq!(sista("foo <primitive: 60> ^ nil"), vec![248, 60, 0, 91]);
    let m = compile(
        "at: i <primitive: 60 error: ec> ^ ec",
        BytecodeSet::V3PlusClosures,
    );
    assert_eq!(m.bytecodes, vec![139, 60, 0, 129, 65, 17, 124]);
    assert_eq!((m.num_temps, m.primitive), (2, 60));
    assert_eq!(m.header_word() & (1 << 16), 1 << 16);
    assert_eq!(m.literals[0], Literal::AdditionalMethodState);
    assert_eq!(
        sista("at: i <primitive: 60 error: ec> ^ ec"),
        vec![248, 60, 0, 245, 1, 65, 92]
    );
    let n = compile("foo <primitive: 'prim' module: 'M'> ^ 0", BytecodeSet::SistaV1);
    assert_eq!(n.primitive, 117);
    assert_eq!(
        n.literals[0],
        Literal::Array(vec![
            Literal::Symbol("M".into()),
            Literal::Symbol("prim".into()),
            Literal::Integer(0),
            Literal::Integer(0)
        ])
    );
}

/// A corpus covering every construct; each must compile in both sets and disassemble cleanly.
pub const CORPUS: &[&str] = &[
    "unary ^ self",
    "+ other ^ a + other",
    "at: i put: v ^ b at: i put: v",
    "temps | x y | x := 3. y := x * 2. ^ x + y",
    "retTrue ^ true",
    "retFalse ^ false",
    "retNil ^ nil",
    "noReturn a := 3",
    "literals ^ #(1 $a #foo foo: (nested 2.5) true nil #(x) #[1 2] 'str' -3 16r1F)",
    "bytes ^ #[0 1 255]",
    "bigs ^ 123456789012345678901234567890 + -98765432109876543210 + 1e30",
    "floats ^ 1.5 + 1.5e-3 + 2r1.1 - 100 factorial",
    "scaled ^ 1.5s2 + 3s + 0.1s4",
    "chars ^ $a asInteger + $  asInteger + (Character value: 955)",
    "strings ^ 'it''s' , #'hello world' , #+ , #with:with:",
    "cascade ^ OrderedCollection new add: 1; add: 2 + 3; addAll: #(4 5); yourself",
    "brace: x ^ {x. x + 1. {x}. #sym}",
    "globals Transcript show: 'hi'; cr. Smalltalk at: #Foo put: 3. Foo := 4. ^ Foo",
    "instVars a := b. b := a + 1. ^ a -> b",
    "ifs: x ^ x ifTrue: ['yes'] ifFalse: ['no']",
    "ifs2: x x ifFalse: [^ 1]. x ifTrue: [a := 2]. ^ x ifFalse: [3]",
    "ifs3: x ^ (x ifFalse: [1] ifTrue: [2]) + (x ifTrue: [3])",
    "andOr: x ^ (x > 1 and: [x < 5]) or: [x = 10]",
    "andOrEffect: x (x > 1 and: [x < 5]) ifTrue: [a := 1]. x isNil or: [b := 2]",
    "whiles | i | i := 0. [i < 10] whileTrue: [i := i + 1]. [i <= 0] whileFalse: [i := i - 1]. ^ i",
    "whileUnary | i | i := 0. [i := i + 1. i < 10] whileTrue. [i := i - 1. i > 0] whileFalse. ^ [:x | x] value: i",
    "whileValue ^ [a := a + 1. a < 3] whileTrue: [b := a]",
    "repeat | i | i := 0. [i := i + 1. i > 5 ifTrue: [^ i]] repeat",
    "toDo | s | s := 0. 1 to: 10 do: [:i | s := s + i]. ^ s",
    "toByDo | s | s := 0. 10 to: 1 by: -2 do: [:i | s := s + i]. ^ s",
    "toDoLimitExpr | s | s := 0. 1 to: self size * 2 do: [:i | s := s + i]. ^ s",
    "toDoValue ^ 1 to: a do: [:i | b := i]",
    "toDoCaptured | blocks | blocks := OrderedCollection new. 1 to: 3 do: [:i | blocks add: [i]]. ^ blocks",
    "toDoNotInlined: blk ^ 1 to: 10 do: blk",
    "ifNils: x ^ (x ifNil: [0]) + (x ifNotNil: [:y | y + 1]) + (x ifNotNil: [1])",
    "ifNils2: x ^ (x ifNil: [0] ifNotNil: [:y | y]) + (x ifNotNil: [:y | y] ifNil: [1])",
    "ifNilsEffect: x x ifNil: [a := 1]. x ifNotNil: [:y | b := y]. x ifNil: [a := 0] ifNotNil: [:z | b := z]",
    "timesRepeat | n | n := 0. 3 timesRepeat: [n := n + 1]. ^ n",
    "blocks ^ [:x :y | | t | t := x + y. t * 2] value: 1 value: 2",
    "emptyBlock ^ [] value",
    "nonLocal: coll coll do: [:e | e > 3 ifTrue: [^ e]]. ^ nil",
    "nested: x ^ [:y | [:z | x + y + z]]",
    "remoteNested | count | count := 0. #(1 2) do: [:e | #(3 4) do: [:f | count := count + e + f]]. ^ count",
    "writeAfterCapture | t blk | t := 1. blk := [t]. t := 2. ^ blk value",
    "blockTemps ^ #(1 2 3) collect: [:e | | sq | sq := e * e. [sq] value]",
    "thisCtx ^ thisContext sender",
    "superSend: x ^ (super printString: x) , super printString",
    "specialSends: x ^ (x at: 1) + x size + (x at: 1 put: 2) + (x == x) class hash + (x ~~ nil) hash + x value",
    "manyArgs: a1 b: a2 c: a3 d: a4 ^ self manyArgs: a4 b: a3 c: a2 d: a1",
    "deep ^ (((((((1 + 2) * 3) - 4) / 5) // 6) \\\\ 7) bitAnd: 8) bitOr: 9",
    "pragma <foo: 1 bar: #baz> <qux> ^ 1",
    "prim <primitive: 1> ^ super prim",
    "primErr: i <primitive: 60 error: code> ^ code",
    "named <primitive: 'primFoo' module: 'FooPlugin'> ^ self primitiveFailed",
    "assignChain | x y | x := y := 3. ^ x + y",
    "negative ^ 3 - -4 + (2 - 1) - -16r1F",
    "keywordsInArray ^ #(at:put: foo:bar: #foo:bar: + - ^)",
];

fn check_lines(spec: &CompiledMethodSpec) {
    let lines = disassemble(spec).unwrap_or_else(|e| panic!("{}: {}\n{}", spec.selector, e, listing(spec)));
    let total: usize = lines.iter().map(|l| l.len).sum();
    assert_eq!(total, spec.bytecodes.len(), "{}", listing(spec));
    let starts: Vec<usize> = lines.iter().map(|l| l.pc).collect();
    for l in &lines {
        if let Some(t) = l.target {
            assert!(
                starts.contains(&t) || t == spec.bytecodes.len(),
                "{}: bad target {} at {}\n{}",
                spec.selector,
                t,
                l.pc,
                listing(spec)
            );
        }
    }
    let last = lines.last().expect("non-empty");
    assert!(
        last.text.starts_with("return")
            || last.text.starts_with("blockReturn")
            || last.text.starts_with("jumpTo"),
        "{} does not end in a return\n{}",
        spec.selector,
        listing(spec)
    );
    for l in &spec.literals {
        if let Literal::CompiledBlock(b) = l {
            check_lines(b);
        }
    }
}

#[test]
fn corpus_round_trip() {
    assert!(CORPUS.len() >= 50);
    for set in [BytecodeSet::SistaV1, BytecodeSet::V3PlusClosures] {
        for src in CORPUS {
            let m = compile(src, set);
            check_lines(&m);
            assert!(m.num_temps >= m.num_args);
        }
    }
    let opts = CompileOptions {
        bytecode_set: BytecodeSet::SistaV1,
        inline_times_repeat: true,
    };
    let tr = CORPUS.iter().find(|s| s.starts_with("timesRepeat")).unwrap();
    let m = compile_method(tr, &ctx(), &opts).unwrap();
    check_lines(&m);
    assert!(!listing(&m).contains("send: #timesRepeat:"));
}

#[test]
fn inlining_only_with_literal_blocks() {
    let m = compile("foo: x ^ x ifTrue: x", BytecodeSet::SistaV1);
    assert!(listing(&m).contains("send: #ifTrue:"));
    let m = compile("foo: x ^ x ifTrue: [:y | y]", BytecodeSet::SistaV1);
    assert!(listing(&m).contains("send: #ifTrue:"));
    let m = compile("foo: x ^ x ifTrue: [1]", BytecodeSet::SistaV1);
    assert!(!listing(&m).contains("ifTrue:"));
    let m = compile("foo ^ 3 timesRepeat: [a := 1]", BytecodeSet::V3PlusClosures);
    assert!(listing(&m).contains("send: #timesRepeat:"));
    // Limit variable assigned in the loop body: not inlined.
    let m = compile(
        "foo | n | n := 5. ^ 1 to: n do: [:i | n := 3]",
        BytecodeSet::V3PlusClosures,
    );
    assert!(listing(&m).contains("send: #to:do:"));
}

#[test]
fn closure_analysis() {
    // Read-only capture is a copied value, not a temp vector.
    let m = compile("foo | t | t := 1. ^ [t]", BytecodeSet::V3PlusClosures);
    assert!(!listing(&m).contains("Array new"));
    // Written after capture: temp vector.
    let m = compile(
        "writeAfterCapture | t blk | t := 1. blk := [t]. t := 2. ^ blk value",
        BytecodeSet::V3PlusClosures,
    );
    assert!(listing(&m).contains("inVectorAt"));
    // Loop variable captured inside the loop: temp vector (Squeak semantics).
    let m = compile(
        CORPUS.iter().find(|s| s.starts_with("toDoCaptured")).unwrap(),
        BytecodeSet::SistaV1,
    );
    assert!(listing(&m).contains("inVectorAt"));
}

#[test]
fn doit_and_semantic_errors() {
    let opts = CompileOptions::default();
    let m = compile_doit("| x | x := 3 + 4. x * 2", &ctx(), &opts).unwrap();
    assert_eq!(m.selector, "DoIt");
    assert_eq!(m.bytecodes.last(), Some(&92));
    let m = compile_doit("", &ctx(), &opts).unwrap();
    assert_eq!(m.bytecodes, vec![91]);
    let e = compile_method("foo: x x := 3", &ctx(), &opts).unwrap_err();
    assert_eq!((e.line, e.column), (1, 8));
    let e = compile_method("foo ^ [:x | x := 3]", &ctx(), &opts).unwrap_err();
    assert_eq!((e.line, e.column), (1, 13));
    let e = compile_method("foo | a a | ^ a", &ctx(), &opts).unwrap_err();
    assert_eq!((e.line, e.column), (1, 9));
}

#[test]
fn large_frame_flag() {
    let small = compile("foo ^ 1", BytecodeSet::SistaV1);
    assert!(!small.frame_size_large);
    let temps: Vec<String> = (0..17).map(|i| format!("t{}", i)).collect();
    let src = format!("foo | {} | ^ t0", temps.join(" "));
    assert!(compile(&src, BytecodeSet::SistaV1).frame_size_large);
    assert!(compile(&src, BytecodeSet::V3PlusClosures).frame_size_large);
    // Deep stack from a long brace array.
    let elems: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    let src = format!("foo ^ {{{}}}", elems.join(". "));
    assert!(compile(&src, BytecodeSet::V3PlusClosures).frame_size_large);
}

#[test]
fn literal_dedup_and_limits() {
    let m = compile(
        "foo ^ #(1 2) -> #(1 2) -> 'x' -> 'x' -> 1.5 -> 1.5",
        BytecodeSet::V3PlusClosures,
    );
    // #(1 2), 'x', 1.5, #->, selector, binding
    assert_eq!(m.literals.len(), 6);
    let many: Vec<String> = (0..300).map(|i| format!("self m{}", i)).collect();
    let src = format!("foo {}", many.join(". "));
    let s = compile(&src, BytecodeSet::SistaV1);
    check_lines(&s);
    let opts = CompileOptions {
        bytecode_set: BytecodeSet::V3PlusClosures,
        ..Default::default()
    };
    assert!(compile_method(&src, &ctx(), &opts).is_err());
}

/// Deterministic pseudo-random generator (no external crates).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn no_panic_on_garbage() {
    let mut rng = Lcg(42);
    let alphabet: Vec<char> = "abc xyz:=^[]().;|#$'\"{}<>-+*/\\,0123456789rRe.s_\n\t@%&?~!é"
        .chars()
        .collect();
    let opts_all = [
        CompileOptions::default(),
        CompileOptions {
            bytecode_set: BytecodeSet::V3PlusClosures,
            inline_times_repeat: true,
        },
    ];
    for round in 0..3000 {
        let len = (rng.next() % 60) as usize;
        let s: String = if round % 2 == 0 {
            (0..len)
                .map(|_| alphabet[(rng.next() as usize) % alphabet.len()])
                .collect()
        } else {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        for o in &opts_all {
            let _ = compile_method(&s, &ctx(), o);
            let _ = compile_doit(&s, &ctx(), o);
        }
        let _ = tonel::parse_tonel_class(&s);
        let _ = som::parse_som_class(&s);
    }
    // Every prefix of every corpus method, and corpus methods with a char deleted.
    for src in CORPUS {
        let chars: Vec<char> = src.chars().collect();
        for cut in 0..chars.len() {
            let prefix: String = chars[..cut].iter().collect();
            let mut holed = chars.clone();
            holed.remove(cut);
            let holed: String = holed.into_iter().collect();
            for o in &opts_all {
                let _ = compile_method(&prefix, &ctx(), o);
                let _ = compile_method(&holed, &ctx(), o);
                let _ = compile_doit(&holed, &ctx(), o);
            }
        }
    }
    // Deep but legal nesting compiles within the default 2 MB test-thread stack.
    let ok = "foo ^ ".to_string() + &"(".repeat(90) + "1" + &")".repeat(90);
    for o in &opts_all {
        compile_method(&ok, &ctx(), o).unwrap();
    }
    let ok = "foo ^ ".to_string() + &"[:x | x ifTrue: ".repeat(30) + "[1]" + &"]".repeat(30);
    for o in &opts_all {
        compile_method(&ok, &ctx(), o).unwrap();
    }
    let deep = "foo ^ ".to_string() + &"(".repeat(5000) + "1" + &")".repeat(5000);
    assert!(compile_method(&deep, &ctx(), &CompileOptions::default()).is_err());
    let deep = "foo ^ ".to_string() + &"[".repeat(5000);
    assert!(compile_method(&deep, &ctx(), &CompileOptions::default()).is_err());
    let deep = "foo ^ ".to_string() + &"#(".repeat(5000);
    assert!(compile_method(&deep, &ctx(), &CompileOptions::default()).is_err());
}

//! Making Smalltalk objects in a heap: strings, symbols, arrays,
//! Associations, dictionaries, method dictionaries and compiled methods.
//! Shared by the image builder and file-in.

use super::{BuildError, Result};
use crate::compiler::{BigInt, CompiledMethodSpec, Literal};
use gc::header::{format, WORD};
use gc::specials::{association, class, method_dict};
use gc::{Heap, Oop};
use std::collections::HashMap;

/// What ends every CompiledMethod: Squeak's empty 4-byte trailer (the
/// headless images end every method this way). CompiledBlocks have none.
pub(crate) const METHOD_TRAILER: [u8; 4] = [0; 4];

/// The classes the writer instantiates.
#[derive(Clone, Debug)]
pub(crate) struct Kit {
    pub array: Oop,
    pub byte_string: Oop,
    pub symbol: Oop,
    pub association: Oop,
    pub method_dict: Oop,
    pub compiled_method: Oop,
    pub compiled_block: Option<Oop>,
    pub large_positive: Option<Oop>,
    pub large_negative: Option<Oop>,
    pub boxed_float: Option<Oop>,
    pub byte_array: Option<Oop>,
    pub wide_string: Option<Oop>,
    /// For `1.5s2` literals: ScaledDecimal (fraction scale) and Fraction
    /// (numerator denominator).
    pub scaled_decimal: Option<Oop>,
    pub fraction: Option<Oop>,
    /// For methods with pragmas: AdditionalMethodState (method selector,
    /// then Pragmas) and Pragma (method keyword arguments).
    pub additional_state: Option<Oop>,
    pub pragma: Option<Oop>,
}

/// Where a method's non-local names and its class binding come from.
pub(crate) struct CodeEnv<'a> {
    pub class_binding: Oop,
    /// Binding literal name -> Association.
    pub bindings: &'a HashMap<String, Oop>,
    /// `Class>>selector`, for errors.
    pub what: String,
}

pub(crate) struct Writer<'h> {
    pub heap: &'h mut Heap,
    pub kit: Kit,
    symbols: HashMap<Vec<u8>, Oop>,
    /// Symbols this writer created, in creation order.
    pub new_symbols: Vec<Oop>,
}

/// Smallest power of two >= `n` and >= `min`.
pub(crate) fn pow2_at_least(n: usize, min: usize) -> usize {
    n.max(min).next_power_of_two()
}

/// Method dictionary capacity for `n` methods: at most 3/4 full.
pub(crate) fn method_dict_capacity(n: usize) -> usize {
    pow2_at_least((n * 4).div_ceil(3), 4)
}

/// Dictionary capacity for `n` Associations: at most half full.
pub(crate) fn dictionary_capacity(n: usize) -> usize {
    pow2_at_least(2 * n, 8)
}

fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(c as u32).ok()).collect()
}

impl<'h> Writer<'h> {
    pub fn new(heap: &'h mut Heap, kit: Kit, symbols: HashMap<Vec<u8>, Oop>) -> Writer<'h> {
        Writer {
            heap,
            kit,
            symbols,
            new_symbols: Vec::new(),
        }
    }

    pub fn nil(&self) -> Oop {
        self.heap.nil()
    }

    /// An instance of `class` (which must be in the class table at its
    /// identity hash): pointer fields nil, raw data zero.
    pub fn instance(&mut self, class: Oop, indexable: usize) -> Result<Oop> {
        let o = self.heap.instantiate(class, indexable)?;
        if self.heap.num_slots(o) == 0 {
            // The allocator fills the padding word of an empty object with
            // nil's address, which would make the file depend on where the
            // heap was mapped.
            let body = self.heap.slot_addr(o, 0);
            self.heap.set_u64_at(body, 0);
        }
        Ok(o)
    }

    pub fn array(&mut self, items: &[Oop]) -> Result<Oop> {
        let a = self.instance(self.kit.array, items.len())?;
        for (i, &v) in items.iter().enumerate() {
            self.heap.set_slot(a, i, v);
        }
        Ok(a)
    }

    /// A byte-indexable instance of `class` holding `data`.
    pub fn bytes(&mut self, class: Oop, data: &[u8]) -> Result<Oop> {
        let o = self.instance(class, data.len())?;
        self.heap.bytes_mut(o).copy_from_slice(data);
        Ok(o)
    }

    /// A ByteString, or a WideString when a character is beyond Latin-1.
    pub fn string(&mut self, s: &str) -> Result<Oop> {
        if let Some(b) = latin1(s) {
            return self.bytes(self.kit.byte_string, &b);
        }
        let class = self.kit.wide_string.ok_or_else(|| {
            BuildError::Kernel(format!(
                "string {s:?} needs class WideString, which is not defined"
            ))
        })?;
        let codes: Vec<u32> = s.chars().map(|c| c as u32).collect();
        let o = self.instance(class, codes.len())?;
        let data: Vec<u8> = codes.iter().flat_map(|c| c.to_le_bytes()).collect();
        self.heap.bytes_mut(o)[..data.len()].copy_from_slice(&data);
        Ok(o)
    }

    /// The unique Symbol for `s`, made if new.
    pub fn symbol(&mut self, s: &str) -> Result<Oop> {
        let b = latin1(s)
            .ok_or_else(|| BuildError::Kernel(format!("symbol #{s} has characters beyond Latin-1")))?;
        if let Some(&o) = self.symbols.get(&b) {
            return Ok(o);
        }
        let o = self.bytes(self.kit.symbol, &b)?;
        self.symbols.insert(b, o);
        self.new_symbols.push(o);
        Ok(o)
    }

    /// Every symbol known to the writer, sorted by bytes.
    pub fn sorted_symbols(&self) -> Vec<Oop> {
        let mut all: Vec<(&Vec<u8>, Oop)> = self.symbols.iter().map(|(k, &v)| (k, v)).collect();
        all.sort();
        all.into_iter().map(|(_, v)| v).collect()
    }

    pub fn association(&mut self, key: Oop, value: Oop) -> Result<Oop> {
        let a = self.instance(self.kit.association, 0)?;
        self.heap.set_slot(a, association::KEY, key);
        self.heap.set_slot(a, association::VALUE, value);
        Ok(a)
    }

    // ----- method dictionaries ---------------------------------------------

    /// A MethodDictionary with room for `n` methods.
    pub fn method_dict(&mut self, n: usize) -> Result<Oop> {
        let cap = method_dict_capacity(n);
        let md = self.instance(self.kit.method_dict, cap)?;
        let values = self.instance(self.kit.array, cap)?;
        self.heap.set_slot(md, method_dict::TALLY, Oop::small_int(0));
        self.heap.set_slot(md, method_dict::VALUES, values);
        Ok(md)
    }

    /// Installs `method` under `selector` in `class`'s method dictionary,
    /// replacing a method of the same selector and growing the dictionary
    /// (a new one, stored in the class) when it would be over 3/4 full.
    pub fn install_method(&mut self, class: Oop, selector: Oop, method: Oop) -> Result<()> {
        let nil = self.nil();
        let mut md = self.heap.slot(class, class::METHOD_DICT);
        if md == nil || !md.is_object() || self.heap.num_slots(md) <= method_dict::FIRST_SELECTOR {
            md = self.method_dict(1)?;
            self.heap.set_slot(class, class::METHOD_DICT, md);
        }
        let hash = self.heap.identity_hash(selector) as usize;
        if let Some(i) = self.md_find(md, selector, hash) {
            let values = self.heap.slot(md, method_dict::VALUES);
            self.heap.set_slot(values, i, method);
            return Ok(());
        }
        let tally = self.heap.slot(md, method_dict::TALLY).as_small_int().unwrap_or(0) as usize;
        let cap = self.heap.num_slots(md) - method_dict::FIRST_SELECTOR;
        if (tally + 1) * 4 > cap * 3 {
            md = self.grow_method_dict(md, tally + 1)?;
            self.heap.set_slot(class, class::METHOD_DICT, md);
        }
        self.md_insert(md, selector, hash, method);
        Ok(())
    }

    /// The index of `selector` in `md`, if present.
    fn md_find(&self, md: Oop, selector: Oop, hash: usize) -> Option<usize> {
        let nil = self.heap.nil();
        let cap = self.heap.num_slots(md) - method_dict::FIRST_SELECTOR;
        let mut i = hash % cap;
        for _ in 0..cap {
            let k = self.heap.slot(md, method_dict::FIRST_SELECTOR + i);
            if k == selector {
                return Some(i);
            }
            if k == nil {
                return None;
            }
            i = (i + 1) % cap;
        }
        None
    }

    fn md_insert(&mut self, md: Oop, selector: Oop, hash: usize, method: Oop) {
        let nil = self.nil();
        let cap = self.heap.num_slots(md) - method_dict::FIRST_SELECTOR;
        let mut i = hash % cap;
        while self.heap.slot(md, method_dict::FIRST_SELECTOR + i) != nil {
            i = (i + 1) % cap;
        }
        self.heap.set_slot(md, method_dict::FIRST_SELECTOR + i, selector);
        let values = self.heap.slot(md, method_dict::VALUES);
        self.heap.set_slot(values, i, method);
        let tally = self.heap.slot(md, method_dict::TALLY).as_small_int().unwrap_or(0);
        self.heap
            .set_slot(md, method_dict::TALLY, Oop::small_int(tally + 1));
    }

    fn grow_method_dict(&mut self, old: Oop, n: usize) -> Result<Oop> {
        let nil = self.nil();
        let old_cap = self.heap.num_slots(old) - method_dict::FIRST_SELECTOR;
        let md = self.method_dict(n.max(old_cap))?;
        let old_values = self.heap.slot(old, method_dict::VALUES);
        for i in 0..old_cap {
            let k = self.heap.slot(old, method_dict::FIRST_SELECTOR + i);
            if k != nil {
                let m = self.heap.slot(old_values, i);
                let h = self.heap.identity_hash(k) as usize;
                self.md_insert(md, k, h, m);
            }
        }
        Ok(md)
    }

    // ----- dictionaries (globals, class pools) -----------------------------

    /// An instance of `class` (fields `tally`, `array` first) holding the
    /// Associations, each at its key's identity hash modulo the capacity,
    /// probing linearly.
    pub fn dictionary(&mut self, class: Oop, assocs: &[Oop]) -> Result<Oop> {
        let cap = dictionary_capacity(assocs.len());
        let d = self.instance(class, 0)?;
        if self.heap.num_slots(d) < 2 {
            return Err(BuildError::Kernel(format!(
                "dictionary class {} needs instance variables tally and array",
                self.heap.class_name(class).unwrap_or_default()
            )));
        }
        let array = self.instance(self.kit.array, cap)?;
        self.heap.set_slot(d, 0, Oop::small_int(0));
        self.heap.set_slot(d, 1, array);
        for &a in assocs {
            self.dict_insert(d, a);
        }
        Ok(d)
    }

    /// Adds an Association to a dictionary made by [`Writer::dictionary`]
    /// (or any with the same layout), growing its array when half full.
    pub fn dictionary_add(&mut self, dict: Oop, assoc: Oop) -> Result<()> {
        let tally = self.heap.slot(dict, 0).as_small_int().unwrap_or(0) as usize;
        let array = self.heap.slot(dict, 1);
        let cap = self.heap.num_slots(array);
        if (tally + 1) * 2 > cap {
            let nil = self.nil();
            let old: Vec<Oop> = (0..cap)
                .map(|i| self.heap.slot(array, i))
                .filter(|&a| a != nil)
                .collect();
            let new = self.instance(self.kit.array, dictionary_capacity(tally + 1))?;
            self.heap.set_slot(dict, 0, Oop::small_int(0));
            self.heap.set_slot(dict, 1, new);
            for a in old {
                self.dict_insert(dict, a);
            }
        }
        self.dict_insert(dict, assoc);
        Ok(())
    }

    fn dict_insert(&mut self, dict: Oop, assoc: Oop) {
        let nil = self.nil();
        let array = self.heap.slot(dict, 1);
        let cap = self.heap.num_slots(array);
        let key = self.heap.slot(assoc, association::KEY);
        let mut i = if key.is_object() {
            self.heap.identity_hash(key) as usize % cap
        } else {
            0
        };
        while self.heap.slot(array, i) != nil {
            i = (i + 1) % cap;
        }
        self.heap.set_slot(array, i, assoc);
        let tally = self.heap.slot(dict, 0).as_small_int().unwrap_or(0);
        self.heap.set_slot(dict, 0, Oop::small_int(tally + 1));
    }

    // ----- compiled code ---------------------------------------------------

    /// A CompiledMethod (or CompiledBlock, whose `OuterCode` literal is
    /// `outer`) for `spec`.
    pub fn code(&mut self, spec: &CompiledMethodSpec, env: &CodeEnv, outer: Option<Oop>) -> Result<Oop> {
        let class = if spec.is_block {
            self.kit.compiled_block.ok_or_else(|| {
                BuildError::Kernel(format!(
                    "{}: a SistaV1 block needs class CompiledBlock, which is not defined",
                    env.what
                ))
            })?
        } else {
            self.kit.compiled_method
        };
        // CompiledBlocks get the trailer too: the OpenSmalltalk VMs take the
        // last bytes of compiled code for a trailer, so a block's final
        // return would otherwise count as outside its bytecodes (their
        // assert VM flags every process switch inside such a block).
        let trailer: &[u8] = &METHOD_TRAILER;
        let nlits = spec.literals.len();
        let start = (nlits + 1) * WORD;
        let total = start + spec.bytecodes.len() + trailer.len();
        let ci = self.heap.identity_hash(class);
        let obj = self.heap.allocate(
            ci,
            format::with_length(format::COMPILED_METHOD, total),
            total.div_ceil(WORD),
            Oop(0),
        )?;
        self.heap.set_slot(obj, 0, Oop::small_int(spec.header_word()));
        let nil = self.nil();
        for i in 1..=nlits {
            self.heap.set_slot(obj, i, nil);
        }
        let body = self.heap.bytes_mut(obj);
        body[start..start + spec.bytecodes.len()].copy_from_slice(&spec.bytecodes);
        for (i, lit) in spec.literals.iter().enumerate() {
            let v = match lit {
                Literal::CompiledBlock(b) => self.code(b, env, Some(obj))?,
                Literal::OuterCode => outer.unwrap_or(nil),
                Literal::AdditionalMethodState => self.method_state(spec, obj, env)?,
                Literal::MethodClassBinding => env.class_binding,
                other => self.literal(other, env)?,
            };
            self.heap.set_slot(obj, i + 1, v);
        }
        Ok(obj)
    }

    /// A literal value (not code or method-frame placeholders).
    pub fn literal(&mut self, lit: &Literal, env: &CodeEnv) -> Result<Oop> {
        let heap_err = |what: &str| BuildError::Kernel(format!("{}: {what}", env.what));
        Ok(match lit {
            Literal::Nil => self.heap.nil(),
            Literal::True => self.heap.true_obj(),
            Literal::False => self.heap.false_obj(),
            Literal::Integer(v) => match Oop::try_small_int(*v) {
                Some(o) => o,
                None => self.large_integer(&BigInt::from_i64(*v), env)?,
            },
            Literal::LargeInteger(b) => self.large_integer(b, env)?,
            Literal::Float(f) => match Oop::try_small_float(*f) {
                Some(o) => o,
                None => {
                    let class = self
                        .kit
                        .boxed_float
                        .ok_or_else(|| heap_err("a boxed float literal needs class BoxedFloat64 or Float"))?;
                    let o = self.instance(class, 2)?;
                    self.heap.bytes_mut(o)[..8].copy_from_slice(&f.to_bits().to_le_bytes());
                    o
                }
            },
            Literal::ScaledDecimal {
                numerator,
                denominator,
                scale,
            } => {
                let (Some(sd), Some(fr)) = (self.kit.scaled_decimal, self.kit.fraction) else {
                    return Err(heap_err(
                        "a ScaledDecimal literal needs classes ScaledDecimal and Fraction",
                    ));
                };
                let num = self.integer(numerator, env)?;
                let fraction = if denominator.magnitude == [1] && !denominator.negative {
                    num
                } else {
                    let den = self.integer(denominator, env)?;
                    let f = self.instance(fr, 0)?;
                    self.heap.set_slot(f, 0, num);
                    self.heap.set_slot(f, 1, den);
                    f
                };
                let o = self.instance(sd, 0)?;
                self.heap.set_slot(o, 0, fraction);
                self.heap.set_slot(o, 1, Oop::small_int(*scale as i64));
                o
            }
            Literal::Char(c) => Oop::character(*c),
            Literal::String(s) => self.string(s)?,
            Literal::Symbol(s) => self.symbol(s)?,
            Literal::Array(items) => {
                let mut v = Vec::with_capacity(items.len());
                for x in items {
                    v.push(self.literal(x, env)?);
                }
                self.array(&v)?
            }
            Literal::ByteArray(b) => {
                let class = self
                    .kit
                    .byte_array
                    .ok_or_else(|| heap_err("a byte array literal needs class ByteArray"))?;
                self.bytes(class, b)?
            }
            Literal::Binding(n) => *env
                .bindings
                .get(n)
                .ok_or_else(|| heap_err(&format!("no binding for {n}")))?,
            Literal::MethodClassBinding => env.class_binding,
            Literal::AdditionalMethodState | Literal::CompiledBlock(_) | Literal::OuterCode => {
                return Err(heap_err("method-frame literal inside a literal array"))
            }
        })
    }

    /// A SmallInteger or LargeInteger for `b`.
    fn integer(&mut self, b: &BigInt, env: &CodeEnv) -> Result<Oop> {
        let small = (b.magnitude.len() <= 2)
            .then(|| {
                let m = b.magnitude.first().copied().unwrap_or(0) as i128
                    | (b.magnitude.get(1).copied().unwrap_or(0) as i128) << 32;
                if b.negative {
                    -m
                } else {
                    m
                }
            })
            .and_then(|v| i64::try_from(v).ok())
            .and_then(Oop::try_small_int);
        match small {
            Some(o) => Ok(o),
            None => self.large_integer(b, env),
        }
    }

    /// The penultimate literal of a method with pragmas: an
    /// AdditionalMethodState holding the selector and one Pragma per pragma
    /// (or just the selector when the kernel has no such classes).
    fn method_state(&mut self, spec: &CompiledMethodSpec, method: Oop, env: &CodeEnv) -> Result<Oop> {
        let selector = self.symbol(&spec.selector)?;
        let (Some(state_class), Some(pragma_class)) = (self.kit.additional_state, self.kit.pragma) else {
            return Ok(selector);
        };
        let state = self.instance(state_class, spec.pragmas.len())?;
        self.heap.set_slot(state, 0, method);
        self.heap.set_slot(state, 1, selector);
        for (i, p) in spec.pragmas.iter().enumerate() {
            let keyword = self.symbol(&p.selector)?;
            let args: Vec<Oop> = p
                .args
                .iter()
                .map(|a| self.literal(a, env))
                .collect::<Result<_>>()?;
            let args = self.array(&args)?;
            let pragma = self.instance(pragma_class, 0)?;
            self.heap.set_slot(pragma, 0, method);
            self.heap.set_slot(pragma, 1, keyword);
            self.heap.set_slot(pragma, 2, args);
            self.heap.set_slot(state, 2 + i, pragma);
        }
        Ok(state)
    }

    fn large_integer(&mut self, b: &BigInt, env: &CodeEnv) -> Result<Oop> {
        let class = if b.negative {
            self.kit.large_negative
        } else {
            self.kit.large_positive
        }
        .ok_or_else(|| {
            BuildError::Kernel(format!(
                "{}: integer {b} needs class {}",
                env.what,
                if b.negative {
                    "LargeNegativeInteger"
                } else {
                    "LargePositiveInteger"
                }
            ))
        })?;
        self.bytes(class, &b.magnitude_le_bytes())
    }
}

//! Reading source folders into class definitions, ordering them superclass
//! first, and compiling their methods (all before touching any heap, so a
//! source error leaves the heap alone).

use super::{compiler_set, BuildError, Result};
use crate::compiler::{
    compile_method, som::parse_som_class, tonel::parse_tonel_class, ClassContext, ClassDef, ClassShape,
    CompileError, CompileOptions, CompiledMethodSpec, MethodSource,
};
use gc::method::BytecodeSet;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// A method with the file it came from.
#[derive(Clone, Debug)]
pub(crate) struct SourceMethod {
    pub method: MethodSource,
    pub file: PathBuf,
}

/// One class: its definition (absent for extensions of classes defined
/// elsewhere) and every method for it, in file order.
#[derive(Clone, Debug)]
pub(crate) struct SourceClass {
    pub name: String,
    pub def: Option<ClassDef>,
    pub file: PathBuf,
    pub methods: Vec<SourceMethod>,
}

/// Every class named in the sources, by name.
pub(crate) type SourceSet = BTreeMap<String, SourceClass>;

fn is_source(p: &Path) -> bool {
    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    n.ends_with(".class.st") || n.ends_with(".extension.st") || n.ends_with(".som")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |err| BuildError::Io {
        path: dir.to_path_buf(),
        err,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if is_source(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// The source files under `paths` (folders searched recursively, files
/// taken as they are), in sorted path order.
pub(crate) fn collect_files(paths: &[&Path]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.exists() {
            out.push(p.to_path_buf());
        } else {
            return Err(BuildError::Io {
                path: p.to_path_buf(),
                err: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
            });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn source_error(file: &Path, e: CompileError) -> BuildError {
    BuildError::Source {
        file: file.to_path_buf(),
        line: e.line,
        column: e.column,
        message: e.message,
    }
}

/// Parses every file and merges definitions and extensions by class name.
pub(crate) fn read_sources(files: &[PathBuf]) -> Result<SourceSet> {
    let mut set = SourceSet::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|err| BuildError::Io {
            path: file.clone(),
            err,
        })?;
        let def = if file.extension().is_some_and(|e| e == "som") {
            parse_som_class(&text)
        } else {
            parse_tonel_class(&text)
        }
        .map_err(|e| source_error(file, e))?;
        if def.is_trait {
            return Err(BuildError::File {
                file: file.clone(),
                message: format!("trait {} is not supported by the image builder", def.name),
            });
        }
        let methods = def.methods.iter().map(|m| SourceMethod {
            method: m.clone(),
            file: file.clone(),
        });
        let entry = set.entry(def.name.clone()).or_insert_with(|| SourceClass {
            name: def.name.clone(),
            def: None,
            file: file.clone(),
            methods: Vec::new(),
        });
        if def.is_extension {
            entry.methods.extend(methods);
            continue;
        }
        if entry.def.is_some() {
            return Err(BuildError::File {
                file: file.clone(),
                message: format!(
                    "class {} is already defined in {}",
                    def.name,
                    entry.file.display()
                ),
            });
        }
        // The definition's own methods go before extensions read earlier.
        let ext = std::mem::take(&mut entry.methods);
        entry.methods = methods.chain(ext).collect();
        entry.file = file.clone();
        let mut def = def;
        def.methods.clear();
        entry.def = Some(def);
    }
    Ok(set)
}

/// Class names with definitions, superclasses before subclasses and
/// otherwise by name. `exists` says whether a superclass not defined in the
/// sources is already available (file-in into a heap).
pub(crate) fn topological_order(set: &SourceSet, exists: &dyn Fn(&str) -> bool) -> Result<Vec<String>> {
    fn visit(
        name: &str,
        set: &SourceSet,
        exists: &dyn Fn(&str) -> bool,
        state: &mut HashMap<String, bool>,
        out: &mut Vec<String>,
    ) -> Result<()> {
        match state.get(name) {
            Some(true) => return Ok(()),
            Some(false) => {
                return Err(BuildError::File {
                    file: set[name].file.clone(),
                    message: format!("class {name} inherits from itself"),
                })
            }
            None => {}
        }
        let sc = &set[name];
        let Some(def) = &sc.def else { return Ok(()) };
        state.insert(name.to_string(), false);
        if let Some(sup) = &def.superclass {
            match set.get(sup.as_str()) {
                Some(s) if s.def.is_some() => visit(sup, set, exists, state, out)?,
                _ if exists(sup) => {}
                _ => {
                    return Err(BuildError::File {
                        file: sc.file.clone(),
                        message: format!("superclass {sup} of {name} is not defined"),
                    })
                }
            }
        }
        state.insert(name.to_string(), true);
        out.push(name.to_string());
        Ok(())
    }
    let mut state = HashMap::new();
    let mut out = Vec::new();
    for name in set.keys() {
        visit(name, set, exists, &mut state, &mut out)?;
    }
    Ok(out)
}

/// A compiled method, ready to be turned into objects.
#[derive(Clone, Debug)]
pub(crate) struct Compiled {
    pub spec: CompiledMethodSpec,
    pub file: PathBuf,
}

/// Compiled methods of one class: instance side and class side, in source
/// order, later definitions replacing earlier ones.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClassMethods {
    pub instance: Vec<Compiled>,
    pub class_side: Vec<Compiled>,
}

/// Compiles `sc`'s methods with the given instance variable names of the
/// class and of its metaclass. Records skipped SOM primitives and
/// redefinitions in the given lists.
pub(crate) fn compile_class(
    sc: &SourceClass,
    inst_vars: &[String],
    class_inst_vars: &[String],
    set: BytecodeSet,
    skipped: &mut Vec<String>,
    redefined: &mut Vec<String>,
) -> Result<ClassMethods> {
    let opts = CompileOptions {
        bytecode_set: compiler_set(set),
        inline_times_repeat: false,
    };
    let mut out = ClassMethods::default();
    for sm in &sc.methods {
        let m = &sm.method;
        let side = if m.class_side { " class" } else { "" };
        if m.is_som_primitive {
            skipped.push(format!("{}{side}>>{}", sc.name, m.selector));
            continue;
        }
        let ctx = ClassContext {
            class_name: sc.name.clone(),
            class_side: m.class_side,
            inst_vars: if m.class_side { class_inst_vars } else { inst_vars }.to_vec(),
        };
        let spec = compile_method(&m.source, &ctx, &opts)
            .map_err(|e| source_error(&sm.file, e.offset_by(m.line, 1)))?;
        let list = if m.class_side {
            &mut out.class_side
        } else {
            &mut out.instance
        };
        if let Some(i) = list.iter().position(|c| c.spec.selector == spec.selector) {
            redefined.push(format!("{}{side}>>{}", sc.name, spec.selector));
            list.remove(i);
        }
        list.push(Compiled {
            spec,
            file: sm.file.clone(),
        });
    }
    Ok(out)
}

/// The instance specification (format number) of a class from its shape,
/// its own instance size and its superclass's spec (a pointer subclass of a
/// variable or raw class keeps the superclass's shape).
pub(crate) fn inst_spec(shape: ClassShape, inst_size: usize, super_spec: Option<u8>) -> u8 {
    match shape {
        ClassShape::Pointers => match super_spec {
            Some(2 | 3) if inst_size == 0 => 2,
            Some(2 | 3) => 3,
            Some(s @ (4 | 5 | 9..)) => s,
            _ if inst_size == 0 => 0,
            _ => 1,
        },
        ClassShape::Variable if inst_size == 0 => 2,
        ClassShape::Variable => 3,
        ClassShape::Weak => 4,
        ClassShape::Ephemeron => 5,
        ClassShape::Immediate => 7,
        ClassShape::DoubleWords => 9,
        ClassShape::Words => 10,
        ClassShape::DoubleBytes => 12,
        ClassShape::Bytes => 16,
        ClassShape::CompiledMethod => 24,
    }
}

/// Names used in `Binding` literals anywhere in a method, blocks included.
pub(crate) fn binding_names(spec: &CompiledMethodSpec, out: &mut BTreeSet<String>) {
    use crate::compiler::Literal;
    fn lit(l: &Literal, out: &mut BTreeSet<String>) {
        match l {
            Literal::Binding(n) => {
                out.insert(n.clone());
            }
            Literal::CompiledBlock(b) => binding_names(b, out),
            Literal::Array(a) => a.iter().for_each(|x| lit(x, out)),
            _ => {}
        }
    }
    spec.literals.iter().for_each(|l| lit(l, out));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(inst_spec(ClassShape::Pointers, 0, None), 0);
        assert_eq!(inst_spec(ClassShape::Pointers, 2, Some(1)), 1);
        assert_eq!(inst_spec(ClassShape::Pointers, 0, Some(2)), 2);
        assert_eq!(inst_spec(ClassShape::Pointers, 1, Some(2)), 3);
        assert_eq!(inst_spec(ClassShape::Pointers, 0, Some(16)), 16);
        assert_eq!(inst_spec(ClassShape::Variable, 6, None), 3);
        assert_eq!(inst_spec(ClassShape::CompiledMethod, 0, None), 24);
    }
}

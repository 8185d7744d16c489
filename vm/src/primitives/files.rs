//! FilePlugin: files and the standard streams. A file handle is an 8-byte
//! ByteArray holding the table index and a session tag, so handles from a
//! previous run (saved in an image) are recognised as stale.

use super::{PrimResult, ERR_BAD_ARGUMENT, FAIL};
use crate::interp::{Fault, Vm};
use gc::specials::so;
use gc::{format, Oop};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};

/// An open file or standard stream.
pub enum Handle {
    Stdin,
    Stdout,
    Stderr,
    File(File),
}

/// The table of open files.
pub struct FileTable {
    session: u32,
    files: Vec<Option<Handle>>,
}

impl Default for FileTable {
    fn default() -> Self {
        let session = (platform::clock::unix_micros() as u32) | 1;
        FileTable {
            session,
            files: vec![Some(Handle::Stdin), Some(Handle::Stdout), Some(Handle::Stderr)],
        }
    }
}

impl Vm {
    fn make_handle(&mut self, index: usize) -> Result<Oop, Fault> {
        let class = self.heap.special(so::CLASS_BYTE_ARRAY);
        let o = self.instantiate(class, 8)?;
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&(index as u32).to_le_bytes());
        b[4..].copy_from_slice(&self.files.session.to_le_bytes());
        self.heap.bytes_mut(o).copy_from_slice(&b);
        Ok(o)
    }

    fn handle_index(&self, o: Oop) -> Option<usize> {
        if !o.is_object() || !format::is_bytes(self.heap.format(o)) || self.heap.byte_size(o) != 8 {
            return None;
        }
        let b = self.heap.bytes(o);
        let idx = u32::from_le_bytes(b[..4].try_into().ok()?) as usize;
        let session = u32::from_le_bytes(b[4..].try_into().ok()?);
        (session == self.files.session && self.files.files.get(idx).is_some_and(|h| h.is_some()))
            .then_some(idx)
    }

    /// Bytes of a String/ByteArray/WordArray argument.
    fn byte_arg(&self, o: Oop) -> Option<Vec<u8>> {
        if o.is_object()
            && !format::is_pointers(self.heap.format(o))
            && !format::is_compiled_method(self.heap.format(o))
        {
            Some(self.heap.bytes(o).to_vec())
        } else {
            None
        }
    }

    /// Runs a FilePlugin primitive by name.
    pub(crate) fn file_primitive(&mut self, name: &str, nargs: usize) -> Result<PrimResult, Fault> {
        let arg = |vm: &Vm, k: usize| vm.stack_value(nargs - 1 - k);
        match (name, nargs) {
            ("primitiveFileStdioHandles", 0) => {
                let a = self.new_array(3)?;
                for i in 0..3 {
                    let h = self.make_handle(i)?;
                    self.heap.set_slot(a, i, h);
                }
                Ok(self.prim_return(0, a))
            }
            ("primitiveFileWrite", 4) => {
                let (Some(idx), Some(data), Some(start), Some(count)) = (
                    self.handle_index(arg(self, 0)),
                    self.byte_arg(arg(self, 1)),
                    arg(self, 2).as_small_int(),
                    arg(self, 3).as_small_int(),
                ) else {
                    return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                };
                let elem = format::element_bytes(self.heap.format(arg(self, 1)));
                let (s, n) = ((start - 1).max(0) as usize * elem, count.max(0) as usize * elem);
                if s + n > data.len() {
                    return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                }
                let bytes = &data[s..s + n];
                let ok = match self.files.files[idx].as_mut() {
                    Some(Handle::Stdout) => {
                        let mut out = std::io::stdout().lock();
                        out.write_all(bytes).and_then(|_| out.flush()).is_ok()
                    }
                    Some(Handle::Stderr) => std::io::stderr().write_all(bytes).is_ok(),
                    Some(Handle::File(f)) => f.write_all(bytes).is_ok(),
                    _ => false,
                };
                if !ok {
                    return Ok(FAIL);
                }
                Ok(self.prim_return(4, Oop::small_int(count)))
            }
            ("primitiveFileRead", 4) => {
                let (Some(idx), Some(start), Some(count)) = (
                    self.handle_index(arg(self, 0)),
                    arg(self, 2).as_small_int(),
                    arg(self, 3).as_small_int(),
                ) else {
                    return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                };
                let buf = arg(self, 1);
                if !buf.is_object() || format::is_pointers(self.heap.format(buf)) {
                    return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                }
                let elem = format::element_bytes(self.heap.format(buf));
                let (s, n) = ((start - 1).max(0) as usize * elem, count.max(0) as usize * elem);
                if s + n > self.heap.byte_size(buf) {
                    return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                }
                let mut tmp = vec![0u8; n];
                let got = match self.files.files[idx].as_mut() {
                    Some(Handle::Stdin) => std::io::stdin().read(&mut tmp).ok(),
                    Some(Handle::File(f)) => f.read(&mut tmp).ok(),
                    _ => None,
                };
                let Some(got) = got else { return Ok(FAIL) };
                self.heap.bytes_mut(buf)[s..s + got].copy_from_slice(&tmp[..got]);
                Ok(self.prim_return(4, Oop::small_int((got / elem) as i64)))
            }
            ("primitiveFileOpen", 2) => {
                let Some(name) = self.byte_arg(arg(self, 0)) else {
                    return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                };
                let write = arg(self, 1) == self.heap.true_obj();
                let name = String::from_utf8_lossy(&name).into_owned();
                let f = if write {
                    OpenOptions::new()
                        .read(true)
                        .write(true)
                        .create(true)
                        .truncate(false)
                        .open(&name)
                } else {
                    File::open(&name)
                };
                let Ok(f) = f else { return Ok(FAIL) };
                let idx = self.files.files.len();
                self.files.files.push(Some(Handle::File(f)));
                let h = self.make_handle(idx)?;
                Ok(self.prim_return(2, h))
            }
            ("primitiveFileClose", 1) => {
                let Some(idx) = self.handle_index(arg(self, 0)) else {
                    return Ok(FAIL);
                };
                if idx > 2 {
                    self.files.files[idx] = None;
                }
                let r = self.stack_value(1);
                Ok(self.prim_return(1, r))
            }
            ("primitiveFileSize", 1) | ("primitiveFileGetPosition", 1) | ("primitiveFileAtEnd", 1) => {
                let Some(idx) = self.handle_index(arg(self, 0)) else {
                    return Ok(FAIL);
                };
                let Some(Handle::File(f)) = self.files.files[idx].as_mut() else {
                    return Ok(match name {
                        "primitiveFileAtEnd" => self.prim_return(1, self.heap.false_obj()),
                        _ => self.prim_return(1, Oop::small_int(0)),
                    });
                };
                let size = f.metadata().map(|m| m.len()).unwrap_or(0);
                let pos = f.stream_position().unwrap_or(0);
                let v = match name {
                    "primitiveFileSize" => Oop::small_int(size as i64),
                    "primitiveFileGetPosition" => Oop::small_int(pos as i64),
                    _ => self.boolean(pos >= size),
                };
                Ok(self.prim_return(1, v))
            }
            ("primitiveFileSetPosition", 2) => {
                let (Some(idx), Some(pos)) = (self.handle_index(arg(self, 0)), arg(self, 1).as_small_int())
                else {
                    return Ok(FAIL);
                };
                if let Some(Handle::File(f)) = self.files.files[idx].as_mut() {
                    if f.seek(SeekFrom::Start(pos.max(0) as u64)).is_err() {
                        return Ok(FAIL);
                    }
                }
                let r = self.stack_value(2);
                Ok(self.prim_return(2, r))
            }
            ("primitiveFileFlush", 1) | ("primitiveFileSync", 1) => {
                let Some(idx) = self.handle_index(arg(self, 0)) else {
                    return Ok(FAIL);
                };
                if let Some(Handle::File(f)) = self.files.files[idx].as_mut() {
                    let _ = f.flush();
                }
                let r = self.stack_value(1);
                Ok(self.prim_return(1, r))
            }
            ("primitiveFileDelete", 1) => {
                let Some(name) = self.byte_arg(arg(self, 0)) else {
                    return Ok(FAIL);
                };
                if std::fs::remove_file(String::from_utf8_lossy(&name).as_ref()).is_err() {
                    return Ok(FAIL);
                }
                let r = self.stack_value(1);
                Ok(self.prim_return(1, r))
            }
            ("primitiveFileRename", 2) => {
                let (Some(a), Some(b)) = (self.byte_arg(arg(self, 0)), self.byte_arg(arg(self, 1))) else {
                    return Ok(FAIL);
                };
                let (a, b) = (
                    String::from_utf8_lossy(&a).into_owned(),
                    String::from_utf8_lossy(&b).into_owned(),
                );
                if std::path::Path::new(&b).exists() || std::fs::rename(a, b).is_err() {
                    return Ok(FAIL);
                }
                let r = self.stack_value(2);
                Ok(self.prim_return(2, r))
            }
            _ => Ok(FAIL),
        }
    }
}

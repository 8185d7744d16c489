//! `sprocket image info | verify | convert` run as a separate process on
//! the real images in `../shared/images` and on damaged copies of them.
//!
//! The fixtures are read-only: everything written goes into a fresh scratch
//! directory under the system's temporary directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const SPROCKET: &str = env!("CARGO_BIN_EXE_sprocket");
const HEADLESS32: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/images/headless.image");
const HEADLESS64: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/images/headless64.image"
);

/// A fresh directory under the system temporary directory, removed when the
/// test passes (kept for inspection when it fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sprocket-cli-image-{}-{}-{name}",
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

    fn copy_fixture(&self, fixture: &str) -> PathBuf {
        let dst = self.0.join(Path::new(fixture).file_name().unwrap());
        fs::copy(fixture, &dst).unwrap();
        dst
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        fs::write(&p, bytes).unwrap();
        p
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

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    what: String,
}

fn sprocket(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Run {
    let mut cmd = Command::new(SPROCKET);
    for a in args {
        cmd.arg(a);
    }
    let what = format!("sprocket {:?}", cmd.get_args().collect::<Vec<_>>());
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
        what,
    }
}

impl Run {
    fn success(&self) -> &Run {
        assert_eq!(
            self.code,
            Some(0),
            "{}: exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.what,
            self.code,
            self.stdout,
            self.stderr
        );
        assert!(self.stderr.is_empty(), "{}: stderr: {}", self.what, self.stderr);
        self
    }

    /// Exit 2 with one line on stderr, `sprocket: ` then `starts`, no panic.
    fn fails_with(&self, starts: &str) -> &Run {
        assert_eq!(
            self.code,
            Some(2),
            "{}: exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.what,
            self.code,
            self.stdout,
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "{}: {}",
            self.what,
            self.stderr
        );
        assert!(
            !self.stderr.contains("internal error"),
            "{}: {}",
            self.what,
            self.stderr
        );
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "{}: stderr is one line: {:?}",
            self.what,
            self.stderr
        );
        assert!(self.stderr.ends_with('\n'), "{}: {:?}", self.what, self.stderr);
        let want = format!("sprocket: {starts}");
        assert!(
            self.stderr.starts_with(&want),
            "{}: stderr {:?} does not start with {want:?}",
            self.what,
            self.stderr
        );
        assert!(self.stdout.is_empty(), "{}: stdout: {}", self.what, self.stdout);
        self
    }
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

// ---------------------------------------------------------------------------
// A tiny JSON reader, enough to check `--json` output
// ---------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    /// The number as written.
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(kv) => kv.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn num(&self, key: &str) -> Option<u64> {
        match self.get(key)? {
            Json::Num(n) => n.parse().ok(),
            _ => None,
        }
    }

    fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    at: usize,
}

impl JsonParser<'_> {
    fn parse(text: &str) -> Result<Json, String> {
        let mut p = JsonParser {
            s: text.as_bytes(),
            at: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.at != p.s.len() {
            return Err(format!("trailing text at byte {}", p.at));
        }
        Ok(v)
    }

    fn ws(&mut self) {
        while self.at < self.s.len() && self.s[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.at) == Some(&c) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at byte {}", c as char, self.at))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.at) {
            Some(b'{') => {
                self.at += 1;
                let mut kv = Vec::new();
                self.ws();
                if self.s.get(self.at) == Some(&b'}') {
                    self.at += 1;
                    return Ok(Json::Obj(kv));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    if kv.iter().any(|(x, _)| *x == k) {
                        return Err(format!("duplicate key {k:?}"));
                    }
                    self.eat(b':')?;
                    kv.push((k, self.value()?));
                    self.ws();
                    match self.s.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(Json::Obj(kv));
                        }
                        _ => return Err(format!("expected , or }} at byte {}", self.at)),
                    }
                }
            }
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.at) == Some(&b']') {
                    self.at += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return Err(format!("expected , or ] at byte {}", self.at)),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') if self.s[self.at..].starts_with(b"true") => {
                self.at += 4;
                Ok(Json::Bool(true))
            }
            Some(b'f') if self.s[self.at..].starts_with(b"false") => {
                self.at += 5;
                Ok(Json::Bool(false))
            }
            Some(b'n') if self.s[self.at..].starts_with(b"null") => {
                self.at += 4;
                Ok(Json::Null)
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.at;
                self.at += 1;
                while self.at < self.s.len()
                    && matches!(self.s[self.at], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    self.at += 1;
                }
                let n = std::str::from_utf8(&self.s[start..self.at]).unwrap();
                n.parse::<f64>().map_err(|_| format!("bad number {n:?}"))?;
                if n.len() > 1 && n.starts_with('0') && !n.starts_with("0.") {
                    return Err(format!("number with a leading zero: {n:?}"));
                }
                Ok(Json::Num(n.to_string()))
            }
            _ => Err(format!("unexpected byte at {}", self.at)),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if self.s.get(self.at) != Some(&b'"') {
            return Err(format!("expected a string at byte {}", self.at));
        }
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.at).ok_or("unterminated string")?;
            self.at += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                b'\\' => {
                    let e = *self.s.get(self.at).ok_or("unterminated escape")?;
                    self.at += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let hex =
                                std::str::from_utf8(self.s.get(self.at..self.at + 4).ok_or("short \\u")?)
                                    .map_err(|e| e.to_string())?;
                            let v = u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
                            self.at += 4;
                            let ch = char::from_u32(v).ok_or("bad \\u escape")?;
                            out.extend_from_slice(ch.to_string().as_bytes());
                        }
                        _ => return Err(format!("bad escape \\{}", e as char)),
                    }
                }
                c if c < 0x20 => return Err("control character in a string".into()),
                c => out.push(c),
            }
        }
    }
}

#[test]
fn the_json_reader_rejects_what_it_should() {
    assert!(JsonParser::parse(r#"{"a": [1, 2.5, -3], "b": {"c": "x\"y\u0041"}, "d": null}"#).is_ok());
    for bad in [
        "{",
        "{\"a\": 1,}",
        "{\"a\" 1}",
        "[1 2]",
        "{\"a\": 1}}",
        "{\"a\": 01}",
        "{\"a\": 1, \"a\": 2}",
        "\"\n\"",
    ] {
        assert!(JsonParser::parse(bad).is_err(), "{bad:?} parsed");
    }
}

// ---------------------------------------------------------------------------
// info, verify, convert on the real images
// ---------------------------------------------------------------------------

#[test]
fn info_describes_headless32() {
    let s = Scratch::new("info32");
    let img = s.copy_fixture(HEADLESS32);
    let r = sprocket(&[&"image", &"info", &img]);
    r.success();
    for want in [
        "ProcessorScheduler",
        "SmallInteger",
        "V3PlusClosures",
        "6521",
        "MethodContext",
        "CompiledMethod",
    ] {
        assert!(r.stdout.contains(want), "no {want:?} in:\n{}", r.stdout);
    }
    let line = |key: &str| {
        r.stdout
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key:?} line in:\n{}", r.stdout))
            .to_string()
    };
    assert!(
        line("objects in file").ends_with(" 2493"),
        "{}",
        line("objects in file")
    );
    assert!(line("methods").ends_with(" 918"), "{}", line("methods"));
    assert!(line("forwarders").ends_with(" 0"), "{}", line("forwarders"));
    assert!(
        line("converted").contains("44 forwarders"),
        "{}",
        line("converted")
    );
}

#[test]
fn info_json_is_json() {
    let s = Scratch::new("json");
    for (fixture, format, objects_in_file, word) in
        [(HEADLESS32, 6521, 2493, 4), (HEADLESS64, 68021, 2399, 8)]
    {
        let img = s.copy_fixture(fixture);
        let r = sprocket(&[&"image", &"info", &"--json", &img]);
        r.success();
        let j = JsonParser::parse(&r.stdout).unwrap_or_else(|e| panic!("{e} in:\n{}", r.stdout));
        assert_eq!(j.num("format"), Some(format));
        assert_eq!(j.num("objects_in_file"), Some(objects_in_file));
        assert_eq!(j.num("file_word_size"), Some(word));
        assert_eq!(j.num("methods"), Some(918));
        assert_eq!(j.num("forwarders"), Some(0));
        assert_eq!(j.str("bytecode_set"), Some("V3PlusClosures"));
        // Both files hold the same heap.
        assert_eq!(j.num("objects"), Some(2399));
        let Some(Json::Arr(classes)) = j.get("top_classes") else {
            panic!("no top_classes array")
        };
        assert!(classes
            .iter()
            .any(|c| c.str("name") == Some("CompiledMethod") && c.num("instances") == Some(918)));
        let Some(Json::Arr(specials)) = j.get("special_objects") else {
            panic!("no special_objects array")
        };
        assert!(specials
            .iter()
            .any(|e| e.num("index") == Some(5) && e.str("value") == Some("SmallInteger")));
    }
    let img32 = s.path("headless.image");
    let r = sprocket(&[&"image", &"info", &"--json", &img32]);
    let j = JsonParser::parse(&r.stdout).unwrap();
    assert_eq!(j.num("forwarders_dropped"), Some(44));
}

#[test]
fn verify_is_clean_for_both_real_images() {
    let s = Scratch::new("verify");
    for fixture in [HEADLESS32, HEADLESS64] {
        let img = s.copy_fixture(fixture);
        let r = sprocket(&[&"image", &"verify", &img]);
        r.success();
        assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
        assert!(r.stdout.contains("clean"), "{}", r.stdout);
        assert!(r.stdout.contains("(2399 objects verified)"), "{}", r.stdout);
    }
}

#[test]
fn convert_writes_a_clean_64_bit_image() {
    let s = Scratch::new("convert");
    let img = s.copy_fixture(HEADLESS32);
    let out = s.path("out64.image");
    let r = sprocket(&[&"image", &"convert", &img, &"-o", &out]);
    r.success();
    assert!(r.stdout.contains("Spur 64-bit"), "{}", r.stdout);
    let bytes = fs::read(&out).unwrap();
    assert_eq!(u32_at(&bytes, 0), 68021);
    assert!(
        bytes == fs::read(HEADLESS64).unwrap(),
        "the converted file is not headless64.image"
    );
    sprocket(&[&"image", &"verify", &out]).success();
    assert_eq!(
        s.entries(),
        ["headless.image", "out64.image"],
        "no temporary files left"
    );

    // Converting a 64-bit image saves it unchanged, over an existing file.
    let again = s.path("again.image");
    s.write("again.image", &vec![0xee; 300_000]);
    sprocket(&[&"image", &"convert", &out, &"--output", &again]).success();
    assert!(fs::read(&again).unwrap() == bytes);
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Runs info, verify and convert on a bad file: each must fail the same way.
fn all_commands_fail(s: &Scratch, img: &Path, starts: &str) {
    let out = s.path("never-written.image");
    for args in [
        vec![&"image" as &dyn AsRef<std::ffi::OsStr>, &"info", &img],
        vec![&"image", &"info", &"--json", &img],
        vec![&"image", &"verify", &img],
        vec![&"image", &"convert", &img, &"-o", &out],
    ] {
        sprocket(&args).fails_with(starts);
    }
    assert!(!out.exists(), "convert wrote {}", out.display());
}

#[test]
fn a_missing_file() {
    let s = Scratch::new("missing");
    let img = s.path("no-such.image");
    all_commands_fail(&s, &img, &format!("{}: ", img.display()));
    let r = sprocket(&[&"image", &"verify", &img]);
    assert!(r.stderr.contains("No such file"), "{}", r.stderr);
}

#[test]
fn a_text_file() {
    let s = Scratch::new("text");
    let img = s.write(
        "notes.txt",
        b"This is not an image, just some text that is long enough.\n"
            .repeat(4)
            .as_slice(),
    );
    all_commands_fail(&s, &img, "not a Smalltalk image");
}

#[test]
fn a_truncated_copy() {
    let s = Scratch::new("truncated");
    for (fixture, name) in [(HEADLESS32, "short32.image"), (HEADLESS64, "short64.image")] {
        let bytes = fs::read(fixture).unwrap();
        let img = s.write(name, &bytes[..bytes.len() / 2]);
        all_commands_fail(&s, &img, "truncated image");
        let img = s.write(name, &bytes[..100]);
        all_commands_fail(&s, &img, "truncated image");
    }
}

#[test]
fn a_v3_image_header() {
    let s = Scratch::new("v3");
    let mut bytes = fs::read(HEADLESS32).unwrap();
    bytes[..4].copy_from_slice(&6505u32.to_le_bytes());
    let img = s.write("v3.image", &bytes);
    all_commands_fail(&s, &img, "V3 image format 6505 is not supported yet");
}

#[test]
fn convert_into_a_missing_directory() {
    let s = Scratch::new("nodir");
    let img = s.copy_fixture(HEADLESS64);
    let out = s.path("nowhere").join("out.image");
    sprocket(&[&"image", &"convert", &img, &"-o", &out]).fails_with(&format!("{}: ", out.display()));
    assert_eq!(s.entries(), ["headless64.image"]);
}

// ---------------------------------------------------------------------------
// A heap that parses but holds a bad pointer
// ---------------------------------------------------------------------------

/// A copy of headless64.image with slot `slot` of the special objects array
/// set to `value(old_base, special_objects, data_size)`. Returns the path
/// and the value written.
fn patched_special(
    s: &Scratch,
    name: &str,
    slot: usize,
    value: impl Fn(u64, u64, u64) -> u64,
) -> (PathBuf, u64) {
    let mut bytes = fs::read(HEADLESS64).unwrap();
    let (data_size, old_base, special) = (u64_at(&bytes, 8), u64_at(&bytes, 16), u64_at(&bytes, 24));
    let hdr = 128 + (special - old_base) as usize;
    let num_slots = (u64_at(&bytes, hdr) >> 56) as usize;
    assert!(slot < num_slots && num_slots < 255);
    let at = hdr + 8 + 8 * slot;
    let v = value(old_base, special, data_size);
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
    (s.write(name, &bytes), v)
}

/// A pointer outside every segment is refused by the loader.
#[test]
fn a_pointer_outside_the_heap() {
    let s = Scratch::new("outside");
    let (img, v) = patched_special(&s, "outside.image", 3, |base, _, size| base + size + 0x1000);
    all_commands_fail(&s, &img, "corrupt image: ");
    let r = sprocket(&[&"image", &"verify", &img]);
    assert!(r.stderr.contains("slot 3"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("{v:#x}")),
        "the error names {v:#x}: {}",
        r.stderr
    );
}

/// A pointer into the middle of an object is refused by the loader, which
/// names the slot and the address (every command would otherwise read a
/// header that is not one).
#[test]
fn a_pointer_into_the_middle_of_an_object() {
    let s = Scratch::new("inside");
    // Slot 3 (the scheduler association) pointing at the array's own slot 1.
    let (img, v) = patched_special(&s, "inside.image", 3, |_, soa, _| soa + 16);
    all_commands_fail(&s, &img, "corrupt image: ");
    let r = sprocket(&[&"image", &"verify", &img]);
    assert!(r.stderr.contains("slot 3"), "{}", r.stderr);
    assert!(r.stderr.contains("not the start of an object"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("{v:#x}")),
        "the error names {v:#x}: {}",
        r.stderr
    );
}

/// The hidden roots (the fifth object) given a raw format: the class table
/// can no longer be read, which verify must report, not crash on.
#[test]
fn hidden_roots_with_a_raw_format() {
    let s = Scratch::new("hidden-raw");
    let mut bytes = fs::read(HEADLESS64).unwrap();
    // Objects 0-3 have fewer than 255 slots: skip them to object 4's header.
    let mut at = 128;
    for _ in 0..4 {
        let n = (u64_at(&bytes, at) >> 56) as usize;
        at += 8 + n.max(1) * 8;
    }
    assert_eq!(u64_at(&bytes, at) >> 56, 255, "object 4 has an overflow count");
    at += 8;
    let w = (u64_at(&bytes, at) & !(0x1f << 24)) | (9 << 24);
    bytes[at..at + 8].copy_from_slice(&w.to_le_bytes());
    let img = s.write("hidden-raw.image", &bytes);
    let r = sprocket(&[&"image", &"verify", &img]);
    assert!(
        r.code == Some(1) || r.code == Some(2),
        "{}: exit {:?}: {}",
        r.what,
        r.code,
        r.stderr
    );
    assert!(!r.stderr.contains("internal error"), "{}", r.stderr);
}

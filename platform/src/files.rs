//! Atomic file replacement: an image save must never leave a half-written
//! image where a good one was. We write a temporary file beside the target,
//! fsync it, rename it over the target and fsync the directory.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The temporary name used beside `target` while it is being written.
pub fn temp_path_for(target: &Path) -> PathBuf {
    let mut name = target
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "image".into());
    name.push(format!(".tmp{}", std::process::id()));
    target.with_file_name(name)
}

/// Writes `target` atomically: `fill` writes the contents into a temporary
/// file beside it; only when that succeeds and is on disk does the temporary
/// replace the target. On any error the target is untouched and the
/// temporary is removed.
pub fn write_atomically<F>(target: &Path, fill: F) -> io::Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let tmp = temp_path_for(target);
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut w = io::BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, target)?;
        if let Some(dir) = target.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            // Directory fsync makes the rename durable; not all filesystems allow it.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sprocket-files-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replaces_target() {
        let dir = scratch("ok");
        let t = dir.join("a.image");
        fs::write(&t, b"old").unwrap();
        write_atomically(&t, |w| w.write_all(b"new contents")).unwrap();
        assert_eq!(fs::read(&t).unwrap(), b"new contents");
        assert!(!temp_path_for(&t).exists());
    }

    #[test]
    fn failure_keeps_old_target() {
        let dir = scratch("fail");
        let t = dir.join("a.image");
        fs::write(&t, b"old").unwrap();
        let err = write_atomically(&t, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("died mid-save"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&t).unwrap(), b"old");
        assert!(!temp_path_for(&t).exists());
    }
}

//! Crash-safe file replacement.
//!
//! [`write_atomic`] and [`write_atomic_with`] write the new contents to a temporary
//! file in the *same directory* as the target, `fsync` it, and `rename` it over the
//! target. A reader (or a run after a crash) therefore sees either the complete old
//! file or the complete new one, never a truncated mix. After the rename the
//! directory is `fsync`ed on a best-effort basis so that the rename itself is
//! durable (Unix only; errors there are ignored).
//!
//! The temporary file is named `.<name>.tmp-<pid>-<seq>`, where `<name>` is the
//! target's file name, `<pid>` the process id and `<seq>` a per-process counter
//! (so that two threads writing the same target never share a temporary file).
//! On any error — including a panic inside the writer closure — the temporary file
//! is removed (best effort) and the target is left untouched.
//!
//! The new file is created with default permissions; permissions of the file being
//! replaced are not carried over.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Per-process counter that makes temporary file names unique across threads.
static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Atomically replaces (or creates) `path` with `bytes`.
///
/// See the [module documentation](self) for the exact protocol and guarantees.
///
/// # Errors
/// Any I/O error creating, writing, syncing or renaming the temporary file, or
/// [`io::ErrorKind::InvalidInput`] if `path` has no file name (e.g. `/` or `..`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Atomically replaces (or creates) `path` with whatever `f` writes.
///
/// `f` receives a buffered writer on the temporary file; it does not need to flush.
/// If `f` returns an error (or panics), the target is left untouched and the
/// temporary file is removed. See the [module documentation](self).
///
/// # Errors
/// The error returned by `f`, any I/O error creating, writing, syncing or renaming
/// the temporary file, or [`io::ErrorKind::InvalidInput`] if `path` has no file
/// name.
pub fn write_atomic_with(
    path: &Path,
    f: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "cannot write atomically to {}: path has no file name",
                path.display()
            ),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let seq = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}-{seq}", std::process::id()));
    let tmp_path = dir.join(tmp_name);

    let mut guard = TempGuard {
        path: Some(tmp_path.clone()),
    };
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp_path)?;
    let mut writer = BufWriter::new(file);
    f(&mut writer)?;
    let file = writer
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp_path, path)?;
    guard.path = None; // renamed: nothing to clean up
    sync_dir(dir);
    Ok(())
}

/// Removes the temporary file on drop unless it was renamed into place.
struct TempGuard {
    path: Option<PathBuf>,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// Best-effort `fsync` of a directory so a completed rename survives a crash.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, unique directory under the system temp dir; removed on drop.
    struct TestDir(PathBuf);

    impl TestDir {
        fn new(tag: &str) -> Self {
            static N: AtomicU64 = AtomicU64::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!(
                "clustersim-atomic-{tag}-{}-{n}",
                std::process::id()
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            Self(p)
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn creates_and_replaces() {
        let d = TestDir::new("replace");
        let p = d.0.join("out.csv");
        write_atomic(&p, b"a,b\n1,2\n").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"a,b\n1,2\n");
        write_atomic(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(entries(&d.0), vec!["out.csv".to_string()]);
    }

    #[test]
    fn with_closure_writes_all() {
        let d = TestDir::new("with");
        let p = d.0.join("report.txt");
        write_atomic_with(&p, |w| {
            for i in 0..1000 {
                writeln!(w, "line {i}")?;
            }
            Ok(())
        })
        .unwrap();
        let s = fs::read_to_string(&p).unwrap();
        assert_eq!(s.lines().count(), 1000);
        assert!(s.ends_with("line 999\n"));
    }

    #[test]
    fn failing_closure_keeps_old_file_and_cleans_up() {
        let d = TestDir::new("fail");
        let p = d.0.join("keep.txt");
        write_atomic(&p, b"old").unwrap();
        let err = write_atomic_with(&p, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "boom");
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(entries(&d.0), vec!["keep.txt".to_string()]);
    }

    #[test]
    fn panicking_closure_cleans_up() {
        let d = TestDir::new("panic");
        let p = d.0.join("x.bin");
        let r = std::panic::catch_unwind(|| {
            let _ = write_atomic_with(&p, |_| panic!("writer panicked"));
        });
        assert!(r.is_err());
        assert!(entries(&d.0).is_empty());
    }

    #[test]
    fn missing_dir_and_no_file_name_are_errors() {
        let d = TestDir::new("errs");
        let p = d.0.join("no-such-dir").join("f.txt");
        assert!(write_atomic(&p, b"x").is_err());
        let e = write_atomic(Path::new("/"), b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}

//! Append-only journal of finished runs, so an interrupted sweep loses nothing and
//! can resume.
//!
//! The journal is a text file with one record per line, each terminated by `'\n'`.
//! Lines are opaque strings to this module (the caller stores, e.g., one
//! RON-serialized record per line). Every [`Journal::append`] writes the line and its
//! newline with a single `write_all` on an unbuffered file opened in append mode, so
//! after a crash the file holds a sequence of complete lines possibly followed by
//! one *torn* line (a prefix of a record without its trailing newline).
//! [`Journal::open`] drops such a torn tail by truncating the file, and returns the
//! complete lines.
//!
//! `append` does not `fsync`: the data reaches the operating system (it survives a
//! killed or crashed *process*) but not necessarily the disk (a power loss can drop
//! recent lines — they are then simply re-run on resume). Call [`Journal::sync`]
//! for durability against power loss, e.g. at the end of a sweep.
//!
//! One journal file must be written by at most one `Journal` at a time; there is no
//! inter-process locking. Share a `Journal` between threads behind a `Mutex`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// An open, append-only journal file. See the [module documentation](self).
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    /// Length in bytes of the file's committed content (complete lines only).
    len: u64,
    /// Number of complete lines in the file.
    lines: usize,
}

impl Journal {
    /// Opens (creating if necessary) the journal at `path` and returns it together
    /// with the complete lines already in it, in file order, without their `'\n'`.
    ///
    /// A torn last line (bytes after the final `'\n'`) is truncated away from the
    /// file and not returned. Empty lines are returned as empty strings. A
    /// trailing `'\r'` is *not* stripped (lines are opaque).
    ///
    /// # Errors
    /// Any I/O error opening, reading or truncating the file, or
    /// [`io::ErrorKind::InvalidData`] if a complete line is not valid UTF-8 (the
    /// file is left untouched in that case).
    pub fn open(path: &Path) -> io::Result<(Self, Vec<String>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(complete);
        let text = String::from_utf8(bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("journal {} is not valid UTF-8: {e}", path.display()),
            )
        })?;
        let lines: Vec<String> = text.split_terminator('\n').map(str::to_owned).collect();
        let len = complete as u64;
        if file.metadata()?.len() != len {
            file.set_len(len)?;
            file.sync_all()?;
        }
        let journal = Self {
            file,
            path: path.to_path_buf(),
            len,
            lines: lines.len(),
        };
        Ok((journal, lines))
    }

    /// Appends `line` followed by `'\n'`, and flushes it to the operating system.
    ///
    /// If the write fails part-way, the file is truncated back to its previous
    /// length (best effort) so that later appends do not glue onto a torn line.
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] if `line` contains `'\n'` (nothing is
    /// written), or any I/O error from writing.
    pub fn append(&mut self, line: &str) -> io::Result<()> {
        if line.contains('\n') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "journal line must not contain a newline",
            ));
        }
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        if let Err(e) = self.file.write_all(&buf).and_then(|()| self.file.flush()) {
            let _ = self.file.set_len(self.len);
            return Err(e);
        }
        self.len += buf.len() as u64;
        self.lines += 1;
        Ok(())
    }

    /// `fsync`s the journal's data to disk (see the [module documentation](self)).
    ///
    /// # Errors
    /// Any I/O error from the sync.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Number of complete lines in the journal (those returned by
    /// [`open`](Self::open) plus those appended since).
    #[must_use]
    pub const fn len(&self) -> usize {
        self.lines
    }

    /// `true` if the journal holds no lines.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// The path the journal was opened with.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A fresh, unique directory under the system temp dir; removed on drop.
    struct TestDir(PathBuf);

    impl TestDir {
        fn new(tag: &str) -> Self {
            static N: AtomicU64 = AtomicU64::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!(
                "clustersim-journal-{tag}-{}-{n}",
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

    #[test]
    fn append_and_reopen() {
        let d = TestDir::new("reopen");
        let p = d.0.join("runs.journal");
        let (mut j, existing) = Journal::open(&p).unwrap();
        assert!(existing.is_empty() && j.is_empty());
        j.append("(point: 0, rep: 0, p99: 1.5)").unwrap();
        j.append("").unwrap();
        j.append("third ✓").unwrap();
        j.sync().unwrap();
        assert_eq!(j.len(), 3);
        assert_eq!(j.path(), p.as_path());
        drop(j);

        let (mut j, existing) = Journal::open(&p).unwrap();
        assert_eq!(
            existing,
            vec!["(point: 0, rep: 0, p99: 1.5)", "", "third ✓"]
        );
        assert_eq!(j.len(), 3);
        j.append("fourth").unwrap();
        drop(j);
        let (_, existing) = Journal::open(&p).unwrap();
        assert_eq!(existing.len(), 4);
        assert_eq!(existing[3], "fourth");
    }

    #[test]
    fn torn_last_line_is_truncated() {
        let d = TestDir::new("torn");
        let p = d.0.join("runs.journal");
        fs::write(&p, b"one\ntwo\nthr").unwrap();
        let (mut j, existing) = Journal::open(&p).unwrap();
        assert_eq!(existing, vec!["one", "two"]);
        assert_eq!(fs::read(&p).unwrap(), b"one\ntwo\n");
        j.append("three").unwrap();
        drop(j);
        assert_eq!(fs::read(&p).unwrap(), b"one\ntwo\nthree\n");

        // A file holding only a torn line becomes empty.
        let q = d.0.join("only-torn.journal");
        fs::write(&q, b"partial record").unwrap();
        let (j, existing) = Journal::open(&q).unwrap();
        assert!(existing.is_empty() && j.is_empty());
        assert_eq!(fs::metadata(&q).unwrap().len(), 0);
    }

    #[test]
    fn newline_in_line_is_rejected() {
        let d = TestDir::new("newline");
        let p = d.0.join("runs.journal");
        let (mut j, _) = Journal::open(&p).unwrap();
        let e = j.append("a\nb").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(j.is_empty());
        assert_eq!(fs::metadata(&p).unwrap().len(), 0);
    }

    #[test]
    fn invalid_utf8_is_an_error_and_file_untouched() {
        let d = TestDir::new("utf8");
        let p = d.0.join("runs.journal");
        fs::write(&p, b"ok\n\xff\xfe\ntorn").unwrap();
        let e = Journal::open(&p).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(fs::read(&p).unwrap(), b"ok\n\xff\xfe\ntorn");
    }
}

//! Errors for scenario files: located syntax errors, collected semantic diagnostics, and
//! "did you mean" suggestions.
//!
//! Two kinds of failure reach the user:
//!
//! - **Syntax** errors come from parsing (malformed RON, unknown fields or variants, type
//!   mismatches, bad quantity text). They carry a line, a column, the serde path of the value
//!   and a snippet of the source with a caret underline:
//!
//!   ```text
//!   error: x.ron:11:49: components[3].kind.LoadBalancer.policy: unexpected variant named ...
//!      |
//!   11 |         (name: "lb", kind: LoadBalancer(policy: LeastConn, backends: ["r1"])),
//!      |                                                 ^^^^^^^^^
//!   ```
//!
//! - **Semantic** errors come from validation after parsing (unknown names, duplicates,
//!   `min > max`, ...). Each is a [`Diagnostic`] with a serde-style path such as
//!   `components[3].kind.LoadBalancer.backends[1]`, a message and an optional hint. They carry
//!   **no line or column**: `ron` has no `Spanned<T>`, so positions are lost once a value has
//!   been deserialized, and we do not fake them. The path is enough to find the spot.

use std::fmt;
use std::path::{Path, PathBuf};

/// One semantic problem found after parsing, located by its serde path.
///
/// Has no line or column: `ron` cannot report positions of already-parsed values (see the
/// module docs). `Display` renders `path: message`, plus `\n  hint: ...` when there is a hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Serde-style path of the offending value, e.g. `components[3].node`; empty for the whole
    /// file.
    pub path: String,
    /// What is wrong, e.g. ``unknown node `db-4` ``.
    pub message: String,
    /// How to fix it, e.g. ``did you mean `db-2`?``.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `path` with `message` and no hint.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            path: path.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// The same diagnostic with `hint` attached (replacing any earlier hint).
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// ``unknown <what> `<name>` `` at `path`, with a hint: ``did you mean `x`?`` when a
    /// candidate is close (see [`did_you_mean`]), otherwise the list of known names (the first
    /// ten), or no hint when there are no candidates.
    pub fn unknown_name<'a>(
        path: impl Into<String>,
        what: &str,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Diagnostic {
        let candidates: Vec<&str> = candidates.into_iter().collect();
        let diag = Diagnostic::new(path, format!("unknown {what} `{name}`"));
        if let Some(best) = did_you_mean(name, candidates.iter().copied()) {
            diag.with_hint(format!("did you mean `{best}`?"))
        } else if candidates.is_empty() {
            diag
        } else {
            let mut list = candidates
                .iter()
                .take(10)
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ");
            if candidates.len() > 10 {
                list.push_str(&format!(", ... ({} in all)", candidates.len()));
            }
            diag.with_hint(format!("expected one of {list}"))
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// Why a scenario file could not be loaded.
///
/// `Display` is self-contained and multi-line, ready for `eprintln!("{err}")`:
///
/// - `Io`: `error: <file>: cannot read the scenario file: <io error>`.
/// - `Syntax`: `error: <file>:<line>:<column>: <path>: <message>` followed by the snippet
///   (the `<path>: ` part is left out when the error is at the top level).
/// - `Semantic`: one `error: <file>: <path>: <message>` line per diagnostic, each followed by
///   `  hint: ...` when it has one, then a count line (`1 error`, `3 errors`).
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("error: {}: cannot read the scenario file: {source}", file.display())]
    Io {
        /// The file that was being read.
        file: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The text is not a valid scenario: malformed RON, an unknown field or variant, a value
    /// of the wrong type or a quantity with bad text.
    #[error("{}", render_syntax(file, *line, *column, path, message, snippet))]
    Syntax {
        /// The file that was parsed.
        file: PathBuf,
        /// 1-based line of the start of the error span.
        line: usize,
        /// 1-based column (in characters) of the start of the error span.
        column: usize,
        /// Serde path of the value being parsed, e.g. `nodes[1].name`; empty at the top level.
        path: String,
        /// What went wrong, e.g. ``unexpected field named `nmae` ...``.
        message: String,
        /// The rendered source excerpt with gutter and caret underline (see
        /// [`render_snippet`]); empty when no source line is available.
        snippet: String,
    },
    /// The file parsed but describes an invalid scenario. Holds every problem found, in
    /// file order where possible.
    #[error("{}", render_semantic(file, diagnostics))]
    Semantic {
        /// The file that was validated.
        file: PathBuf,
        /// Every problem found.
        diagnostics: Vec<Diagnostic>,
    },
}

impl ScenarioError {
    /// A syntax error at 1-based `start` = `(line, column)` to `end` (exclusive) in `source`,
    /// with the snippet rendered by [`render_snippet`]. A leading `"."` path (the root, as
    /// `serde_path_to_error` prints it) is dropped.
    pub fn syntax(
        file: &Path,
        source: &str,
        start: (usize, usize),
        end: (usize, usize),
        path: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::Syntax {
            file: file.to_path_buf(),
            line: start.0,
            column: start.1,
            path: if path == "." {
                String::new()
            } else {
                path.to_owned()
            },
            message: message.into(),
            snippet: render_snippet(source, start, end),
        }
    }

    /// A semantic error holding `diagnostics`.
    pub fn semantic(file: &Path, diagnostics: Vec<Diagnostic>) -> ScenarioError {
        ScenarioError::Semantic {
            file: file.to_path_buf(),
            diagnostics,
        }
    }

    /// The file the error is about.
    pub fn file(&self) -> &Path {
        match self {
            ScenarioError::Io { file, .. }
            | ScenarioError::Syntax { file, .. }
            | ScenarioError::Semantic { file, .. } => file,
        }
    }

    /// `(line, column)` of a syntax error; `None` for the other kinds.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        match self {
            ScenarioError::Syntax { line, column, .. } => Some((*line, *column)),
            _ => None,
        }
    }

    /// The diagnostics of a semantic error; empty for the other kinds.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ScenarioError::Semantic { diagnostics, .. } => diagnostics,
            _ => &[],
        }
    }
}

fn render_syntax(
    file: &Path,
    line: usize,
    column: usize,
    path: &str,
    message: &str,
    snippet: &str,
) -> String {
    let mut out = format!("error: {}:{line}:{column}: ", file.display());
    if !path.is_empty() {
        out.push_str(path);
        out.push_str(": ");
    }
    out.push_str(message);
    if !snippet.is_empty() {
        out.push('\n');
        out.push_str(snippet);
    }
    out
}

fn render_semantic(file: &Path, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&format!("error: {}: {d}\n", file.display()));
    }
    let n = diagnostics.len();
    out.push_str(&format!("{n} error{}", if n == 1 { "" } else { "s" }));
    out
}

/// Widest source excerpt shown, in display columns; longer lines are cut around the span.
const MAX_SNIPPET_WIDTH: usize = 120;
/// Display width of a tab in snippets.
const TAB_WIDTH: usize = 4;

/// Renders the source line of `start` with a gutter and a caret underline from `start` to
/// `end`, both 1-based `(line, column)` positions with columns counted in characters (as
/// `ron` reports them); `end` is exclusive.
///
/// ```text
///    |
/// 11 |         (name: "lb", kind: LoadBalancer(policy: LeastConn)),
///    |                                                 ^^^^^^^^^
/// ```
///
/// At least one `^` is drawn. A span reaching past the end of its first line is underlined
/// to the end of that line; positions past the end of the line or of the source put the
/// caret just after the last character. Tabs are shown as four spaces, control characters
/// as `�`, East Asian wide characters take two columns, and lines wider than 120 columns are
/// cut to a window around the span with `…`. Never panics; returns an empty string for
/// `line == 0`.
pub fn render_snippet(source: &str, start: (usize, usize), end: (usize, usize)) -> String {
    let (line_no, col) = start;
    if line_no == 0 {
        return String::new();
    }
    let text = source.split('\n').nth(line_no - 1).unwrap_or("");
    let text = text.strip_suffix('\r').unwrap_or(text);
    let chars: Vec<char> = text.chars().collect();

    // Span in character indices [from, to) within this line.
    let from = col.saturating_sub(1).min(chars.len());
    let to = if end.0 == line_no {
        end.1.saturating_sub(1).min(chars.len())
    } else {
        chars.len()
    };
    let to = if end.0 < line_no || to <= from {
        from + 1
    } else {
        to
    };

    // Display cells per character.
    let cells: Vec<(String, usize)> = chars.iter().map(|&c| display_char(c)).collect();
    let width_of = |a: usize, b: usize| -> usize {
        cells
            .get(a..b.min(cells.len()))
            .map_or(0, |s| s.iter().map(|(_, w)| w).sum())
    };

    // Window the line when it is too wide, keeping the span start visible.
    let mut first = 0;
    let mut last = chars.len();
    if width_of(0, chars.len()) > MAX_SNIPPET_WIDTH {
        while first < from && width_of(first, from) > MAX_SNIPPET_WIDTH / 3 {
            first += 1;
        }
        while last > first && width_of(first, last) > MAX_SNIPPET_WIDTH {
            last -= 1;
        }
        last = last.max((from + 1).min(chars.len()));
    }
    let prefix = if first > 0 { "…" } else { "" };
    let suffix = if last < chars.len() { "…" } else { "" };

    let mut shown = String::from(prefix);
    for (s, _) in cells.get(first..last).unwrap_or(&[]) {
        shown.push_str(s);
    }
    shown.push_str(suffix);

    let lead = prefix.chars().count() + width_of(first, from);
    let to_shown = to.min(last.max(from + 1));
    let carets = width_of(from, to_shown).max(1);

    let gutter = line_no.to_string();
    let pad = " ".repeat(gutter.len());
    let shown = shown.trim_end();
    let line_sep = if shown.is_empty() { "" } else { " " };
    format!(
        "{pad} |\n{gutter} |{line_sep}{shown}\n{pad} | {}{}",
        " ".repeat(lead),
        "^".repeat(carets)
    )
}

/// How a source character is shown in a snippet, and its display width.
fn display_char(c: char) -> (String, usize) {
    match c {
        '\t' => (" ".repeat(TAB_WIDTH), TAB_WIDTH),
        c if c.is_control() => ("\u{FFFD}".into(), 1),
        c if is_zero_width(c) => (c.to_string(), 0),
        c if is_wide(c) => (c.to_string(), 2),
        c => (c.to_string(), 1),
    }
}

/// Combining marks and zero-width characters (a small, dependency-free approximation).
fn is_zero_width(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x200B..=0x200F | 0x20D0..=0x20FF
        | 0xFE00..=0xFE0F | 0xFE20..=0xFE2F | 0xFEFF)
}

/// East Asian wide and fullwidth characters and most emoji (a small approximation).
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x1F300..=0x1F64F | 0x1F900..=0x1F9FF
        | 0x20000..=0x2FFFD | 0x30000..=0x3FFFD)
}

/// The candidate closest to `name` by edit distance, if it is within `max(1, len(name) / 3)`
/// edits and does not differ in every character (so `C` never suggests `A`); ties go to the
/// first candidate in iteration order. An exact match is returned as is.
///
/// The distance counts insertions, deletions, substitutions and swaps of two adjacent
/// characters (optimal string alignment, a Levenshtein variant), so the common typo `nmae`
/// is one edit from `name`. Lengths are counted in characters.
///
/// ```
/// use clustersim_scenarios::diagnostic::did_you_mean;
/// assert_eq!(did_you_mean("db-4", ["db-1", "db-2", "edge"]), Some("db-1"));
/// assert_eq!(did_you_mean("nmae", ["node", "name"]), Some("name"));
/// assert_eq!(did_you_mean("leader", ["db-1", "edge"]), None);
/// ```
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let len = name.chars().count();
    let threshold = (len / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let d = edit_distance(name, candidate);
        let related = d == 0 || d < len.max(candidate.chars().count());
        if d <= threshold && related && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal string alignment distance between `a` and `b` over chars: insertions, deletions,
/// substitutions and adjacent transpositions each cost one (so `retyr` is one edit from
/// `retry`). `strsim`'s implementation.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("db-1", "db-2"), 1);
        assert_eq!(edit_distance("héllo", "hello"), 1);
        assert_eq!(edit_distance("nmae", "name"), 1);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("ca", "abc"), 3);
        assert_eq!(edit_distance("flaw", "lawn"), 2);
    }

    #[test]
    fn did_you_mean_threshold_and_ties() {
        assert_eq!(did_you_mean("db-4", ["db-1", "db-2", "edge"]), Some("db-1"));
        assert_eq!(did_you_mean("db-4", ["edge", "db-2", "db-1"]), Some("db-2"));
        assert_eq!(
            did_you_mean("replca", ["client", "replica"]),
            Some("replica")
        );
        assert_eq!(
            did_you_mean("LeastConn", ["RoundRobin", "LeastOutstanding", "Random"]),
            None
        );
        assert_eq!(did_you_mean("x", ["y", "zz"]), None);
        assert_eq!(did_you_mean("x", ["y", "xz"]), Some("xz"));
        assert_eq!(did_you_mean("C", ["A", "B"]), None);
        assert_eq!(did_you_mean("", ["", "a"]), Some(""));
        assert_eq!(did_you_mean("leader", ["db-1", "edge"]), None);
        assert_eq!(did_you_mean("edge", ["edge", "edg"]), Some("edge"));
        assert_eq!(did_you_mean("a", std::iter::empty::<&str>()), None);
        // Threshold: 9 chars allows 3 edits, 4 does not.
        assert_eq!(did_you_mean("abcdefghi", ["abcdefXYZ"]), Some("abcdefXYZ"));
        assert_eq!(did_you_mean("abcdefghi", ["abcdeWXYZ"]), None);
    }

    #[test]
    fn unknown_name_hints() {
        let d = Diagnostic::unknown_name("components[0].node", "node", "db-4", ["db-1", "edge"]);
        assert_eq!(
            d.to_string(),
            "components[0].node: unknown node `db-4`\n  hint: did you mean `db-1`?"
        );
        let d = Diagnostic::unknown_name("faults[2]", "node", "zzz", ["db-1", "edge"]);
        assert_eq!(d.hint.as_deref(), Some("expected one of `db-1`, `edge`"));
        let d = Diagnostic::unknown_name("x", "node", "zzz", std::iter::empty());
        assert_eq!(d.hint, None);
        let many: Vec<String> = (0..12).map(|i| format!("node-{i:02}")).collect();
        let d = Diagnostic::unknown_name("x", "node", "zzz", many.iter().map(String::as_str));
        assert!(d.hint.unwrap().ends_with("`node-09`, ... (12 in all)"));
    }

    #[test]
    fn semantic_rendering() {
        let err = ScenarioError::semantic(
            Path::new("s.ron"),
            vec![
                Diagnostic::new("components[3].node", "unknown node `db-4`")
                    .with_hint("did you mean `db-1`?"),
                Diagnostic::new("", "no nodes declared"),
            ],
        );
        assert_eq!(
            err.to_string(),
            "error: s.ron: components[3].node: unknown node `db-4`\n  hint: did you mean `db-1`?\n\
             error: s.ron: no nodes declared\n2 errors"
        );
        let one = ScenarioError::semantic(Path::new("s.ron"), vec![Diagnostic::new("seed", "bad")]);
        assert_eq!(one.to_string(), "error: s.ron: seed: bad\n1 error");
        assert_eq!(one.diagnostics().len(), 1);
        assert_eq!(one.line_column(), None);
        assert_eq!(one.file(), Path::new("s.ron"));
    }

    #[test]
    fn io_rendering_keeps_source() {
        let err = ScenarioError::Io {
            file: "missing.ron".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not found"),
        };
        assert_eq!(
            err.to_string(),
            "error: missing.ron: cannot read the scenario file: not found"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn snippet_matches_target_layout() {
        let line = r#"        (name: "lb", node: "edge", kind: LoadBalancer(policy: LeastConn)),"#;
        let source = format!("{}{line}\n)", "\n".repeat(10));
        let col = line.find("LeastConn").unwrap() + 1;
        let s = render_snippet(&source, (11, col), (11, col + 9));
        let expected = format!("   |\n11 | {line}\n   | {}^^^^^^^^^", " ".repeat(col - 1));
        assert_eq!(s, expected);
        let err = ScenarioError::syntax(
            Path::new("x.ron"),
            &source,
            (11, col),
            (11, col + 9),
            "a.b",
            "boom",
        );
        assert_eq!(
            err.to_string(),
            format!("error: x.ron:11:{col}: a.b: boom\n{expected}")
        );
        assert_eq!(err.line_column(), Some((11, col)));
        let root = ScenarioError::syntax(Path::new("x.ron"), &source, (1, 1), (1, 1), ".", "boom");
        assert!(root.to_string().starts_with("error: x.ron:1:1: boom\n"));
    }

    #[test]
    fn snippet_edge_cases() {
        // Empty span: one caret.
        assert_eq!(
            render_snippet("abc", (1, 2), (1, 2)),
            "  |\n1 | abc\n  |  ^"
        );
        // Multi-line span: underline to the end of the first line.
        assert_eq!(
            render_snippet("abcdef\nxyz", (1, 3), (2, 2)),
            "  |\n1 | abcdef\n  |   ^^^^"
        );
        // End before start: one caret.
        assert_eq!(
            render_snippet("abc", (1, 3), (1, 1)),
            "  |\n1 | abc\n  |   ^"
        );
        // Past the end of the line and of the file.
        assert_eq!(
            render_snippet("abc", (1, 9), (1, 12)),
            "  |\n1 | abc\n  |    ^"
        );
        assert_eq!(render_snippet("abc\n", (2, 1), (2, 1)), "  |\n2 |\n  | ^");
        assert_eq!(render_snippet("abc", (7, 4), (7, 4)), "  |\n7 |\n  | ^");
        assert_eq!(render_snippet("", (1, 1), (1, 1)), "  |\n1 |\n  | ^");
        assert_eq!(render_snippet("abc", (0, 0), (0, 0)), "");
        // Tabs expand to four columns, CRLF is stripped, control characters are replaced.
        assert_eq!(
            render_snippet("\tab\r\n", (1, 2), (1, 3)),
            "  |\n1 |     ab\n  |     ^"
        );
        assert_eq!(
            render_snippet("a\u{7}b", (1, 3), (1, 4)),
            "  |\n1 | a\u{FFFD}b\n  |   ^"
        );
        // Non-ASCII: columns count characters; wide characters take two cells.
        assert_eq!(
            render_snippet("é: x", (1, 4), (1, 5)),
            "  |\n1 | é: x\n  |    ^"
        );
        assert_eq!(
            render_snippet("名前: x", (1, 5), (1, 6)),
            "  |\n1 | 名前: x\n  |       ^"
        );
        assert_eq!(
            render_snippet("a\u{301}b", (1, 3), (1, 4)),
            "  |\n1 | a\u{301}b\n  |  ^"
        );
    }

    #[test]
    fn snippet_windows_long_lines() {
        let line = format!("{}TARGET{}", "x".repeat(300), "y".repeat(300));
        let s = render_snippet(&line, (1, 301), (1, 307));
        let lines: Vec<&str> = s.lines().collect();
        assert!(
            lines[1].starts_with("1 | …x") && lines[1].ends_with("y…"),
            "{s}"
        );
        assert!(lines[1].chars().count() <= MAX_SNIPPET_WIDTH + 8, "{s}");
        let caret_at = lines[2].find('^').unwrap();
        assert_eq!(&lines[1][caret_at + 2..caret_at + 2 + 6], "TARGET", "{s}");
        assert!(lines[2].ends_with("^^^^^^"));
    }

    #[test]
    fn snippet_never_panics() {
        let sources = [
            "",
            "\n",
            "a",
            "é\t\r\n名\u{0}",
            "((\n\n))",
            "\r\r\r",
            "x\n\ny\n",
        ];
        for src in sources {
            for l in 0..6 {
                for c in 0..8 {
                    for (el, ec) in [
                        (0, 0),
                        (l, c),
                        (l, c + 3),
                        (l + 1, 1),
                        (usize::MAX, usize::MAX),
                    ] {
                        let s = render_snippet(src, (l, c), (el, ec));
                        assert!(l == 0 || s.contains('^'));
                    }
                }
            }
        }
        let _ = render_snippet("abc", (usize::MAX, usize::MAX), (usize::MAX, usize::MAX));
    }
}

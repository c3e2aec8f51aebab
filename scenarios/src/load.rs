//! Generic RON loader with located errors, and the pretty printer used by `clustersim check`
//! and `clustersim explain`.
//!
//! The loader turns any `serde` type into a [`ScenarioError::Syntax`] on failure, carrying the
//! file, the 1-based line and column, the serde path of the value being read (for example
//! `components[3].kind.LoadBalancer.policy`), the message and a rendered snippet:
//!
//! 1. The text is parsed with [`options`]: the `implicit_some` and `unwrap_variant_newtypes`
//!    extensions are always on, so scenario files need no `#![enable(...)]` header (one is
//!    still accepted), optional fields take a bare value (`limit: 5`, not `limit: Some(5)`)
//!    and newtype variants take their struct fields directly
//!    (`kind: Replica(election_timeout: "150ms")`).
//! 2. `serde_path_to_error` records the path while `ron` records the position, which
//!    [`ron::Deserializer::span_error`] turns into a span.
//! 3. Anything but whitespace and comments after the value is an error (`trailing
//!    characters`).
//!
//! Semantic checks (unknown names, duplicates, ...) happen later, on the parsed value; they
//! are reported as [`ScenarioError::Semantic`] without positions (see [`crate::diagnostic`]).

use std::path::Path;

use ron::error::{Error as RonError, SpannedError};
use ron::extensions::Extensions;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::diagnostic::{ScenarioError, did_you_mean};

/// The `ron` options every scenario file is read with: the default options plus the
/// `implicit_some` and `unwrap_variant_newtypes` extensions (and `ron`'s default recursion
/// limit, so deeply nested input fails cleanly instead of overflowing the stack).
pub fn options() -> ron::Options {
    ron::Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME | Extensions::UNWRAP_VARIANT_NEWTYPES)
}

/// Parses `source` as a `T`; `file` is only used in error messages.
///
/// Errors are [`ScenarioError::Syntax`] with the line, column, serde path and a snippet; see
/// the module docs.
pub fn from_str<T: DeserializeOwned>(source: &str, file: &Path) -> Result<T, ScenarioError> {
    let mut de = ron::Deserializer::from_str_with_options(source, &options())
        .map_err(|e| syntax_error(file, source, "", e))?;
    let value = match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => value,
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            return Err(syntax_error(file, source, &path, de.span_error(inner)));
        }
    };
    if let Err(e) = de.end() {
        // ron's span for trailing input starts at the end of the value; point at the first
        // trailing token instead.
        let at = source.len().saturating_sub(de.remainder().len());
        let token = token_at(source, at).chars().count().max(1);
        let (line, column) = position_at(source, at);
        return Err(ScenarioError::syntax(
            file,
            source,
            (line, column),
            (line, column + token),
            "",
            message(&e, ""),
        ));
    }
    Ok(value)
}

/// Reads the file at `path` and parses it as a `T` (see [`from_str`]).
///
/// A file that cannot be read is a [`ScenarioError::Io`] with the I/O error as its source; a
/// file that is not UTF-8 is a [`ScenarioError::Syntax`] pointing at the first bad byte.
pub fn from_file<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<T, ScenarioError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| ScenarioError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    let source = match String::from_utf8(bytes) {
        Ok(source) => source,
        Err(e) => {
            let bytes = e.as_bytes();
            let valid = &bytes[..e.utf8_error().valid_up_to()];
            // The prefix is valid UTF-8 by construction; fall back to lossy just in case.
            let valid = String::from_utf8_lossy(valid);
            let line = 1 + valid.matches('\n').count();
            let column = 1 + valid.rsplit('\n').next().map_or(0, |l| l.chars().count());
            let shown = String::from_utf8_lossy(bytes);
            return Err(ScenarioError::syntax(
                path,
                &shown,
                (line, column),
                (line, column + 1),
                "",
                "the file is not valid UTF-8",
            ));
        }
    };
    from_str(&source, path)
}

/// Serializes `value` as pretty RON (four-space indent, no struct names) that [`from_str`]
/// reads back.
///
/// Optional fields print as bare values and newtype variants without the extra parentheses,
/// matching [`options`]; the output therefore starts with the
/// `#![enable(implicit_some, unwrap_variant_newtypes)]` header, so plain `ron` readers accept
/// it too. Serialization of the types in this crate cannot fail; should a foreign `Serialize`
/// impl fail, the result is a single RON comment line stating the error.
pub fn to_pretty_ron<T: Serialize>(value: &T) -> String {
    let config = ron::ser::PrettyConfig::new()
        .extensions(Extensions::IMPLICIT_SOME | Extensions::UNWRAP_VARIANT_NEWTYPES);
    match ron::ser::to_string_pretty(value, config) {
        Ok(text) => text,
        Err(e) => format!("// cannot serialize to RON: {e}\n"),
    }
}

/// Builds the syntax error for `e`, with a tidied span and a message in the style of the rest
/// of the tool.
fn syntax_error(file: &Path, source: &str, path: &str, e: SpannedError) -> ScenarioError {
    let (start, end) = tidy_span(
        source,
        (e.span.start.line, e.span.start.col),
        (e.span.end.line, e.span.end.col),
    );
    // For "expected X" errors ron's cursor (the span end) sits on the offending input; the
    // span start is just where the previous token began. Point at the cursor.
    let text = base_message(&e.code);
    let (start, end) = if at_cursor(&e.code, &text) {
        (end, end)
    } else {
        (start, end)
    };
    let text = with_found(text, token_at(source, start));
    let start = position_at(source, start);
    let end = position_at(source, end);
    // `serde_path_to_error` prints the root as `.` and unknown segments as `?`.
    let mut path = path;
    while let Some(p) = path.strip_suffix(".?") {
        path = p;
    }
    let path = if path == "." || path == "?" { "" } else { path };
    ScenarioError::syntax(
        file,
        source,
        start,
        end,
        path,
        with_suggestion(text, &e.code),
    )
}

/// Whether `code` (rendered as `text`) describes the input at the parser's cursor rather than
/// the token just read: ron's bare "expected X" errors and the end of input.
fn at_cursor(code: &RonError, text: &str) -> bool {
    matches!(code, RonError::Eof) || (text.starts_with("expected ") && !text.contains("found"))
}

/// Byte offsets of a ron span, adjusted for display: leading whitespace inside the span is
/// skipped (ron's spans often start before the whitespace preceding a value) and a span that
/// ends on a string's closing quote is widened to include the opening quote.
fn tidy_span(source: &str, start: (usize, usize), end: (usize, usize)) -> (usize, usize) {
    let mut s = offset_of(source, start);
    let e = offset_of(source, end).max(s);
    while s < e {
        match source[s..].chars().next() {
            Some(c) if c.is_whitespace() => s += c.len_utf8(),
            _ => break,
        }
    }
    if s > 0 && s < e && source[..s].ends_with('"') && source[s..e].ends_with('"') {
        s -= 1;
    }
    (s, e)
}

/// Byte offset of the 1-based `(line, column)` position (column in characters), clamped to the
/// end of that line and of the source.
fn offset_of(source: &str, (line, column): (usize, usize)) -> usize {
    let mut offset = 0;
    for _ in 1..line {
        match source[offset..].find('\n') {
            Some(i) => offset += i + 1,
            None => return source.len(),
        }
    }
    let rest = &source[offset..];
    let line_len = rest.find('\n').unwrap_or(rest.len());
    let within = rest
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(rest.len(), |(i, _)| i);
    offset + within.min(line_len)
}

/// 1-based `(line, column)` of byte `offset` (column in characters, as ron counts).
fn position_at(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = 1 + before.matches('\n').count();
    let column = 1 + before.rsplit('\n').next().map_or(0, |l| l.chars().count());
    (line, column)
}

/// The token starting at byte `offset`: up to whitespace or a delimiter, at most 40 chars.
fn token_at(source: &str, offset: usize) -> &str {
    let rest = source.get(offset..).unwrap_or("");
    let mut end = 0;
    for (i, c) in rest.char_indices().take(40) {
        if c.is_whitespace() || (i > 0 && matches!(c, ',' | ')' | ']' | '}' | '(' | '[' | '{')) {
            break;
        }
        end = i + c.len_utf8();
    }
    &rest[..end]
}

/// A message for `code` in the style of the rest of the tool: lower-case first word, a
/// "did you mean" for near-miss names and, for bare "expected X" messages, what was found
/// (`found` is the source token at the error).
fn message(code: &RonError, found: &str) -> String {
    with_suggestion(with_found(base_message(code), found), code)
}

/// ron's message for `code`, reworded where it reads oddly and with a lower-case first word.
fn base_message(code: &RonError) -> String {
    match code {
        RonError::TrailingCharacters => "trailing characters after the scenario (only \
             whitespace and comments may follow it)"
            .to_owned(),
        RonError::Eof => "unexpected end of file".to_owned(),
        RonError::MissingStructField { field, outer } => match outer {
            Some(outer) => format!("missing field `{field}` in `{outer}`"),
            None => format!("missing field `{field}`"),
        },
        other => lowercase_first_word(&other.to_string()),
    }
}

/// Appends what was found to a bare "expected X" message.
fn with_found(mut text: String, found: &str) -> String {
    if text.starts_with("expected ") && !text.contains("found") {
        if found.is_empty() {
            text.push_str(", found the end of the file");
        } else {
            text.push_str(&format!(", found `{found}`"));
        }
    }
    text
}

/// Appends "did you mean" to unknown-variant and unknown-field messages with a near miss
/// among several choices (with a single choice ron's message already names it).
fn with_suggestion(mut text: String, code: &RonError) -> String {
    let suggestion = match code {
        RonError::NoSuchEnumVariant {
            expected, found, ..
        }
        | RonError::NoSuchStructField {
            expected, found, ..
        } if expected.len() > 1 => {
            did_you_mean(found, expected.iter().copied()).filter(|s| s != found)
        }
        _ => None,
    };
    if let Some(s) = suggestion {
        text.push_str(&format!("; did you mean `{s}`?"));
    }
    text
}

/// Lower-cases the first character when it starts an ordinary word (`Unexpected` →
/// `unexpected`), leaving acronyms and identifiers alone.
fn lowercase_first_word(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second))
            if first.is_ascii_uppercase() && second.is_ascii_lowercase() =>
        {
            let mut out = first.to_ascii_lowercase().to_string();
            out.push_str(&text[1..]);
            out
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde::Deserialize;

    use super::*;
    use crate::units::{Duration, Probability, Rate};

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Scenario {
        seed: u64,
        duration: Duration,
        #[serde(default)]
        loss: Option<Probability>,
        nodes: Vec<Node>,
        components: Vec<Component>,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Node {
        name: String,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Component {
        name: String,
        node: String,
        kind: Kind,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    enum Kind {
        Replica(Replica),
        LoadBalancer(LoadBalancer),
        Client { rate: Rate, target: String },
        Sink,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Replica {
        election_timeout: Duration,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct LoadBalancer {
        policy: Policy,
        backends: Vec<String>,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    enum Policy {
        RoundRobin,
        LeastOutstanding,
        Random,
    }

    const VALID: &str = r#"// A small scenario.
Scenario(
    seed: 42,
    duration: "30s",
    loss: "1/1000",
    nodes: [(name: "db-1"), (name: "db-2"), (name: "edge")],
    components: [
        (name: "r1", node: "db-1", kind: Replica(election_timeout: "150ms")),
        (name: "r2", node: "db-2", kind: Replica(election_timeout: "150ms")),
        (name: "clients", node: "edge", kind: Client(rate: "500/s", target: "lb")),
        (name: "lb", node: "edge",
            kind: LoadBalancer(policy: LeastOutstanding, backends: ["r1", "r2"])),
        (name: "sink", node: "edge", kind: Sink),
    ],
)
"#;

    fn file() -> &'static Path {
        Path::new("scenarios/x.ron")
    }

    fn load(source: &str) -> Result<Scenario, ScenarioError> {
        from_str(source, file())
    }

    /// Replaces `from` (which must occur once) in [`VALID`] and returns the load error.
    fn err_after(from: &str, to: &str) -> (ScenarioError, String) {
        assert_eq!(VALID.matches(from).count(), 1, "{from}");
        let source = VALID.replace(from, to);
        let err = load(&source).expect_err("should fail");
        (err, source)
    }

    fn syntax_parts(err: &ScenarioError) -> (usize, usize, &str, &str) {
        match err {
            ScenarioError::Syntax {
                line,
                column,
                path,
                message,
                ..
            } => (*line, *column, path, message),
            other => panic!("not a syntax error: {other}"),
        }
    }

    /// 1-based (line, column) of the first occurrence of `needle` in `source`.
    fn position_of(source: &str, needle: &str) -> (usize, usize) {
        let at = source.find(needle).unwrap();
        let before = &source[..at];
        let line = 1 + before.matches('\n').count();
        let col = 1 + before.rsplit('\n').next().unwrap().chars().count();
        (line, col)
    }

    #[test]
    fn valid_scenario_loads() {
        let s = load(VALID).unwrap();
        assert_eq!(s.seed, 42);
        assert_eq!(s.duration.to_string(), "30s");
        assert_eq!(s.loss.unwrap().to_ppm(), 1000);
        assert_eq!(
            s.components[2].kind,
            Kind::Client {
                rate: "500/s".parse().unwrap(),
                target: "lb".into()
            }
        );
        assert_eq!(
            s.components[3].kind,
            Kind::LoadBalancer(LoadBalancer {
                policy: Policy::LeastOutstanding,
                backends: vec!["r1".into(), "r2".into()]
            })
        );
        // An explicit header is still accepted.
        let with_header = format!("#![enable(implicit_some, unwrap_variant_newtypes)]\n{VALID}");
        assert_eq!(load(&with_header).unwrap(), s);
    }

    #[test]
    fn pretty_ron_round_trips() {
        let s = load(VALID).unwrap();
        let text = to_pretty_ron(&s);
        assert!(text.starts_with("#![enable("), "{text}");
        assert!(text.contains("duration: \"30s\""), "{text}");
        assert!(text.contains("kind: Replica(\n"), "{text}");
        assert_eq!(load(&text).unwrap(), s, "{text}");
        assert_eq!(ron::from_str::<Scenario>(&text).unwrap(), s);
    }

    #[test]
    fn unknown_variant_is_located() {
        let (err, source) = err_after("LeastOutstanding", "LeastConn");
        let (line, col, path, message) = syntax_parts(&err);
        assert_eq!((line, col), position_of(&source, "LeastConn"));
        assert_eq!(path, "components[3].kind.LoadBalancer.policy");
        assert!(
            message.starts_with("unexpected variant named `LeastConn`"),
            "{message}"
        );
        assert!(message.contains("`RoundRobin`"), "{message}");
        let text = err.to_string();
        let head = format!(
            "error: scenarios/x.ron:{line}:{col}: components[3].kind.LoadBalancer.policy: \
             unexpected variant named `LeastConn`"
        );
        assert!(text.starts_with(&head), "{text}");
        let last = text.lines().last().unwrap();
        let gutter = line.to_string().len();
        assert_eq!(last.find('^').unwrap(), gutter + 3 + col - 1, "{text}");
        assert!(last.ends_with(" ^^^^^^^^^"), "{text}");
    }

    #[test]
    fn near_miss_variant_gets_suggestion() {
        let (err, _) = err_after("LeastOutstanding", "LeastOutstandng");
        let (_, _, _, message) = syntax_parts(&err);
        assert!(
            message.ends_with("did you mean `LeastOutstanding`?"),
            "{message}"
        );
    }

    #[test]
    fn unknown_field_is_located() {
        let (err, source) = err_after(r#"(name: "db-2")"#, r#"(nmae: "db-2")"#);
        let (line, col, path, message) = syntax_parts(&err);
        assert_eq!((line, col), position_of(&source, "nmae"));
        assert_eq!(path, "nodes[1].nmae");
        assert!(
            message.contains("unexpected field named `nmae`"),
            "{message}"
        );
        assert!(message.ends_with("expected `name` instead"), "{message}");
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "x.ron:{line}:{col}: nodes[1].nmae: unexpected field"
            )),
            "{text}"
        );
        assert!(
            text.ends_with(&format!("{}^^^^", " ".repeat(col))),
            "{text}"
        );

        // With several fields to choose from, a near miss gets a suggestion.
        let (err, source) = err_after(r#"node: "db-1""#, r#"ndoe: "db-1""#);
        let (line, col, path, message) = syntax_parts(&err);
        assert_eq!((line, col), position_of(&source, "ndoe"));
        assert_eq!(path, "components[0].ndoe");
        assert!(message.ends_with("; did you mean `node`?"), "{message}");
    }

    #[test]
    fn type_mismatch_is_located() {
        let (err, source) = err_after(r#"(name: "db-2")"#, "(name: 7)");
        let (line, col, path, message) = syntax_parts(&err);
        assert_eq!(path, "nodes[1].name");
        assert_eq!((line, col), position_of(&source, "7)"));
        assert_eq!(message, "expected string, found `7`");
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "x.ron:{line}:{col}: nodes[1].name: expected string"
            )),
            "{text}"
        );
        assert!(text.ends_with(&format!("{}^", " ".repeat(col))), "{text}");

        // The value on the next line: the caret follows it.
        let (err, source) = err_after(r#"(name: "db-2")"#, "(name:\n        true)");
        let (line, col, path, message) = syntax_parts(&err);
        assert_eq!(path, "nodes[1].name");
        assert_eq!((line, col), position_of(&source, "true"));
        assert_eq!(message, "expected string, found `true`");
    }

    #[test]
    fn bad_quantity_text_is_located() {
        let (err, source) = err_after(r#""500/s""#, r#""0/s""#);
        let (line, col, path, message) = syntax_parts(&err);
        assert_eq!(path, "components[2].kind.Client.rate");
        assert!(
            message.contains("invalid rate `0/s`: a rate must be > 0"),
            "{message}"
        );
        // The underline covers the whole string literal.
        assert_eq!((line, col), position_of(&source, "\"0/s\""));
        assert!(
            err.to_string()
                .ends_with(&format!("{}^^^^^", " ".repeat(col))),
            "{err}"
        );

        let (err, _) = err_after(r#""30s""#, "30");
        let (_, _, path, message) = syntax_parts(&err);
        assert_eq!(path, "duration");
        assert!(
            message.contains("a bare number is not a duration"),
            "{message}"
        );
    }

    #[test]
    fn missing_field_names_the_field() {
        let (err, _) = err_after("    seed: 42,\n", "");
        let (_, _, path, message) = syntax_parts(&err);
        assert_eq!(message, "missing field `seed` in `Scenario`");
        assert_eq!(path, "");
    }

    #[test]
    fn trailing_characters_are_rejected() {
        let source = format!("{VALID}\n// fine\n  junk");
        let err = load(&source).unwrap_err();
        let (line, col, path, message) = syntax_parts(&err);
        assert_eq!((line, col), position_of(&source, "junk"));
        assert_eq!(path, "");
        assert!(message.starts_with("trailing characters"), "{message}");
        assert!(
            err.to_string()
                .contains(&format!("error: scenarios/x.ron:{line}:{col}: trailing"))
        );
        // Whitespace and comments after the value are fine.
        load(&format!("{VALID}\n  /* c */ // d\n\n")).unwrap();
    }

    #[test]
    fn empty_file_is_an_error() {
        for source in ["", "   \n", "// only a comment\n"] {
            let err = load(source).unwrap_err();
            let (line, col, path, message) = syntax_parts(&err);
            assert!(line >= 1 && col >= 1);
            assert_eq!(path, "");
            assert!(!message.is_empty());
            assert!(err.to_string().contains('^'), "{err}");
        }
    }

    #[test]
    fn non_ascii_columns_count_characters() {
        let source = VALID
            .replace(r#"(name: "db-1")"#, r#"(name: "ノード-1")"#)
            .replace("(name: \"db-2\")", "(name: \"é\", zone: 1)");
        let err = load(&source).unwrap_err();
        let (line, col, path, _) = syntax_parts(&err);
        assert_eq!((line, col), position_of(&source, "zone"));
        assert!(path.starts_with("nodes[1]"), "{path}");
        let text = err.to_string();
        let lines: Vec<&str> = text.lines().collect();
        let shown = lines[2];
        let carets = lines[3];
        // The caret sits under `zone` (each character here is one column wide).
        let caret_col = carets.chars().position(|c| c == '^').unwrap();
        let zone_col = shown
            .find("zone")
            .map(|b| shown[..b].chars().count())
            .unwrap();
        let wide = shown
            .chars()
            .take(zone_col)
            .filter(|c| *c >= 'ぁ' && *c <= 'ヿ')
            .count();
        assert_eq!(caret_col, zone_col + wide, "{text}");
    }

    #[test]
    fn file_errors() {
        let missing = PathBuf::from("/nonexistent/dir/none.ron");
        let err = from_file::<Scenario>(&missing).unwrap_err();
        assert!(matches!(&err, ScenarioError::Io { file, .. } if file == &missing));
        assert!(
            err.to_string()
                .starts_with("error: /nonexistent/dir/none.ron: cannot read"),
            "{err}"
        );

        let dir = std::env::temp_dir().join(format!("clustersim-load-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.ron");
        std::fs::write(&good, VALID).unwrap();
        assert_eq!(from_file::<Scenario>(&good).unwrap().seed, 42);

        let bad = dir.join("bad.ron");
        let mut bytes = b"Scenario(\n  seed: 4".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b"2,\n)");
        std::fs::write(&bad, bytes).unwrap();
        let err = from_file::<Scenario>(&bad).unwrap_err();
        assert_eq!(err.line_column(), Some((2, 10)), "{err}");
        assert!(err.to_string().contains("not valid UTF-8"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_prefix_is_ok_or_err_never_panics() {
        let mut ok = 0;
        for (i, _) in VALID.char_indices().chain([(VALID.len(), ' ')]) {
            let prefix = &VALID[..i];
            match load(prefix) {
                Ok(_) => ok += 1,
                Err(e) => {
                    let text = e.to_string();
                    assert!(text.starts_with("error: scenarios/x.ron:"), "{text}");
                    assert!(text.contains('^'), "{text}");
                }
            }
        }
        // Only the full text (with or without the final newline) parses.
        assert_eq!(ok, 2);
        // Also every suffix, and some garbage.
        for (i, _) in VALID.char_indices() {
            let _ = load(&VALID[i..]);
        }
        for junk in [
            "(((((((((",
            "]",
            "\"",
            "r#\"",
            "Scenario(seed: -1)",
            "\u{0}",
            "#![enable(",
            &"[".repeat(10_000),
        ] {
            let _ = load(junk).unwrap_err().to_string();
        }
    }

    #[test]
    fn message_style() {
        assert_eq!(lowercase_first_word("Unexpected end"), "unexpected end");
        assert_eq!(lowercase_first_word("RON is odd"), "RON is odd");
        assert_eq!(lowercase_first_word("invalid rate"), "invalid rate");
        assert_eq!(lowercase_first_word(""), "");
        assert_eq!(lowercase_first_word("É"), "É");
    }
}

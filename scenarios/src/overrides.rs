//! Generic `--set path=value` overrides and sweep parameters for any scenario type.
//!
//! `ron::Value` forgets struct and enum variant names, so an edited `ron::Value` cannot be
//! deserialized back into the scenario type. Instead, the value is serialized into a private
//! tree that keeps every serde shape (struct, unit/newtype/tuple/struct variant, newtype
//! struct, option, ...), the addressed subtree is replaced by the user's text verbatim, the
//! whole tree is printed back to RON and parsed with the loader's options
//! (`implicit_some` and `unwrap_variant_newtypes`, as in [`crate::load`]). Type errors
//! therefore come from the real `Deserialize` impls, with the serde path of the bad value.
//!
//! # Paths
//!
//! A path is a list of segments separated by `.`; the empty path is the whole value. A segment
//! selects:
//!
//! - a struct field (or struct-variant field) by name: `seed`, `duration`;
//! - in a list, the element at an index (`components.0`) or else the first element that is a
//!   struct with a `name` field equal to the segment (`components.app.workers`,
//!   `nodes.db-1.region`); indices win over names that look like numbers, and names
//!   containing `.` can only be addressed by index;
//! - in a tuple or tuple variant, the element at an index;
//! - in a map, the entry whose key (a string, number, bool, char or unit variant) prints as
//!   the segment.
//!
//! Enum variants, newtype structs and `Some(..)` are transparent when descending: with
//! `kind: Service(workers: 4)`, `kind.workers` addresses the field. Naming the variant is also
//! accepted (`kind.Service.workers`); as the last segment it addresses the enum value itself,
//! except for a newtype variant, where it addresses the content (`delay.Constant=5ms` with
//! `delay: Constant("2ms")`; a struct content is written with its parentheses, as [`value_at`]
//! prints it).
//! The last segment addresses a whole value, so `limit=5` replaces the whole `Option` (bare
//! values are fine thanks to `implicit_some`; `None` and `Some(..)` are accepted too), and
//! `kind=Other(x: 1)` switches the variant. Descending into `None` is an error: set the whole
//! option instead.
//!
//! # Values
//!
//! The value is RON text, written as in a scenario file. If it does not parse (or is not a
//! single RON value) and is not already a quoted string, it is retried as a string, so
//! `--set duration=10s` works as well as `--set 'duration="10s"'`; only when both readings
//! fail is an error reported, quoting both. For a newtype struct (`struct Label(String)`) the
//! bare content is accepted too (`label=x`, `label="x"`, `label=("x")`). A value can never
//! spill into neighbouring fields: it must be exactly one RON value. Overrides apply in
//! order, each to the result of the previous one, so later overrides win and may address
//! fields of a variant set by an earlier one.
//!
//! The printed RON (see [`value_at`]) uses no struct names, explicit `Some(..)`, and writes a
//! newtype variant's struct content without extra parentheses (`Replica(timeout: "5ms")`), as
//! the loader's `unwrap_variant_newtypes` extension requires.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use ron::extensions::Extensions;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde::ser;

/// One `path=value` override, e.g. `components.app.kind.workers=8`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    /// Dot-separated path of the value to replace (see the module docs).
    pub path: String,
    /// The new value, as RON text (an unquoted non-RON text is read as a string).
    pub value: String,
}

impl FromStr for Override {
    type Err = OverrideError;

    /// Splits `text` at the first `=`; the path is trimmed, the value is kept as written.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('=') {
            Some((path, value)) => Ok(Override {
                path: path.trim().to_owned(),
                value: value.to_owned(),
            }),
            None => Err(OverrideError::MissingEquals {
                text: text.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.path, self.value)
    }
}

/// Why an override (or a path given to [`value_at`]) was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// The override text has no `=`.
    #[error("invalid override `{text}`: expected `path=value`, e.g. `components.app.workers=8`")]
    MissingEquals {
        /// The text as given.
        text: String,
    },
    /// A path segment names nothing in the value it is applied to.
    #[error("{}", unknown_segment_message(path, segment, available, suggestion.as_deref()))]
    UnknownSegment {
        /// The path up to (not including) the segment; empty for the top level.
        path: String,
        /// The segment that matched nothing.
        segment: String,
        /// What the segment could have been: field names (then the variant's name, for an
        /// enum); list element names followed by the indices; tuple indices; map keys.
        available: Vec<String>,
        /// The entry of `available` closest to `segment`, if any is close enough.
        suggestion: Option<String>,
    },
    /// A path descends into a value that has no fields or elements (a number, a string,
    /// `None`, a unit variant, ...).
    #[error(
        "cannot select `{segment}` in `{}`: its value `{found}` has no fields or elements",
        shown_path(path)
    )]
    NotAContainer {
        /// The path of the value that cannot be descended into.
        path: String,
        /// The segment that was to be selected in it.
        segment: String,
        /// The current value there, as (possibly shortened) RON text.
        found: String,
    },
    /// The new value does not fit the addressed field.
    #[error("invalid value `{value}` for `{}`: {message}", shown_path(path))]
    InvalidValue {
        /// The override's path.
        path: String,
        /// The override's value text.
        value: String,
        /// The deserialization error(s), with the serde path of the offending value.
        message: String,
    },
    /// The value could not be converted to RON at all (a failing `Serialize` impl).
    #[error("cannot convert the value to RON: {message}")]
    Serialize {
        /// The serializer's message.
        message: String,
    },
}

/// Returns `value` with every override applied in order (see the module docs).
///
/// Each override is applied to the result of the previous one; with no overrides the result is
/// `value` printed to RON and read back.
pub fn apply_overrides<T: Serialize + DeserializeOwned>(
    value: &T,
    overrides: &[Override],
) -> Result<T, OverrideError> {
    let mut current: Option<T> = None;
    for o in overrides {
        let next = apply_one(current.as_ref().unwrap_or(value), o)?;
        current = Some(next);
    }
    match current {
        Some(v) => Ok(v),
        None => {
            let tree = to_tree(value)?;
            parse_document(&print_tree(&tree)).map_err(|message| OverrideError::InvalidValue {
                path: String::new(),
                value: String::new(),
                message: not_round_tripping(&message),
            })
        }
    }
}

/// The RON text of the value at `path` in `value`, as it would be written in a scenario file
/// (no struct names; `Some(..)` explicit; newtype variants as `Variant(field: ..)`).
///
/// Fails like [`apply_overrides`] does on a bad path, so sweep paths can be checked up front.
pub fn value_at<T: Serialize>(value: &T, path: &str) -> Result<String, OverrideError> {
    let tree = to_tree(value)?;
    let steps = resolve(&tree, path)?;
    Ok(print_tree(follow(&tree, &steps)))
}

// ---------------------------------------------------------------------------------------------
// Applying one override
// ---------------------------------------------------------------------------------------------

fn apply_one<T: Serialize + DeserializeOwned>(base: &T, o: &Override) -> Result<T, OverrideError> {
    let mut tree = to_tree(base)?;
    let steps = resolve(&tree, &o.path)?;
    let invalid = |message: String| OverrideError::InvalidValue {
        path: o.path.clone(),
        value: o.value.clone(),
        message,
    };

    let text = o.value.trim();
    let old = follow(&tree, &steps).clone();
    let mut attempt = |replacement: Tree| {
        *follow_mut(&mut tree, &steps) = replacement;
        parse_document::<T>(&print_tree(&tree))
    };

    // 1. The text as RON, as is.
    let single = check_single_value(text);
    let mut as_ron = match &single {
        Ok(()) => match attempt(Tree::Raw(text.to_owned())) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        },
        Err(e) => format!("not a single RON value ({e})"),
    };
    if single.is_ok() {
        // 2. Directly inside a newtype variant (the path named the variant), ron's
        //    `unwrap_variant_newtypes` wants a struct or tuple without its parentheses.
        if matches!(steps.last(), Some(Step::Inner))
            && let Some(inner) = strip_outer_parens(text)
        {
            match attempt(Tree::Raw(inner.to_owned())) {
                Ok(v) => return Ok(v),
                Err(e) => as_ron = e,
            }
        }
        // 3. The text as the content of the newtype struct(s) the old value was wrapped in
        //    (ron wants `Name("x")` or `("x")` for those).
        if has_newtype_layer(&old) {
            match attempt(rewrap(&old, Tree::Raw(text.to_owned()))) {
                Ok(v) => return Ok(v),
                Err(e) => as_ron = e,
            }
        }
    }
    if is_quoted(text) {
        return Err(invalid(baseline_or(base, as_ron)));
    }

    // 4. The text as a string.
    let quoted = print_tree(&Tree::Str(text.to_owned()));
    match attempt(rewrap(&old, Tree::Str(text.to_owned()))) {
        Ok(v) => Ok(v),
        Err(as_str) => Err(invalid(baseline_or(
            base,
            format!("as RON `{text}`: {as_ron}; as the string {quoted}: {as_str}"),
        ))),
    }
}

/// The inside of `text` if it is `(...)` with the first parenthesis closing at the very end
/// (strings, chars and comments are skipped when matching).
fn strip_outer_parens(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    let mut depth = 0usize;
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.checked_sub(1)?,
            '"' => loop {
                match chars.next()? {
                    '\\' => {
                        chars.next()?;
                    }
                    '"' => break,
                    _ => {}
                }
            },
            '\'' => loop {
                match chars.next()? {
                    '\\' => {
                        chars.next()?;
                    }
                    '\'' => break,
                    _ => {}
                }
            },
            'r' if matches!(chars.peek(), Some('#' | '"')) => {
                let mut hashes = 0;
                while chars.next_if_eq(&'#').is_some() {
                    hashes += 1;
                }
                // Otherwise a raw identifier such as `r#type`.
                if chars.next_if_eq(&'"').is_some() {
                    'raw: loop {
                        if chars.next()? == '"' {
                            for _ in 0..hashes {
                                if chars.next_if_eq(&'#').is_none() {
                                    continue 'raw;
                                }
                            }
                            break;
                        }
                    }
                }
            }
            '/' if chars.next_if_eq(&'/').is_some() => {
                while chars.next_if(|&c| c != '\n').is_some() {}
            }
            '/' if chars.next_if_eq(&'*').is_some() => {
                let mut prev = ' ';
                loop {
                    let c = chars.next()?;
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            _ => {}
        }
    }
    (depth == 0).then_some(inner)
}

/// Whether `tree` is a newtype struct, possibly inside `Some(..)`.
fn has_newtype_layer(tree: &Tree) -> bool {
    match tree {
        Tree::NewtypeStruct(..) => true,
        Tree::Some(inner) => has_newtype_layer(inner),
        _ => false,
    }
}

/// `new` wrapped in the `Some(..)` and newtype struct layers around the innermost value of
/// `old` (if there is a newtype struct among them; otherwise `new` itself).
fn rewrap(old: &Tree, new: Tree) -> Tree {
    if !has_newtype_layer(old) {
        return new;
    }
    match old {
        Tree::NewtypeStruct(name, inner) => Tree::NewtypeStruct(name, Box::new(rewrap(inner, new))),
        Tree::Some(inner) => Tree::Some(Box::new(rewrap(inner, new))),
        _ => new,
    }
}

/// `message`, unless `base` itself does not survive printing and re-reading: then that is
/// the real problem and is reported instead.
fn baseline_or<T: Serialize + DeserializeOwned>(base: &T, message: String) -> String {
    let baseline = to_tree(base)
        .map_err(|e| e.to_string())
        .and_then(|tree| parse_document::<T>(&print_tree(&tree)).map(|_| ()));
    match baseline {
        Ok(()) => message,
        Err(e) => not_round_tripping(&e),
    }
}

fn not_round_tripping(message: &str) -> String {
    format!("the value cannot be read back after printing it as RON ({message}); this is a bug")
}

/// The loader's `ron` options (see [`crate::load`]).
fn ron_options() -> ron::Options {
    ron::Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME | Extensions::UNWRAP_VARIANT_NEWTYPES)
}

/// Parses a whole printed document as a `T`; the error names the serde path of the bad value.
fn parse_document<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let options = ron_options();
    let mut de =
        ron::Deserializer::from_str_with_options(text, &options).map_err(|e| e.code.to_string())?;
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let mut path = path.as_str();
        // `serde_path_to_error` prints the root as `.` and unknown segments as `?`.
        while let Some(p) = path.strip_suffix(".?") {
            path = p;
        }
        if path.is_empty() || path == "." || path == "?" {
            e.into_inner().to_string()
        } else {
            format!("at `{path}`: {}", e.inner())
        }
    })?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Whether `text` is exactly one RON value (comments and whitespace around it allowed).
fn check_single_value(text: &str) -> Result<(), String> {
    let options = ron_options();
    let mut de =
        ron::Deserializer::from_str_with_options(text, &options).map_err(|e| e.code.to_string())?;
    serde::de::Deserialize::deserialize(&mut de)
        .map(|_: serde::de::IgnoredAny| ())
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())
}

/// Whether `text` is a RON string literal already (`"..."`, `r"..."`, `r#"..."#`).
fn is_quoted(text: &str) -> bool {
    text.starts_with('"')
        || text
            .strip_prefix('r')
            .is_some_and(|rest| rest.trim_start_matches('#').starts_with('"'))
}

// ---------------------------------------------------------------------------------------------
// The tree
// ---------------------------------------------------------------------------------------------

/// A serialized value that keeps every serde shape, so that printing it gives RON text that
/// deserializes back into the original type.
#[derive(Clone, Debug, PartialEq)]
enum Tree {
    Unit,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// An `f32`, kept apart so it prints in its own shortest round-tripping form.
    Float32(f32),
    Str(String),
    Char(char),
    Bytes(Vec<u8>),
    None,
    Some(Box<Tree>),
    Seq(Vec<Tree>),
    /// A tuple or a tuple struct.
    Tuple(Vec<Tree>),
    Map(Vec<(Tree, Tree)>),
    Struct {
        #[allow(dead_code)]
        name: &'static str,
        fields: Vec<(&'static str, Tree)>,
    },
    UnitVariant {
        variant: &'static str,
    },
    NewtypeVariant {
        variant: &'static str,
        value: Box<Tree>,
    },
    TupleVariant {
        variant: &'static str,
        fields: Vec<Tree>,
    },
    StructVariant {
        variant: &'static str,
        fields: Vec<(&'static str, Tree)>,
    },
    NewtypeStruct(&'static str, Box<Tree>),
    /// Verbatim RON text (from the user, or a `u128` beyond `i128`).
    Raw(String),
}

fn to_tree<T: Serialize + ?Sized>(value: &T) -> Result<Tree, OverrideError> {
    value
        .serialize(TreeSerializer)
        .map_err(|e| OverrideError::Serialize { message: e.0 })
}

/// Error of [`TreeSerializer`]: only custom errors from `Serialize` impls.
#[derive(Debug)]
struct SerError(String);

impl fmt::Display for SerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SerError {}

impl ser::Error for SerError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        SerError(msg.to_string())
    }
}

/// A serde serializer producing a [`Tree`].
struct TreeSerializer;

/// Name under which `ron::value::RawValue` serializes (a newtype struct around its text).
const RON_RAW_VALUE: &str = "$ron::private::RawValue";

impl ser::Serializer for TreeSerializer {
    type Ok = Tree;
    type Error = SerError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = TupleVariantBuilder;
    type SerializeMap = MapBuilder;
    type SerializeStruct = StructBuilder;
    type SerializeStructVariant = StructVariantBuilder;

    fn serialize_bool(self, v: bool) -> Result<Tree, SerError> {
        Ok(Tree::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Tree, SerError> {
        Ok(Tree::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Tree, SerError> {
        Ok(Tree::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Tree, SerError> {
        Ok(Tree::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Tree, SerError> {
        Ok(Tree::Int(v.into()))
    }
    fn serialize_i128(self, v: i128) -> Result<Tree, SerError> {
        Ok(Tree::Int(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Tree, SerError> {
        Ok(Tree::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Tree, SerError> {
        Ok(Tree::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Tree, SerError> {
        Ok(Tree::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Tree, SerError> {
        Ok(Tree::Int(v.into()))
    }
    fn serialize_u128(self, v: u128) -> Result<Tree, SerError> {
        Ok(i128::try_from(v).map_or_else(|_| Tree::Raw(v.to_string()), Tree::Int))
    }
    fn serialize_f32(self, v: f32) -> Result<Tree, SerError> {
        Ok(Tree::Float32(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Tree, SerError> {
        Ok(Tree::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Tree, SerError> {
        Ok(Tree::Char(v))
    }
    fn serialize_str(self, v: &str) -> Result<Tree, SerError> {
        Ok(Tree::Str(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Tree, SerError> {
        Ok(Tree::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Tree, SerError> {
        Ok(Tree::None)
    }
    fn serialize_some<V: Serialize + ?Sized>(self, value: &V) -> Result<Tree, SerError> {
        Ok(Tree::Some(Box::new(value.serialize(TreeSerializer)?)))
    }
    fn serialize_unit(self) -> Result<Tree, SerError> {
        Ok(Tree::Unit)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Tree, SerError> {
        Ok(Tree::Unit)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Tree, SerError> {
        Ok(Tree::UnitVariant { variant })
    }
    fn serialize_newtype_struct<V: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &V,
    ) -> Result<Tree, SerError> {
        let inner = value.serialize(TreeSerializer)?;
        Ok(match inner {
            Tree::Str(text) if name == RON_RAW_VALUE => Tree::Raw(text),
            inner => Tree::NewtypeStruct(name, Box::new(inner)),
        })
    }
    fn serialize_newtype_variant<V: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &V,
    ) -> Result<Tree, SerError> {
        Ok(Tree::NewtypeVariant {
            variant,
            value: Box::new(value.serialize(TreeSerializer)?),
        })
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, SerError> {
        Ok(SeqBuilder {
            items: Vec::with_capacity(len.unwrap_or(0)),
            tuple: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, SerError> {
        Ok(SeqBuilder {
            items: Vec::with_capacity(len),
            tuple: true,
        })
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, SerError> {
        self.serialize_tuple(len)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<TupleVariantBuilder, SerError> {
        Ok(TupleVariantBuilder {
            variant,
            fields: Vec::with_capacity(len),
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapBuilder, SerError> {
        Ok(MapBuilder {
            entries: Vec::with_capacity(len.unwrap_or(0)),
            key: None,
        })
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<StructBuilder, SerError> {
        Ok(StructBuilder {
            name,
            fields: Vec::with_capacity(len),
        })
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<StructVariantBuilder, SerError> {
        Ok(StructVariantBuilder {
            variant,
            fields: Vec::with_capacity(len),
        })
    }
}

struct SeqBuilder {
    items: Vec<Tree>,
    tuple: bool,
}

impl SeqBuilder {
    fn push<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<(), SerError> {
        self.items.push(value.serialize(TreeSerializer)?);
        Ok(())
    }
    fn finish(self) -> Tree {
        if self.tuple {
            Tree::Tuple(self.items)
        } else {
            Tree::Seq(self.items)
        }
    }
}

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Tree;
    type Error = SerError;
    fn serialize_element<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Result<Tree, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Tree;
    type Error = SerError;
    fn serialize_element<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Result<Tree, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Tree;
    type Error = SerError;
    fn serialize_field<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Result<Tree, SerError> {
        Ok(self.finish())
    }
}

struct TupleVariantBuilder {
    variant: &'static str,
    fields: Vec<Tree>,
}

impl ser::SerializeTupleVariant for TupleVariantBuilder {
    type Ok = Tree;
    type Error = SerError;
    fn serialize_field<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<(), SerError> {
        self.fields.push(value.serialize(TreeSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Tree, SerError> {
        Ok(Tree::TupleVariant {
            variant: self.variant,
            fields: self.fields,
        })
    }
}

struct MapBuilder {
    entries: Vec<(Tree, Tree)>,
    key: Option<Tree>,
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Tree;
    type Error = SerError;
    fn serialize_key<V: Serialize + ?Sized>(&mut self, key: &V) -> Result<(), SerError> {
        self.key = Some(key.serialize(TreeSerializer)?);
        Ok(())
    }
    fn serialize_value<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<(), SerError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| SerError("map value serialized before its key".to_owned()))?;
        self.entries.push((key, value.serialize(TreeSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Tree, SerError> {
        Ok(Tree::Map(self.entries))
    }
}

struct StructBuilder {
    name: &'static str,
    fields: Vec<(&'static str, Tree)>,
}

impl ser::SerializeStruct for StructBuilder {
    type Ok = Tree;
    type Error = SerError;
    fn serialize_field<V: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &V,
    ) -> Result<(), SerError> {
        self.fields.push((key, value.serialize(TreeSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Tree, SerError> {
        Ok(Tree::Struct {
            name: self.name,
            fields: self.fields,
        })
    }
}

struct StructVariantBuilder {
    variant: &'static str,
    fields: Vec<(&'static str, Tree)>,
}

impl ser::SerializeStructVariant for StructVariantBuilder {
    type Ok = Tree;
    type Error = SerError;
    fn serialize_field<V: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &V,
    ) -> Result<(), SerError> {
        self.fields.push((key, value.serialize(TreeSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Tree, SerError> {
        Ok(Tree::StructVariant {
            variant: self.variant,
            fields: self.fields,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

/// Prints `tree` as single-line RON for the loader's options.
///
/// Struct names are omitted, `Some(..)` is explicit and the content of `Some(..)` and of a
/// newtype variant is printed the way `unwrap_variant_newtypes` requires: a struct, tuple or
/// newtype struct there loses its own parentheses (`Replica(timeout: "5ms")`, not
/// `Replica((timeout: "5ms"))`, which ron 0.12 rejects with that extension on). Without the
/// extension the text needs an `#![enable(unwrap_variant_newtypes)]` header.
fn print_tree(tree: &Tree) -> String {
    let mut out = String::new();
    print_into(tree, false, &mut out);
    out
}

/// Prints `tree` into `out`; `unwrapped` is set for the direct content of `Some(..)` and of a
/// newtype variant, whose parentheses already serve as those of a struct-like value.
fn print_into(tree: &Tree, unwrapped: bool, out: &mut String) {
    match tree {
        Tree::Unit => {
            if !unwrapped {
                out.push_str("()");
            }
        }
        Tree::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Tree::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Tree::Float(x) => push_float(out, *x, format!("{x:?}")),
        Tree::Float32(x) => push_float(out, f64::from(*x), format!("{x:?}")),
        Tree::Str(s) => push_str_literal(out, s),
        Tree::Char(c) => {
            out.push('\'');
            match c {
                '\'' => out.push_str("\\'"),
                '"' => out.push('"'),
                c => push_escaped_char(out, *c),
            }
            out.push('\'');
        }
        Tree::Bytes(bytes) => {
            out.push_str("b\"");
            for &b in bytes {
                match b {
                    b'"' => out.push_str("\\\""),
                    b'\\' => out.push_str("\\\\"),
                    0x20..=0x7e => out.push(char::from(b)),
                    _ => {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
            }
            out.push('"');
        }
        Tree::None => out.push_str("None"),
        Tree::Some(inner) => {
            out.push_str("Some(");
            print_into(inner, true, out);
            out.push(')');
        }
        Tree::Seq(items) => {
            out.push('[');
            print_items(items, out);
            out.push(']');
        }
        Tree::Tuple(items) => {
            if unwrapped {
                print_items(items, out);
            } else {
                out.push('(');
                print_items(items, out);
                out.push(')');
            }
        }
        Tree::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                print_into(k, false, out);
                out.push_str(": ");
                print_into(v, false, out);
            }
            out.push('}');
        }
        Tree::Struct { fields, .. } => {
            if unwrapped {
                print_fields(fields, out);
            } else {
                out.push('(');
                print_fields(fields, out);
                out.push(')');
            }
        }
        Tree::UnitVariant { variant } => push_identifier(out, variant),
        Tree::NewtypeVariant { variant, value } => {
            push_identifier(out, variant);
            out.push('(');
            print_into(value, true, out);
            out.push(')');
        }
        Tree::TupleVariant { variant, fields } => {
            push_identifier(out, variant);
            out.push('(');
            print_items(fields, out);
            out.push(')');
        }
        Tree::StructVariant { variant, fields } => {
            push_identifier(out, variant);
            out.push('(');
            print_fields(fields, out);
            out.push(')');
        }
        Tree::NewtypeStruct(_, inner) => {
            if unwrapped {
                // ron lets the parentheses of `Some(..)` / `Variant(..)` stand for those of
                // the newtype struct; its content is then read as usual.
                print_into(inner, false, out);
            } else {
                out.push('(');
                print_into(inner, false, out);
                out.push(')');
            }
        }
        Tree::Raw(text) => {
            out.push_str(text);
            if text.contains("//") {
                // A line comment in the user's text must not swallow what follows it.
                out.push('\n');
            }
        }
    }
}

fn print_items(items: &[Tree], out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        print_into(item, false, out);
    }
}

fn print_fields(fields: &[(&'static str, Tree)], out: &mut String) {
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_identifier(out, name);
        out.push_str(": ");
        print_into(value, false, out);
    }
}

/// Pushes a float: `debug` (Rust's shortest round-tripping form, which always has a `.` or an
/// exponent) for finite values, `inf`, `-inf` or `NaN` otherwise.
fn push_float(out: &mut String, x: f64, debug: String) {
    if x.is_nan() {
        out.push_str("NaN");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
    } else if debug.contains(['.', 'e', 'E']) {
        out.push_str(&debug);
    } else {
        out.push_str(&debug);
        out.push_str(".0");
    }
}

fn push_str_literal(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            c => push_escaped_char(out, c),
        }
    }
    out.push('"');
}

/// Pushes `c` for a string or char literal: backslash, control characters escaped.
fn push_escaped_char(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c if c.is_control() => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// Pushes a field or variant name, as a raw identifier (`r#name`) unless it is a plain one.
fn push_identifier(out: &mut String, name: &str) {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && !matches!(
            name,
            "true"
                | "false"
                | "Some"
                | "None"
                | "inf"
                | "inff32"
                | "inff64"
                | "NaN"
                | "NaNf32"
                | "NaNf64"
        );
    if !plain {
        out.push_str("r#");
    }
    out.push_str(name);
}

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

/// One move from a node to a child.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Into the content of `Some(..)`, a newtype struct or a newtype variant.
    Inner,
    /// To a field of a struct or struct variant.
    Field(usize),
    /// To an element of a list, tuple or tuple variant.
    Elem(usize),
    /// To the value of a map entry.
    MapValue(usize),
}

/// The steps from `root` to the value at `path`.
fn resolve(root: &Tree, path: &str) -> Result<Vec<Step>, OverrideError> {
    let mut steps = Vec::new();
    if path.is_empty() {
        return Ok(steps);
    }
    let mut node = root;
    let mut done: Vec<&str> = Vec::new();
    for segment in path.split('.') {
        // Transparent wrappers; naming a newtype variant selects its content.
        let mut consumed = false;
        let mut peeled_variant = None;
        loop {
            match node {
                Tree::Some(inner) | Tree::NewtypeStruct(_, inner) => {
                    steps.push(Step::Inner);
                    node = inner;
                }
                Tree::NewtypeVariant { variant, value } => {
                    steps.push(Step::Inner);
                    node = value;
                    peeled_variant = Some(*variant);
                    if *variant == segment {
                        consumed = true;
                        break;
                    }
                }
                _ => break,
            }
        }
        if !consumed {
            let (step, child) = select(node, segment, &done, peeled_variant)?;
            if let Some(step) = step {
                steps.push(step);
            }
            node = child;
        }
        done.push(segment);
    }
    Ok(steps)
}

/// Selects `segment` in `node` (already unwrapped); `None` as the step means the segment named
/// the node's own variant and selects the node itself. `outer_variant` is the newtype variant
/// `node` was unwrapped from, if any (listed as available in errors).
fn select<'t>(
    node: &'t Tree,
    segment: &str,
    done: &[&str],
    outer_variant: Option<&'static str>,
) -> Result<(Option<Step>, &'t Tree), OverrideError> {
    let own_variant = match node {
        Tree::StructVariant { variant, .. } | Tree::TupleVariant { variant, .. } => Some(*variant),
        _ => None,
    };
    let unknown = |mut available: Vec<String>| {
        // Naming the variant is allowed too.
        for variant in [own_variant, outer_variant].into_iter().flatten() {
            if !available.iter().any(|a| a == variant) {
                available.push(variant.to_owned());
            }
        }
        let suggestion = suggest(segment, &available);
        OverrideError::UnknownSegment {
            path: done.join("."),
            segment: segment.to_owned(),
            available,
            suggestion,
        }
    };
    let index = segment.parse::<usize>().ok();
    match node {
        Tree::Struct { fields, .. } => find_field(fields, segment)
            .map(|i| (Some(Step::Field(i)), &fields[i].1))
            .ok_or_else(|| unknown(fields.iter().map(|(n, _)| (*n).to_owned()).collect())),
        Tree::StructVariant { variant, fields } => {
            if let Some(i) = find_field(fields, segment) {
                Ok((Some(Step::Field(i)), &fields[i].1))
            } else if *variant == segment {
                Ok((None, node))
            } else {
                Err(unknown(
                    fields.iter().map(|(n, _)| (*n).to_owned()).collect(),
                ))
            }
        }
        Tree::TupleVariant { variant, fields } => match index {
            Some(i) if i < fields.len() => Ok((Some(Step::Elem(i)), &fields[i])),
            _ if *variant == segment => Ok((None, node)),
            _ => Err(unknown(indices(fields.len()))),
        },
        Tree::UnitVariant { variant } if *variant == segment => Ok((None, node)),
        Tree::Tuple(items) => match index {
            Some(i) if i < items.len() => Ok((Some(Step::Elem(i)), &items[i])),
            _ => Err(unknown(indices(items.len()))),
        },
        Tree::Seq(items) => {
            if let Some(i) = index.filter(|&i| i < items.len()) {
                return Ok((Some(Step::Elem(i)), &items[i]));
            }
            if let Some(i) = items.iter().position(|t| element_name(t) == Some(segment)) {
                return Ok((Some(Step::Elem(i)), &items[i]));
            }
            let mut available: Vec<String> = items
                .iter()
                .filter_map(element_name)
                .map(str::to_owned)
                .collect();
            available.extend(indices(items.len()));
            Err(unknown(available))
        }
        Tree::Map(entries) => entries
            .iter()
            .position(|(k, _)| key_text(k).as_deref() == Some(segment))
            .map(|i| (Some(Step::MapValue(i)), &entries[i].1))
            .ok_or_else(|| unknown(entries.iter().filter_map(|(k, _)| key_text(k)).collect())),
        other => Err(OverrideError::NotAContainer {
            path: done.join("."),
            segment: segment.to_owned(),
            found: shorten(print_tree(other)),
        }),
    }
}

fn find_field(fields: &[(&'static str, Tree)], name: &str) -> Option<usize> {
    fields.iter().position(|(n, _)| *n == name)
}

fn indices(len: usize) -> Vec<String> {
    (0..len).map(|i| i.to_string()).collect()
}

/// Strips `Some(..)`, newtype structs and newtype variants.
fn unwrap(mut tree: &Tree) -> &Tree {
    loop {
        match tree {
            Tree::Some(inner) | Tree::NewtypeStruct(_, inner) => tree = inner,
            Tree::NewtypeVariant { value, .. } => tree = value,
            other => return other,
        }
    }
}

/// The `name` field of a list element that is a struct (or struct variant) with one.
fn element_name(tree: &Tree) -> Option<&str> {
    let fields = match unwrap(tree) {
        Tree::Struct { fields, .. } | Tree::StructVariant { fields, .. } => fields,
        _ => return None,
    };
    let (_, name) = fields.iter().find(|(n, _)| *n == "name")?;
    match unwrap(name) {
        Tree::Str(s) => Some(s),
        _ => None,
    }
}

/// How a map key is written in a path, for keys that can be.
fn key_text(key: &Tree) -> Option<String> {
    match unwrap(key) {
        Tree::Str(s) => Some(s.clone()),
        Tree::Int(i) => Some(i.to_string()),
        Tree::Bool(b) => Some(b.to_string()),
        Tree::Char(c) => Some(c.to_string()),
        Tree::UnitVariant { variant } => Some((*variant).to_owned()),
        _ => None,
    }
}

fn follow<'t>(mut tree: &'t Tree, steps: &[Step]) -> &'t Tree {
    for step in steps {
        tree = match (step, tree) {
            (
                Step::Inner,
                Tree::Some(inner)
                | Tree::NewtypeStruct(_, inner)
                | Tree::NewtypeVariant { value: inner, .. },
            ) => inner,
            (Step::Field(i), Tree::Struct { fields, .. } | Tree::StructVariant { fields, .. }) => {
                &fields[*i].1
            }
            (
                Step::Elem(i),
                Tree::Seq(items) | Tree::Tuple(items) | Tree::TupleVariant { fields: items, .. },
            ) => &items[*i],
            (Step::MapValue(i), Tree::Map(entries)) => &entries[*i].1,
            _ => unreachable!("steps come from `resolve` on the same tree"),
        };
    }
    tree
}

fn follow_mut<'t>(mut tree: &'t mut Tree, steps: &[Step]) -> &'t mut Tree {
    for step in steps {
        tree = match (step, tree) {
            (
                Step::Inner,
                Tree::Some(inner)
                | Tree::NewtypeStruct(_, inner)
                | Tree::NewtypeVariant { value: inner, .. },
            ) => inner,
            (Step::Field(i), Tree::Struct { fields, .. } | Tree::StructVariant { fields, .. }) => {
                &mut fields[*i].1
            }
            (
                Step::Elem(i),
                Tree::Seq(items) | Tree::Tuple(items) | Tree::TupleVariant { fields: items, .. },
            ) => &mut items[*i],
            (Step::MapValue(i), Tree::Map(entries)) => &mut entries[*i].1,
            _ => unreachable!("steps come from `resolve` on the same tree"),
        };
    }
    tree
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

fn shown_path(path: &str) -> &str {
    if path.is_empty() { "<root>" } else { path }
}

/// At most this many entries of `available` are listed in a message.
const MAX_LISTED: usize = 30;

fn unknown_segment_message(
    path: &str,
    segment: &str,
    available: &[String],
    suggestion: Option<&str>,
) -> String {
    let mut out = if path.is_empty() {
        format!("unknown `{segment}` at the top level")
    } else {
        format!("unknown `{segment}` in `{path}`")
    };
    if available.is_empty() {
        out.push_str(" (it has nothing to select)");
    } else {
        out.push_str("; available: ");
        for (i, name) in available.iter().take(MAX_LISTED).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "`{name}`");
        }
        if available.len() > MAX_LISTED {
            let _ = write!(out, " and {} more", available.len() - MAX_LISTED);
        }
    }
    if let Some(s) = suggestion {
        let _ = write!(out, "; did you mean `{s}`?");
    }
    out
}

fn shorten(text: String) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        text
    } else {
        let mut short: String = text.chars().take(MAX).collect();
        short.push('…');
        short
    }
}

/// The candidate closest to `name` by edit distance (case-insensitive), if it is within a
/// third of the name's length (at least 1); purely numeric candidates (indices) are skipped.
fn suggest(name: &str, candidates: &[String]) -> Option<String> {
    use crate::diagnostic::edit_distance;
    let lower = name.to_lowercase();
    let threshold = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, &String)> = None;
    for candidate in candidates {
        if candidate.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let d = edit_distance(&lower, &candidate.to_lowercase());
        if d <= threshold && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c.clone())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fmt::Debug;

    use serde::de::{self, Visitor};
    use serde::{Deserialize, Deserializer, Serializer};

    use super::*;
    use crate::diagnostic::edit_distance;

    // -----------------------------------------------------------------------------------------
    // A representative schema
    // -----------------------------------------------------------------------------------------

    /// A duration in nanoseconds, written as text such as `"5ms"`.
    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Dur(u64);

    impl fmt::Display for Dur {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let ns = self.0;
            if ns != 0 && ns.is_multiple_of(1_000_000_000) {
                write!(f, "{}s", ns / 1_000_000_000)
            } else if ns != 0 && ns.is_multiple_of(1_000_000) {
                write!(f, "{}ms", ns / 1_000_000)
            } else if ns != 0 && ns.is_multiple_of(1_000) {
                write!(f, "{}us", ns / 1_000)
            } else {
                write!(f, "{ns}ns")
            }
        }
    }

    impl FromStr for Dur {
        type Err = String;
        fn from_str(s: &str) -> Result<Self, String> {
            let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let (number, unit) = s.split_at(split);
            let scale = match unit {
                "ns" => 1,
                "us" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                _ => return Err(format!("invalid duration `{s}`: expected e.g. \"5ms\"")),
            };
            let n: u64 = number
                .parse()
                .map_err(|_| format!("invalid duration `{s}`: expected e.g. \"5ms\""))?;
            Ok(Dur(n * scale))
        }
    }

    impl Serialize for Dur {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(self)
        }
    }

    impl<'de> Deserialize<'de> for Dur {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Dur;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a duration such as \"5ms\"")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                    v.parse().map_err(E::custom)
                }
            }
            d.deserialize_str(V)
        }
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Scenario {
        name: String,
        seed: u64,
        duration: Dur,
        #[serde(default)]
        loss: Option<f64>,
        #[serde(default)]
        limits: Option<Limits>,
        label: Label,
        nodes: Vec<Node>,
        components: Vec<Component>,
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default)]
        weights: BTreeMap<String, f64>,
        delay: Delay,
    }

    /// Like a distribution of durations: a newtype variant around a leaf, and a struct variant.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    enum Delay {
        Constant(Dur),
        Uniform { min: Dur, max: Dur },
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Limits {
        cpu: f64,
        mem: u64,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Label(String);

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Node {
        name: String,
        region: String,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Component {
        name: String,
        node: String,
        kind: Kind,
        #[serde(default)]
        timeout: Option<Dur>,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    enum Kind {
        Service {
            workers: u32,
            queue: Option<u32>,
            latency: Dur,
        },
        Replica(Replica),
        Pair(u32, String),
        Other {
            x: i64,
        },
        Sink,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Replica {
        election_timeout: Dur,
        peers: Vec<String>,
    }

    fn scenario() -> Scenario {
        Scenario {
            name: "base".into(),
            seed: 42,
            duration: Dur(30_000_000_000),
            loss: Some(0.01),
            limits: None,
            label: Label("lbl".into()),
            nodes: vec![
                Node {
                    name: "db-1".into(),
                    region: "eu".into(),
                },
                Node {
                    name: "edge".into(),
                    region: "us".into(),
                },
            ],
            components: vec![
                Component {
                    name: "app".into(),
                    node: "edge".into(),
                    kind: Kind::Service {
                        workers: 4,
                        queue: None,
                        latency: Dur(5_000_000),
                    },
                    timeout: None,
                },
                Component {
                    name: "db".into(),
                    node: "db-1".into(),
                    kind: Kind::Replica(Replica {
                        election_timeout: Dur(150_000_000),
                        peers: vec!["a".into(), "b".into()],
                    }),
                    timeout: Some(Dur(1_000_000_000)),
                },
                Component {
                    name: "pair".into(),
                    node: "edge".into(),
                    kind: Kind::Pair(1, "x".into()),
                    timeout: None,
                },
                Component {
                    name: "sink".into(),
                    node: "edge".into(),
                    kind: Kind::Sink,
                    timeout: None,
                },
            ],
            tags: vec!["t".into()],
            weights: BTreeMap::from([("a".into(), 1.0), ("b".into(), 2.0)]),
            delay: Delay::Constant(Dur(5_000_000)),
        }
    }

    fn set(s: &Scenario, overrides: &[&str]) -> Result<Scenario, OverrideError> {
        let overrides: Vec<Override> = overrides.iter().map(|o| o.parse().unwrap()).collect();
        apply_overrides(s, &overrides)
    }

    fn set_ok(overrides: &[&str]) -> Scenario {
        set(&scenario(), overrides).unwrap_or_else(|e| panic!("{overrides:?}: {e}"))
    }

    fn set_err(overrides: &[&str]) -> OverrideError {
        match set(&scenario(), overrides) {
            Ok(v) => panic!("{overrides:?} should fail, gave {v:?}"),
            Err(e) => e,
        }
    }

    /// Prints `value`, parses it back with the loader options and (with the header) with plain
    /// ron, checks both equal `value` and returns the text.
    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) -> String {
        let text = print_tree(&to_tree(value).unwrap());
        let back: T = parse_document(&text).unwrap_or_else(|e| panic!("{text}\n{e}"));
        assert_eq!(&back, value, "{text}");
        let with_header = format!("#![enable(unwrap_variant_newtypes)]\n{text}");
        let plain: T = ron::from_str(&with_header).unwrap_or_else(|e| panic!("{text}\n{e}"));
        assert_eq!(&plain, value, "{text}");
        text
    }

    fn component<'s>(s: &'s Scenario, name: &str) -> &'s Component {
        s.components.iter().find(|c| c.name == name).unwrap()
    }

    // -----------------------------------------------------------------------------------------
    // Printing and round trips
    // -----------------------------------------------------------------------------------------

    #[test]
    fn scenario_round_trips() {
        let text = round_trip(&scenario());
        assert!(
            text.starts_with("(name: \"base\", seed: 42, duration: \"30s\""),
            "{text}"
        );
        assert!(
            text.contains("kind: Replica(election_timeout: \"150ms\", peers: [\"a\", \"b\"])"),
            "{text}"
        );
        assert!(text.contains("kind: Pair(1, \"x\")"), "{text}");
        assert!(text.contains("kind: Sink"), "{text}");
        assert!(text.contains("timeout: Some(\"1s\")"), "{text}");
        assert!(text.contains("label: (\"lbl\")"), "{text}");
        assert!(text.contains("weights: {\"a\": 1.0, \"b\": 2.0}"), "{text}");

        let mut empty = scenario();
        empty.nodes.clear();
        empty.components.clear();
        empty.tags.clear();
        empty.weights.clear();
        empty.loss = None;
        empty.limits = Some(Limits { cpu: 0.5, mem: 0 });
        let text = round_trip(&empty);
        assert!(
            text.contains("nodes: [], components: [], tags: [], weights: {}"),
            "{text}"
        );
        assert!(
            text.contains("loss: None, limits: Some(cpu: 0.5, mem: 0)"),
            "{text}"
        );
    }

    #[test]
    fn floats_round_trip_and_look_like_floats() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct F {
            x: f64,
            y: f32,
        }
        let cases = [
            (0.1, "0.1"),
            (1e-9, "1e-9"),
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (-2.5, "-2.5"),
            (1e300, "1e300"),
            (123_456_789_012_345_680.0, "1.2345678901234568e17"),
            (f64::MAX, "1.7976931348623157e308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (x, shown) in cases {
            let y = x as f32;
            let text = round_trip(&F { x, y });
            assert_eq!(print_tree(&Tree::Float(x)), shown);
            assert!(text.starts_with(&format!("(x: {shown}, y: ")), "{text}");
        }
        assert_eq!(print_tree(&Tree::Float32(0.1)), "0.1");
        let text = print_tree(
            &to_tree(&F {
                x: f64::NAN,
                y: f32::NAN,
            })
            .unwrap(),
        );
        assert_eq!(text, "(x: NaN, y: NaN)");
        let back: F = parse_document(&text).unwrap();
        assert!(back.x.is_nan() && back.y.is_nan());
    }

    #[test]
    fn strings_and_chars_round_trip() {
        let strings = [
            "",
            "plain",
            "with \"quotes\"",
            "back\\slash",
            "\\\"",
            "\"#",
            "r#\"raw\"#",
            "line\nbreak\r\ttab",
            "nul \0 del \u{7f} esc \u{1b} nel \u{85}",
            "unicode: é ü 中文 🦀",
            "\u{301} combining first",
            "'single'",
            "{}[]():, // not a comment /* nor this */",
            "  padded  ",
        ];
        for s in strings {
            round_trip(&s.to_owned());
            round_trip(&Label(s.to_owned()));
        }
        round_trip(&strings.map(str::to_owned).to_vec());
        assert_eq!(print_tree(&Tree::Str("a\"b\\c\n".into())), r#""a\"b\\c\n""#);

        let chars = vec![
            'a', '\'', '"', '\\', '\n', '\t', '\0', '\u{7f}', 'é', '🦀', '\u{301}',
        ];
        round_trip(&chars);
        assert_eq!(print_tree(&Tree::Char('\'')), r"'\''");
        assert_eq!(print_tree(&Tree::Char('"')), "'\"'");
    }

    /// Bytes that serialize with `serialize_bytes`.
    #[derive(Debug, PartialEq)]
    struct Bytes(Vec<u8>);

    impl Serialize for Bytes {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }

    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
            }
            d.deserialize_byte_buf(V)
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct UnitStruct;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct TupleStruct(i8, bool);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Empty {}

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Wrap(Limits);

    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
    enum Color {
        Red,
        // A unit variant named like ron's keywords must print as a raw identifier.
        None,
        #[serde(rename = "odd-name")]
        Odd,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Shapes {
        Unit,
        NewUnit(()),
        NewUnitStruct(UnitStruct),
        NewTuple((u32, String)),
        NewTupleStruct(TupleStruct),
        NewNewtype(Label),
        NewWrap(Wrap),
        NewSeq(Vec<u8>),
        NewOpt(Option<u32>),
        NewOptStruct(Option<Limits>),
        NewStruct(Limits),
        NewEmpty(Empty),
        NewEnum(Color),
        NewInner(Box<Shapes>),
        Tup(u8, u8),
        Str { a: u8 },
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Kitchen {
        unit: (),
        unit_struct: UnitStruct,
        tuple: (u8, i64, String),
        one_tuple: (u32,),
        tuple_struct: TupleStruct,
        newtype: Label,
        wrap: Wrap,
        opt_newtype: Option<Label>,
        opt_wrap: Option<Wrap>,
        opt_struct: Option<Limits>,
        opt_opt: Vec<Option<Option<u32>>>,
        opt_seq: Option<Vec<u32>>,
        opt_tuple: Option<(u32, u32)>,
        opt_tuple_struct: Option<TupleStruct>,
        opt_unit: Option<()>,
        opt_enum: Option<Kind>,
        shapes: Vec<Shapes>,
        map: BTreeMap<u32, Vec<String>>,
        enum_keys: BTreeMap<Color, u8>,
        bytes: Bytes,
        ints: (i8, i64, u64, u8),
        #[serde(rename = "type")]
        kind: String,
        #[serde(rename = "odd-field")]
        odd: bool,
        #[serde(rename = "None")]
        none_named: u8,
    }

    fn kitchen() -> Kitchen {
        Kitchen {
            unit: (),
            unit_struct: UnitStruct,
            tuple: (1, -2, "three".into()),
            one_tuple: (7,),
            tuple_struct: TupleStruct(-1, true),
            newtype: Label("n".into()),
            wrap: Wrap(Limits { cpu: 1.5, mem: 3 }),
            opt_newtype: Some(Label("on".into())),
            opt_wrap: Some(Wrap(Limits { cpu: 2.5, mem: 4 })),
            opt_struct: Some(Limits { cpu: 0.1, mem: 1 }),
            opt_opt: vec![None, Some(None), Some(Some(3))],
            opt_seq: Some(vec![]),
            opt_tuple: Some((1, 2)),
            opt_tuple_struct: Some(TupleStruct(0, false)),
            opt_unit: Some(()),
            opt_enum: Some(Kind::Replica(Replica {
                election_timeout: Dur(1),
                peers: vec![],
            })),
            shapes: vec![
                Shapes::Unit,
                Shapes::NewUnit(()),
                Shapes::NewUnitStruct(UnitStruct),
                Shapes::NewTuple((1, "t".into())),
                Shapes::NewTupleStruct(TupleStruct(2, false)),
                Shapes::NewNewtype(Label("l".into())),
                Shapes::NewWrap(Wrap(Limits { cpu: 0.0, mem: 0 })),
                Shapes::NewSeq(vec![1, 2]),
                Shapes::NewOpt(None),
                Shapes::NewOpt(Some(5)),
                Shapes::NewOptStruct(Some(Limits { cpu: 1.0, mem: 2 })),
                Shapes::NewStruct(Limits { cpu: 3.0, mem: 4 }),
                Shapes::NewEmpty(Empty {}),
                Shapes::NewEnum(Color::None),
                Shapes::NewInner(Box::new(Shapes::NewStruct(Limits { cpu: 5.0, mem: 6 }))),
                Shapes::Tup(1, 2),
                Shapes::Str { a: 9 },
            ],
            map: BTreeMap::from([(1, vec!["x".into()]), (2, vec![])]),
            enum_keys: BTreeMap::from([(Color::Red, 1), (Color::None, 2), (Color::Odd, 3)]),
            bytes: Bytes(b"a\"b\\c\x00\xff".to_vec()),
            ints: (i8::MIN, i64::MIN, u64::MAX, u8::MAX),
            kind: "k".into(),
            odd: true,
            none_named: 1,
        }
    }

    #[test]
    fn every_serde_shape_round_trips() {
        let text = round_trip(&kitchen());
        for expected in [
            "unit: (), unit_struct: (), tuple: (1, -2, \"three\"), one_tuple: (7)",
            "NewUnit()",
            "NewTuple(1, \"t\")",
            "NewNewtype(\"l\")",
            "NewWrap((cpu: 0.0, mem: 0))",
            "NewStruct(cpu: 3.0, mem: 4)",
            "NewEmpty()",
            "NewEnum(r#None)",
            "NewInner(NewStruct(cpu: 5.0, mem: 6))",
            "opt_newtype: Some(\"on\")",
            "opt_wrap: Some((cpu: 2.5, mem: 4))",
            "opt_opt: [None, Some(None), Some(Some(3))]",
            "opt_unit: Some()",
            "enum_keys: {Red: 1, r#None: 2, r#odd-name: 3}",
            "bytes: b\"a\\\"b\\\\c\\x00\\xff\"",
            "type: \"k\", r#odd-field: true, r#None: 1",
        ] {
            assert!(text.contains(expected), "{expected}\nnot in\n{text}");
        }
    }

    #[test]
    fn newtype_variant_content_is_printed_unwrapped() {
        // With `unwrap_variant_newtypes` on, ron 0.12 reads a newtype variant wrapping a struct
        // only without the inner parentheses; the printer relies on that.
        let good = "Replica(election_timeout: \"1ms\", peers: [])";
        let wrapped = "Replica((election_timeout: \"1ms\", peers: []))";
        assert!(parse_document::<Kind>(good).is_ok());
        assert!(parse_document::<Kind>(wrapped).is_err());
        // Without the extension it is the other way round.
        assert!(ron::from_str::<Kind>(good).is_err());
        assert!(ron::from_str::<Kind>(wrapped).is_ok());
        assert_eq!(
            value_at(&scenario(), "components.db.kind").unwrap(),
            good.replace("1ms", "150ms").replace("[]", "[\"a\", \"b\"]")
        );
    }

    // -----------------------------------------------------------------------------------------
    // Paths
    // -----------------------------------------------------------------------------------------

    #[test]
    fn override_parsing() {
        let o: Override = "components.app.kind.workers = 8".parse().unwrap();
        assert_eq!(o.path, "components.app.kind.workers");
        assert_eq!(o.value, " 8");
        let o: Override = "name=a=b".parse().unwrap();
        assert_eq!((o.path.as_str(), o.value.as_str()), ("name", "a=b"));
        assert_eq!(o.to_string(), "name=a=b");
        let e = "seed".parse::<Override>().unwrap_err();
        assert_eq!(
            e,
            OverrideError::MissingEquals {
                text: "seed".into()
            }
        );
        let msg = e.to_string();
        assert!(
            msg.contains("`seed`") && msg.contains("path=value"),
            "{msg}"
        );
    }

    #[test]
    fn top_level_fields() {
        let s = set_ok(&["seed=7", "duration=\"2s\"", "tags=[]", "loss=0.5"]);
        assert_eq!(s.seed, 7);
        assert_eq!(s.duration, Dur(2_000_000_000));
        assert!(s.tags.is_empty());
        assert_eq!(s.loss, Some(0.5));
        let mut expected = scenario();
        expected.seed = 7;
        expected.duration = Dur(2_000_000_000);
        expected.tags.clear();
        expected.loss = Some(0.5);
        assert_eq!(s, expected, "nothing else changes");
    }

    #[test]
    fn list_elements_by_index_and_by_name() {
        let s = set_ok(&["components.0.kind.workers=8"]);
        assert!(matches!(
            component(&s, "app").kind,
            Kind::Service { workers: 8, .. }
        ));
        let s = set_ok(&["components.app.kind.workers=9"]);
        assert!(matches!(
            component(&s, "app").kind,
            Kind::Service { workers: 9, .. }
        ));
        let s = set_ok(&["nodes.db-1.region=\"ap\""]);
        assert_eq!(s.nodes[0].region, "ap");
        let s = set_ok(&["nodes.1.name=\"e2\"", "tags.0=\"u\""]);
        assert_eq!(s.nodes[1].name, "e2");
        assert_eq!(s.tags, ["u"]);
        let s = set_ok(&["components.pair.node=db-1"]);
        assert_eq!(component(&s, "pair").node, "db-1");
    }

    #[test]
    fn enum_variants_are_transparent_or_named() {
        // Struct variant: fields directly or through the variant name.
        let s = set_ok(&[
            "components.app.kind.queue=16",
            "components.app.kind.Service.latency=1us",
        ]);
        assert_eq!(
            component(&s, "app").kind,
            Kind::Service {
                workers: 4,
                queue: Some(16),
                latency: Dur(1_000)
            }
        );
        // Newtype variant wrapping a struct.
        let s = set_ok(&[
            "components.db.kind.election_timeout=300ms",
            "components.db.kind.Replica.peers.1=c",
        ]);
        assert_eq!(
            component(&s, "db").kind,
            Kind::Replica(Replica {
                election_timeout: Dur(300_000_000),
                peers: vec!["a".into(), "c".into()]
            })
        );
        // Naming a newtype variant addresses its content.
        assert_eq!(
            value_at(&scenario(), "components.db.kind.Replica").unwrap(),
            "(election_timeout: \"150ms\", peers: [\"a\", \"b\"])"
        );
        // Tuple variant: by index, with or without the variant name.
        let s = set_ok(&["components.pair.kind.1=y", "components.pair.kind.Pair.0=5"]);
        assert_eq!(component(&s, "pair").kind, Kind::Pair(5, "y".into()));
    }

    #[test]
    fn switching_the_variant() {
        let s = set_ok(&["components.app.kind=Other(x: 1)"]);
        assert_eq!(component(&s, "app").kind, Kind::Other { x: 1 });
        // Later overrides see the new variant.
        let s = set_ok(&[
            "components.app.kind=Other(x: 1)",
            "components.app.kind.x=-3",
        ]);
        assert_eq!(component(&s, "app").kind, Kind::Other { x: -3 });
        let s = set_ok(&["components.sink.kind=Replica(election_timeout: \"1s\", peers: [])"]);
        assert!(matches!(component(&s, "sink").kind, Kind::Replica(_)));
        let s = set_ok(&["components.db.kind=Sink"]);
        assert_eq!(component(&s, "db").kind, Kind::Sink);
    }

    #[test]
    fn options() {
        // `Some` is transparent when descending.
        let mut base = scenario();
        base.limits = Some(Limits { cpu: 1.0, mem: 2 });
        let s = set(&base, &["limits.cpu=2.5"]).unwrap();
        assert_eq!(s.limits, Some(Limits { cpu: 2.5, mem: 2 }));
        // Setting a `None` field replaces the whole option; bare or explicit `Some`.
        let s = set_ok(&["limits=(cpu: 4.0, mem: 8)"]);
        assert_eq!(s.limits, Some(Limits { cpu: 4.0, mem: 8 }));
        let s = set_ok(&["limits=Some(cpu: 4.0, mem: 8)", "limits.mem=9"]);
        assert_eq!(s.limits, Some(Limits { cpu: 4.0, mem: 9 }));
        let s = set_ok(&["components.app.timeout=2s", "components.db.timeout=None"]);
        assert_eq!(component(&s, "app").timeout, Some(Dur(2_000_000_000)));
        assert_eq!(component(&s, "db").timeout, None);
        let s = set_ok(&["loss=None"]);
        assert_eq!(s.loss, None);
        let s = set_ok(&["loss=Some(0.25)"]);
        assert_eq!(s.loss, Some(0.25));
        // Inside an Option inside a variant.
        let s = set_ok(&[
            "components.app.kind.queue=3",
            "components.app.kind.queue=None",
        ]);
        assert!(matches!(
            component(&s, "app").kind,
            Kind::Service { queue: None, .. }
        ));
    }

    #[test]
    fn maps_and_newtype_structs() {
        let s = set_ok(&["weights.b=0.5"]);
        assert_eq!(s.weights["b"], 0.5);
        let s = set_ok(&["weights={\"z\": 1}"]);
        assert_eq!(s.weights, BTreeMap::from([("z".into(), 1.0)]));
        // A newtype struct takes its content (quoted or not) or the full form.
        assert_eq!(set_ok(&["label=new"]).label, Label("new".into()));
        assert_eq!(set_ok(&["label=\"q\""]).label, Label("q".into()));
        assert_eq!(
            set_ok(&["label=Label(\"full\")"]).label,
            Label("full".into())
        );
        assert_eq!(set_ok(&["label=(\"anon\")"]).label, Label("anon".into()));
    }

    #[test]
    fn later_overrides_win() {
        let s = set_ok(&[
            "seed=1",
            "seed=2",
            "components.app.kind.workers=3",
            "components.0.kind.workers=5",
        ]);
        assert_eq!(s.seed, 2);
        assert!(matches!(
            component(&s, "app").kind,
            Kind::Service { workers: 5, .. }
        ));
        assert_eq!(apply_overrides(&scenario(), &[]).unwrap(), scenario());
    }

    #[test]
    fn lenient_strings() {
        assert_eq!(set_ok(&["duration=10s"]).duration, Dur(10_000_000_000));
        assert_eq!(set_ok(&["duration=\"10s\""]).duration, Dur(10_000_000_000));
        assert_eq!(set_ok(&["duration=r\"10s\""]).duration, Dur(10_000_000_000));
        assert_eq!(set_ok(&["name=hello world"]).name, "hello world");
        assert_eq!(set_ok(&["name=ident"]).name, "ident");
        assert_eq!(set_ok(&["name=  padded  "]).name, "padded");
        assert_eq!(set_ok(&["name=\"  kept  \""]).name, "  kept  ");
        assert_eq!(set_ok(&["name=5"]).name, "5");
        assert_eq!(
            set_ok(&["name=a \"quoted\" \\ word"]).name,
            "a \"quoted\" \\ word"
        );
        assert_eq!(set_ok(&["name="]).name, "");
        assert_eq!(set_ok(&["name=\"\""]).name, "");
        // Comments in a value are fine.
        assert_eq!(set_ok(&["seed=5 // five"]).seed, 5);
        assert_eq!(set_ok(&["seed=/* six */ 6"]).seed, 6);
    }

    #[test]
    fn a_value_cannot_spill_into_other_fields() {
        let e = set_err(&["components.app.kind.workers=1, queue: Some(5)"]);
        assert!(matches!(e, OverrideError::InvalidValue { .. }), "{e}");
        let s = set_ok(&["name=x), seed: (1"]);
        assert_eq!(s.name, "x), seed: (1");
        assert_eq!(s.seed, 42);
    }

    #[test]
    fn value_at_prints_subtrees() {
        let s = scenario();
        assert_eq!(value_at(&s, "seed").unwrap(), "42");
        assert_eq!(value_at(&s, "duration").unwrap(), "\"30s\"");
        assert_eq!(value_at(&s, "loss").unwrap(), "Some(0.01)");
        assert_eq!(value_at(&s, "limits").unwrap(), "None");
        assert_eq!(
            value_at(&s, "components.app.kind").unwrap(),
            "Service(workers: 4, queue: None, latency: \"5ms\")"
        );
        assert_eq!(
            value_at(&s, "components.app.kind.Service").unwrap(),
            value_at(&s, "components.app.kind").unwrap()
        );
        assert_eq!(
            value_at(&s, "components.db.timeout").unwrap(),
            "Some(\"1s\")"
        );
        assert_eq!(
            value_at(&s, "nodes.edge").unwrap(),
            "(name: \"edge\", region: \"us\")"
        );
        assert_eq!(value_at(&s, "weights.b").unwrap(), "2.0");
        assert_eq!(value_at(&s, "label").unwrap(), "(\"lbl\")");
        assert_eq!(value_at(&s, "tags").unwrap(), "[\"t\"]");
        let whole = value_at(&s, "").unwrap();
        assert_eq!(parse_document::<Scenario>(&whole).unwrap(), s);
        // Printed values can be fed back as override values.
        for path in [
            "components.db.kind",
            "components.db.kind.Replica",
            "components.db",
            "delay",
            "delay.Constant",
            "label",
            "weights",
            "",
            "components.app.kind",
            "loss",
            "nodes.edge",
            "duration",
        ] {
            let text = value_at(&s, path).unwrap();
            let o = Override {
                path: path.into(),
                value: text,
            };
            assert_eq!(apply_overrides(&s, &[o]).unwrap(), s, "{path}");
        }
        assert!(matches!(
            value_at(&s, "componets"),
            Err(OverrideError::UnknownSegment { .. })
        ));
    }

    // -----------------------------------------------------------------------------------------
    // Errors
    // -----------------------------------------------------------------------------------------

    #[test]
    fn unknown_field_lists_fields_and_suggests() {
        let e = set_err(&["sed=1"]);
        let OverrideError::UnknownSegment {
            path,
            segment,
            available,
            suggestion,
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(path, "");
        assert_eq!(segment, "sed");
        assert_eq!(
            available,
            &[
                "name",
                "seed",
                "duration",
                "loss",
                "limits",
                "label",
                "nodes",
                "components",
                "tags",
                "weights",
                "delay"
            ]
        );
        assert_eq!(suggestion.as_deref(), Some("seed"));
        let msg = e.to_string();
        assert!(msg.contains("unknown `sed` at the top level"), "{msg}");
        assert!(msg.contains("`name`, `seed`, `duration`"), "{msg}");
        assert!(msg.ends_with("did you mean `seed`?"), "{msg}");

        let e = set_err(&["components.app.kind.wrokers=1"]);
        let msg = e.to_string();
        assert!(
            msg.contains("unknown `wrokers` in `components.app.kind`"),
            "{msg}"
        );
        assert!(msg.contains("`workers`, `queue`, `latency`"), "{msg}");
        assert!(msg.contains("did you mean `workers`?"), "{msg}");

        let e = set_err(&["components.db.kind.Replica.timeout=1s"]);
        let msg = e.to_string();
        assert!(msg.contains("`election_timeout`, `peers`"), "{msg}");

        // Variant names are listed (and suggested) too.
        let e = set_err(&["components.app.kind.Servce.workers=1"]);
        let OverrideError::UnknownSegment {
            available,
            suggestion,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(available, &["workers", "queue", "latency", "Service"]);
        assert_eq!(suggestion.as_deref(), Some("Service"));
        let e = set_err(&["components.db.kind.Replca.peers=[]"]);
        assert!(
            e.to_string()
                .contains("`election_timeout`, `peers`, `Replica`; did you mean `Replica`?"),
            "{e}"
        );

        let e = set_err(&["zzzzzz=1"]);
        assert!(
            matches!(
                e,
                OverrideError::UnknownSegment {
                    suggestion: None,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(!e.to_string().contains("did you mean"), "{e}");
    }

    #[test]
    fn unknown_element_lists_names_and_indices() {
        let e = set_err(&["components.ap.kind.workers=1"]);
        let OverrideError::UnknownSegment {
            path,
            available,
            suggestion,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(path, "components");
        assert_eq!(
            available,
            &["app", "db", "pair", "sink", "0", "1", "2", "3"]
        );
        assert_eq!(suggestion.as_deref(), Some("app"));
        let msg = e.to_string();
        assert!(
            msg.contains("unknown `ap` in `components`; available: `app`, `db`"),
            "{msg}"
        );
        assert!(msg.contains("did you mean `app`?"), "{msg}");

        let e = set_err(&["tags.5=x"]);
        let msg = e.to_string();
        assert!(
            msg.contains("unknown `5` in `tags`; available: `0`"),
            "{msg}"
        );
        assert!(!msg.contains("did you mean"), "{msg}");

        let e = set_err(&["components.pair.kind.2=1"]);
        assert!(e.to_string().contains("available: `0`, `1`"), "{e}");

        let e = set_err(&["weights.c=1"]);
        let msg = e.to_string();
        assert!(msg.contains("available: `a`, `b`"), "{msg}");

        let mut empty = scenario();
        empty.tags.clear();
        let e = set(&empty, &["tags.0=x"]).unwrap_err();
        assert!(e.to_string().contains("nothing to select"), "{e}");

        let e = set_err(&["components..name=x"]);
        assert!(
            matches!(&e, OverrideError::UnknownSegment { segment, .. } if segment.is_empty()),
            "{e:?}"
        );
    }

    #[test]
    fn descending_into_a_leaf_is_not_a_container() {
        let e = set_err(&["seed.x=1"]);
        assert_eq!(
            e,
            OverrideError::NotAContainer {
                path: "seed".into(),
                segment: "x".into(),
                found: "42".into()
            }
        );
        let msg = e.to_string();
        assert!(
            msg.contains("cannot select `x` in `seed`: its value `42`"),
            "{msg}"
        );

        let e = set_err(&["limits.cpu=1"]);
        assert!(
            matches!(&e, OverrideError::NotAContainer { path, found, .. } if path == "limits" && found == "None"),
            "{e:?}"
        );
        let e = set_err(&["components.sink.kind.x=1"]);
        assert!(
            matches!(&e, OverrideError::NotAContainer { found, .. } if found == "Sink"),
            "{e:?}"
        );
        let e = set_err(&["components.app.name.first=1"]);
        assert!(e.to_string().contains("its value `\"app\"`"), "{e}");
    }

    #[test]
    fn invalid_values_carry_the_serde_path_and_both_readings() {
        let e = set_err(&["components.app.kind.workers=-3"]);
        let OverrideError::InvalidValue {
            path,
            value,
            message,
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(path, "components.app.kind.workers");
        assert_eq!(value, "-3");
        assert!(
            message.contains("components[0].kind.Service.workers"),
            "{message}"
        );
        assert!(message.contains("as RON `-3`"), "{message}");
        assert!(message.contains("as the string \"-3\""), "{message}");
        let msg = e.to_string();
        assert!(
            msg.starts_with("invalid value `-3` for `components.app.kind.workers`: "),
            "{msg}"
        );

        // A quoted value is not retried.
        let e = set_err(&["seed=\"5\""]);
        let OverrideError::InvalidValue { message, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(message.contains("at `seed`"), "{message}");
        assert!(!message.contains("as the string"), "{message}");

        // The unit type's own error shows through.
        let e = set_err(&["duration=10 parsecs"]);
        assert!(
            e.to_string().contains("invalid duration `10 parsecs`"),
            "{e}"
        );

        // Unknown field inside the new value.
        let e = set_err(&["components.app.kind=Other(y: 1)"]);
        let msg = e.to_string();
        assert!(msg.contains("components[0].kind"), "{msg}");
        assert!(msg.contains('y'), "{msg}");

        // Unknown variant.
        let e = set_err(&["components.app.kind=Nope"]);
        let msg = e.to_string();
        assert!(msg.contains("Nope"), "{msg}");
    }

    #[test]
    fn serialize_errors_are_reported() {
        struct Bad;
        impl Serialize for Bad {
            fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(ser::Error::custom("no way"))
            }
        }
        let e = value_at(&Bad, "").unwrap_err();
        assert_eq!(
            e,
            OverrideError::Serialize {
                message: "no way".into()
            }
        );
        assert!(e.to_string().contains("no way"));
    }

    #[test]
    fn edit_distances_and_suggestions() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("wrokers", "workers"), 1);
        assert_eq!(edit_distance("retyr", "retry"), 1);
        assert_eq!(edit_distance("ca", "abc"), 3);
        assert_eq!(edit_distance("é", "e"), 1);
        assert_eq!(
            suggest("retyr", &["rate".into(), "retry".into()]),
            Some("retry".into())
        );
        assert_eq!(suggest("Seed", &["seed".into()]), Some("seed".into()));
        assert_eq!(suggest("x", &["y".into(), "x1".into()]), Some("y".into()));
        assert_eq!(suggest("3", &["2".into()]), None);
    }

    #[test]
    fn newtype_variant_content() {
        // A newtype variant around a leaf: naming the variant addresses the leaf.
        let s = set_ok(&["delay.Constant=2ms"]);
        assert_eq!(s.delay, Delay::Constant(Dur(2_000_000)));
        assert_eq!(value_at(&scenario(), "delay.Constant").unwrap(), "\"5ms\"");
        assert_eq!(value_at(&scenario(), "delay").unwrap(), "Constant(\"5ms\")");
        let s = set_ok(&["delay=Uniform(min: \"1ms\", max: \"2ms\")", "delay.max=3ms"]);
        assert_eq!(
            s.delay,
            Delay::Uniform {
                min: Dur(1_000_000),
                max: Dur(3_000_000)
            }
        );
        // Around a struct: the content is accepted with its parentheses (as `value_at` prints
        // it) or without.
        let expected = Kind::Replica(Replica {
            election_timeout: Dur(1_000_000_000),
            peers: vec![],
        });
        for text in [
            "(election_timeout: \"1s\", peers: [])",
            "(election_timeout: \"1s\", /* ) */ peers: [])",
        ] {
            let o = format!("components.db.kind.Replica={text}");
            assert_eq!(component(&set_ok(&[&o]), "db").kind, expected, "{o}");
        }
    }

    #[test]
    fn outer_parentheses() {
        assert_eq!(strip_outer_parens("(a: 1)"), Some("a: 1"));
        assert_eq!(
            strip_outer_parens("((1), [2], {3: 4})"),
            Some("(1), [2], {3: 4}")
        );
        assert_eq!(strip_outer_parens("()"), Some(""));
        assert_eq!(strip_outer_parens("(a: 1), b: (2)"), None);
        assert_eq!(
            strip_outer_parens("(a: \")\", b: (2))"),
            Some("a: \")\", b: (2)")
        );
        assert_eq!(
            strip_outer_parens("(a: ')', b: '\\'')"),
            Some("a: ')', b: '\\''")
        );
        assert_eq!(
            strip_outer_parens("(a: r#\")\"#, r#type: 1)"),
            Some("a: r#\")\"#, r#type: 1")
        );
        assert_eq!(strip_outer_parens("(a: 1 // )\n)"), Some("a: 1 // )\n"));
        assert_eq!(strip_outer_parens("(a: \"unterminated)"), None);
        assert_eq!(strip_outer_parens("a: 1"), None);
        assert_eq!(strip_outer_parens("(a: 1]"), None);
    }
}

//! The positional wire codec for host methods: a method's argument struct travels as one
//! [`FfiValue`] per field, in field order; its answer as one value.
//!
//! Each field (and each answer) is encoded by the shape serde gives it, exactly as the
//! hand-written [`Encode`](crate::codec::Encode) impls did before the catalogue existed:
//!
//! | serde shape | value |
//! |---|---|
//! | `None`, `()` | `Null` |
//! | `bool`, integers, floats | `Bool`, `Int` (`u64` saturating), `Float` |
//! | `str`, `char`, unit enum variant | `Str` |
//! | bytes | `Bytes` |
//! | sequences, maps, structs, tuples, other enum variants | `Json` |
//! | a field marked [`json`] / [`json_object`], or an [`AsJson`] | `Json`, whatever the value |
//!
//! A field skipped with `skip_serializing_if` is sent as `Null` when a later field follows
//! and not at all when it is the last, so an optional trailing argument a host has always
//! accepted costs an old peer nothing. Missing trailing arguments decode as `Null`; extra
//! ones are ignored.
//!
//! Decoding is strict by serde type, and its errors name the argument as the host always
//! has: `argument 1 (type) must be a string`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde::ser::{self, Impossible, Serialize, Serializer};
use serde_json::Value;

use crate::ffi::{FfiArg, FfiValue};

/// The newtype name that marks a value sent as `Json` whatever its shape.
const JSON: &str = "$modhost::json";
/// Like [`JSON`], and decoding refuses anything but a JSON object.
const JSON_OBJECT: &str = "$modhost::json_object";

/// Why a value could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    message: String,
    kind: ErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    /// A finished message.
    Final,
    /// A message from a serde impl, still to be placed at its argument.
    Custom,
    /// Internal: the field serializer met a compound value (sent as JSON instead).
    Compound,
}

impl WireError {
    fn new(message: String) -> Self {
        WireError {
            message,
            kind: ErrorKind::Final,
        }
    }

    fn compound() -> Self {
        WireError {
            message: "compound value".into(),
            kind: ErrorKind::Compound,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn placed(self, at: At) -> Self {
        match self.kind {
            ErrorKind::Custom => WireError::new(format!("{at}: {}", self.message)),
            _ => self,
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WireError {}

impl ser::Error for WireError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        WireError {
            message: msg.to_string(),
            kind: ErrorKind::Custom,
        }
    }
}

impl de::Error for WireError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        <Self as ser::Error>::custom(msg)
    }
}

/// Where a value sits in an argument list.
#[derive(Debug, Clone, Copy)]
struct At {
    index: usize,
    name: &'static str,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name {
            "" => write!(f, "argument {}", self.index),
            name => write!(f, "argument {} ({name})", self.index),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Public entry points.

/// Encode an argument struct (or tuple, or `()`) as the positional argument list.
pub fn encode_args<T: Serialize + ?Sized>(args: &T) -> Result<Vec<FfiValue>, WireError> {
    args.serialize(ArgsSerializer)
}

/// Encode one value (a method's answer, or one argument).
pub fn encode_value<T: Serialize + ?Sized>(value: &T) -> Result<FfiValue, WireError> {
    match value.serialize(ValueSerializer) {
        Err(e) if e.kind == ErrorKind::Compound => json_text(value),
        other => other,
    }
}

/// Decode a positional argument list into an argument struct (or tuple, or `()`).
pub fn decode_args<T: de::DeserializeOwned>(args: &[FfiArg<'_>]) -> Result<T, WireError> {
    T::deserialize(ArgsDeserializer { args })
}

/// Decode one value (a method's answer).
pub fn decode_value<T: de::DeserializeOwned>(value: FfiArg<'_>) -> Result<T, WireError> {
    T::deserialize(ValueDeserializer {
        arg: value,
        at: None,
        optional: false,
    })
}

/// `#[serde(with = "json")]`: send the field as `Json` whatever its value (a JSON string
/// too); decode it from `Json`, or from a scalar value (`Str`, `Int`, `Bool`, `Null`).
pub mod json {
    use super::*;

    /// Serialize as `Json`.
    pub fn serialize<T: Serialize + ?Sized, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(JSON, v)
    }

    /// Deserialize from `Json` or a scalar.
    pub fn deserialize<'de, T: de::Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        d.deserialize_newtype_struct(JSON, JsonVisitor(PhantomData))
    }
}

/// `#[serde(with = "json_object")]`: as [`json`], and decoding refuses anything but a JSON
/// object (`argument 1 (config) must be a JSON object`).
pub mod json_object {
    use super::*;

    /// Serialize as `Json`.
    pub fn serialize<T: Serialize + ?Sized, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(JSON_OBJECT, v)
    }

    /// Deserialize from a JSON object.
    pub fn deserialize<'de, T: de::Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        d.deserialize_newtype_struct(JSON_OBJECT, JsonVisitor(PhantomData))
    }
}

/// A value that travels as `Json` whatever its shape (an answer that is JSON text even when
/// it holds a string or `null`). Other serde formats see `T` itself.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AsJson<T>(pub T);

impl<T: Serialize> Serialize for AsJson<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        json::serialize(&self.0, s)
    }
}

impl<'de, T: de::Deserialize<'de>> de::Deserialize<'de> for AsJson<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        json::deserialize(d).map(AsJson)
    }
}

struct JsonVisitor<T>(PhantomData<T>);

impl<'de, T: de::Deserialize<'de>> Visitor<'de> for JsonVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        T::deserialize(d)
    }
}

fn json_text<T: Serialize + ?Sized>(value: &T) -> Result<FfiValue, WireError> {
    serde_json::to_string(value)
        .map(|text| FfiValue::Json(text.into()))
        .map_err(|e| WireError::new(e.to_string()))
}

// ---------------------------------------------------------------------------------------
// Encoding.

/// Serializes an argument struct or tuple into the positional list.
struct ArgsSerializer;

/// The list being built.
#[derive(Default)]
struct ArgList {
    values: Vec<FfiValue>,
    /// Fields skipped since the last one sent: `Null`s, unless nothing follows.
    skipped: usize,
}

impl ArgList {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WireError> {
        let value = encode_value(value)?;
        self.values
            .extend(std::iter::repeat_n(FfiValue::Null, self.skipped));
        self.skipped = 0;
        self.values.push(value);
        Ok(())
    }
}

impl ser::SerializeStruct for ArgList {
    type Ok = Vec<FfiValue>;
    type Error = WireError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _key: &'static str,
        value: &T,
    ) -> Result<(), WireError> {
        self.push(value)
    }

    fn skip_field(&mut self, _key: &'static str) -> Result<(), WireError> {
        self.skipped += 1;
        Ok(())
    }

    fn end(self) -> Result<Vec<FfiValue>, WireError> {
        Ok(self.values)
    }
}

impl ser::SerializeTuple for ArgList {
    type Ok = Vec<FfiValue>;
    type Error = WireError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WireError> {
        self.push(value)
    }

    fn end(self) -> Result<Vec<FfiValue>, WireError> {
        Ok(self.values)
    }
}

impl ser::SerializeTupleStruct for ArgList {
    type Ok = Vec<FfiValue>;
    type Error = WireError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WireError> {
        self.push(value)
    }

    fn end(self) -> Result<Vec<FfiValue>, WireError> {
        Ok(self.values)
    }
}

fn not_an_argument_list<T>() -> Result<T, WireError> {
    Err(WireError::new(
        "host method arguments must be a struct, a tuple or ()".into(),
    ))
}

/// `fn $name(self, _: $ty) -> Result<Vec<FfiValue>, WireError>`, refusing.
macro_rules! refuse_scalars {
    ($($name:ident: $ty:ty),* $(,)?) => {$(
        fn $name(self, _: $ty) -> Result<Vec<FfiValue>, WireError> {
            not_an_argument_list()
        }
    )*};
}

impl Serializer for ArgsSerializer {
    type Ok = Vec<FfiValue>;
    type Error = WireError;
    type SerializeSeq = Impossible<Vec<FfiValue>, WireError>;
    type SerializeTuple = ArgList;
    type SerializeTupleStruct = ArgList;
    type SerializeTupleVariant = Impossible<Vec<FfiValue>, WireError>;
    type SerializeMap = Impossible<Vec<FfiValue>, WireError>;
    type SerializeStruct = ArgList;
    type SerializeStructVariant = Impossible<Vec<FfiValue>, WireError>;

    refuse_scalars!(
        serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_f32: f32, serialize_f64: f64, serialize_char: char,
        serialize_str: &str, serialize_bytes: &[u8],
    );

    fn serialize_none(self) -> Result<Vec<FfiValue>, WireError> {
        not_an_argument_list()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Vec<FfiValue>, WireError> {
        not_an_argument_list()
    }

    fn serialize_unit(self) -> Result<Vec<FfiValue>, WireError> {
        Ok(Vec::new())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<Vec<FfiValue>, WireError> {
        Ok(Vec::new())
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<Vec<FfiValue>, WireError> {
        not_an_argument_list()
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Vec<FfiValue>, WireError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Vec<FfiValue>, WireError> {
        not_an_argument_list()
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, WireError> {
        not_an_argument_list()
    }

    fn serialize_tuple(self, _: usize) -> Result<ArgList, WireError> {
        Ok(ArgList::default())
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<ArgList, WireError> {
        Ok(ArgList::default())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, WireError> {
        not_an_argument_list()
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, WireError> {
        not_an_argument_list()
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<ArgList, WireError> {
        Ok(ArgList::default())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, WireError> {
        not_an_argument_list()
    }
}

/// Serializes one scalar value; compound values report [`ErrorKind::Compound`] and are sent
/// as JSON by [`encode_value`].
struct ValueSerializer;

fn compound<T>() -> Result<T, WireError> {
    Err(WireError::compound())
}

impl Serializer for ValueSerializer {
    type Ok = FfiValue;
    type Error = WireError;
    type SerializeSeq = Impossible<FfiValue, WireError>;
    type SerializeTuple = Impossible<FfiValue, WireError>;
    type SerializeTupleStruct = Impossible<FfiValue, WireError>;
    type SerializeTupleVariant = Impossible<FfiValue, WireError>;
    type SerializeMap = Impossible<FfiValue, WireError>;
    type SerializeStruct = Impossible<FfiValue, WireError>;
    type SerializeStructVariant = Impossible<FfiValue, WireError>;

    fn serialize_bool(self, v: bool) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Int(v))
    }
    fn serialize_u8(self, v: u8) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Int(i64::try_from(v).unwrap_or(i64::MAX)))
    }
    fn serialize_f32(self, v: f32) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Str(v.to_string().into()))
    }
    fn serialize_str(self, v: &str) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Str(v.into()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Bytes(v.to_vec().into()))
    }
    fn serialize_none(self) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<FfiValue, WireError> {
        encode_value(value)
    }
    fn serialize_unit(self) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Null)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<FfiValue, WireError> {
        Ok(FfiValue::Str(variant.into()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<FfiValue, WireError> {
        match name {
            JSON | JSON_OBJECT => json_text(value),
            _ => encode_value(value),
        }
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<FfiValue, WireError> {
        compound()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, WireError> {
        compound()
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, WireError> {
        compound()
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, WireError> {
        compound()
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, WireError> {
        compound()
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, WireError> {
        compound()
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, WireError> {
        compound()
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, WireError> {
        compound()
    }
}

// ---------------------------------------------------------------------------------------
// Decoding.

/// Deserializes an argument struct or tuple from the positional list.
struct ArgsDeserializer<'a, 'b> {
    args: &'a [FfiArg<'b>],
}

impl<'de> Deserializer<'de> for ArgsDeserializer<'_, '_> {
    type Error = WireError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, WireError> {
        not_an_argument_list()
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, WireError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, WireError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, WireError> {
        visitor.visit_seq(ArgSeq::new(self.args, &[], len))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, WireError> {
        visitor.visit_seq(ArgSeq::new(self.args, &[], len))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, WireError> {
        visitor.visit_seq(ArgSeq::new(self.args, fields, fields.len()))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option seq map enum identifier ignored_any
    }
}

/// The arguments, one field at a time; missing ones read as `Null`.
struct ArgSeq<'a, 'b> {
    args: &'a [FfiArg<'b>],
    names: &'static [&'static str],
    next: usize,
    len: usize,
}

impl<'a, 'b> ArgSeq<'a, 'b> {
    fn new(args: &'a [FfiArg<'b>], names: &'static [&'static str], len: usize) -> Self {
        ArgSeq {
            args,
            names,
            next: 0,
            len,
        }
    }
}

impl<'de> SeqAccess<'de> for ArgSeq<'_, '_> {
    type Error = WireError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, WireError> {
        if self.next >= self.len {
            return Ok(None);
        }
        let at = At {
            index: self.next,
            name: self.names.get(self.next).copied().unwrap_or(""),
        };
        let arg = self.args.get(self.next).copied().unwrap_or(FfiArg::Null);
        self.next += 1;
        seed.deserialize(ValueDeserializer {
            arg,
            at: Some(at),
            optional: false,
        })
        .map(Some)
        .map_err(|e| e.placed(at))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.len - self.next)
    }
}

/// Deserializes one value, strictly by the type serde asks for.
struct ValueDeserializer<'a> {
    arg: FfiArg<'a>,
    /// Where it sits in an argument list (`None` for an answer).
    at: Option<At>,
    /// Inside an `Option` (so errors say "… or null").
    optional: bool,
}

fn kind_name(arg: &FfiArg<'_>) -> &'static str {
    match arg {
        FfiArg::Null => "null",
        FfiArg::Bool(_) => "bool",
        FfiArg::Int(_) => "int",
        FfiArg::Float(_) => "float",
        FfiArg::Str(_) => "string",
        FfiArg::Json(_) => "json",
        FfiArg::Bytes(_) => "bytes",
    }
}

impl ValueDeserializer<'_> {
    /// The value is not `what` (a scalar kind: "… or null" inside an option).
    fn wrong(&self, what: &str) -> WireError {
        let or_null = if self.optional { " or null" } else { "" };
        self.fail(&format!("{what}{or_null}"))
    }

    /// The value is not `what`.
    fn fail(&self, what: &str) -> WireError {
        match self.at {
            Some(at) => WireError::new(format!("{at} must be {what}")),
            None => WireError::new(format!("expected {what}, got {}", kind_name(&self.arg))),
        }
    }

    /// The value as JSON: `Json` parsed, scalars as themselves.
    fn to_json(&self) -> Result<Value, WireError> {
        match self.arg {
            FfiArg::Json(text) => serde_json::from_str(text.as_str())
                .map_err(|e| self.fail(&format!("valid JSON ({e})"))),
            FfiArg::Str(s) => Ok(Value::String(s.as_str().to_owned())),
            FfiArg::Null => Ok(Value::Null),
            FfiArg::Bool(b) => Ok(Value::Bool(b)),
            FfiArg::Int(n) => Ok(Value::from(n)),
            FfiArg::Float(_) | FfiArg::Bytes(_) => Err(self.fail("JSON")),
        }
    }

    /// The structured value `Json` carries (`Null` reads as JSON null); other kinds are not
    /// `shape`.
    fn structured(&self, shape: &'static str) -> Result<JsonDeserializer, WireError> {
        let value = match self.arg {
            FfiArg::Json(_) => self.to_json()?,
            FfiArg::Null => Value::Null,
            _ => return Err(self.fail(shape)),
        };
        Ok(JsonDeserializer { value, at: self.at })
    }
}

/// `deserialize_$name` accepting one integer kind.
macro_rules! integers {
    ($($name:ident),*) => {$(
        fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
            match self.arg {
                FfiArg::Int(n) => visitor.visit_i64(n),
                _ => Err(self.wrong("an integer")),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for ValueDeserializer<'_> {
    type Error = WireError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        match self.arg {
            FfiArg::Null => visitor.visit_unit(),
            FfiArg::Bool(b) => visitor.visit_bool(b),
            FfiArg::Int(n) => visitor.visit_i64(n),
            FfiArg::Float(f) => visitor.visit_f64(f),
            FfiArg::Str(s) => visitor.visit_str(s.as_str()),
            FfiArg::Json(_) => self.structured("JSON")?.deserialize_any(visitor),
            FfiArg::Bytes(b) => visitor.visit_bytes(b.as_slice()),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        match self.arg {
            FfiArg::Bool(b) => visitor.visit_bool(b),
            _ => Err(self.wrong("a boolean")),
        }
    }

    integers!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        match self.arg {
            FfiArg::Float(f) => visitor.visit_f64(f),
            FfiArg::Int(n) => visitor.visit_f64(n as f64),
            _ => Err(self.wrong("a number")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        match self.arg {
            FfiArg::Str(s) => visitor.visit_str(s.as_str()),
            _ => Err(self.wrong("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        match self.arg {
            FfiArg::Bytes(b) => visitor.visit_bytes(b.as_slice()),
            _ => Err(self.wrong("bytes")),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        match self.arg {
            FfiArg::Null => visitor.visit_none(),
            _ => visitor.visit_some(ValueDeserializer {
                optional: true,
                ..self
            }),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        // An answer of `()` ignores what the peer sent, as `Decode for ()` always has.
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, WireError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, WireError> {
        let value = match name {
            JSON => self.to_json()?,
            JSON_OBJECT => match self.to_json()? {
                v @ Value::Object(_) => v,
                _ => return Err(self.fail("a JSON object")),
            },
            _ => return visitor.visit_newtype_struct(self),
        };
        visitor.visit_newtype_struct(JsonDeserializer { value, at: self.at })
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        self.structured(LIST)?.deserialize_seq(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, WireError> {
        self.structured(LIST)?.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, WireError> {
        self.structured(LIST)?
            .deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        self.structured(OBJECT)?.deserialize_map(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, WireError> {
        self.structured(OBJECT)?
            .deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, WireError> {
        let value = self.to_json()?;
        JsonDeserializer { value, at: self.at }.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        visitor.visit_unit()
    }
}

const LIST: &str = "a JSON list";
const OBJECT: &str = "a JSON object";

/// A parsed JSON value, deserialized by serde_json with errors naming the argument; a list
/// or object asked for where the value is something else is refused by shape.
struct JsonDeserializer {
    value: Value,
    at: Option<At>,
}

impl JsonDeserializer {
    fn shape(self, want: &'static str) -> Result<Self, WireError> {
        let fits = match want {
            LIST => self.value.is_array(),
            _ => self.value.is_object(),
        };
        if fits {
            return Ok(self);
        }
        Err(match self.at {
            Some(at) => WireError::new(format!("{at} must be {want}")),
            None => WireError::new(format!("expected {want}, got {}", self.value)),
        })
    }

    fn invalid(at: Option<At>, e: serde_json::Error) -> WireError {
        match at {
            Some(at) => WireError::new(format!("{at} is invalid: {e}")),
            None => WireError::new(e.to_string()),
        }
    }
}

/// `deserialize_$name` forwarded to the JSON value.
macro_rules! forward_to_json {
    ($($name:ident),*) => {$(
        fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
            let at = self.at;
            self.value.$name(visitor).map_err(|e| Self::invalid(at, e))
        }
    )*};
}

impl<'de> Deserializer<'de> for JsonDeserializer {
    type Error = WireError;

    forward_to_json!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_identifier,
        deserialize_ignored_any
    );

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        let at = self.at;
        let this = self.shape(LIST)?;
        this.value
            .deserialize_seq(visitor)
            .map_err(|e| Self::invalid(at, e))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, WireError> {
        let at = self.at;
        let this = self.shape(LIST)?;
        this.value
            .deserialize_tuple(len, visitor)
            .map_err(|e| Self::invalid(at, e))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, WireError> {
        let at = self.at;
        let this = self.shape(LIST)?;
        this.value
            .deserialize_tuple_struct(name, len, visitor)
            .map_err(|e| Self::invalid(at, e))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, WireError> {
        let at = self.at;
        let this = self.shape(OBJECT)?;
        this.value
            .deserialize_map(visitor)
            .map_err(|e| Self::invalid(at, e))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, WireError> {
        let at = self.at;
        let this = self.shape(OBJECT)?;
        this.value
            .deserialize_struct(name, fields, visitor)
            .map_err(|e| Self::invalid(at, e))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, WireError> {
        let at = self.at;
        self.value
            .deserialize_unit_struct(name, visitor)
            .map_err(|e| Self::invalid(at, e))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, WireError> {
        let at = self.at;
        self.value
            .deserialize_newtype_struct(name, visitor)
            .map_err(|e| Self::invalid(at, e))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, WireError> {
        let at = self.at;
        self.value
            .deserialize_enum(name, variants, visitor)
            .map_err(|e| Self::invalid(at, e))
    }
}

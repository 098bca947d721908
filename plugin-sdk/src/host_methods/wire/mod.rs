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

mod decode;
mod encode;

use decode::{ArgsDeserializer, ValueDeserializer};
use encode::{ArgsSerializer, ValueSerializer};

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

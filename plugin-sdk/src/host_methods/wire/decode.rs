//! Decoding: the positional list into argument structs, one value into an answer,
//! strictly by serde type.

use super::encode::not_an_argument_list;
use super::*;

/// Deserializes an argument struct or tuple from the positional list.
pub(super) struct ArgsDeserializer<'a, 'b> {
    pub(super) args: &'a [FfiArg<'b>],
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
pub(super) struct ArgSeq<'a, 'b> {
    pub(super) args: &'a [FfiArg<'b>],
    pub(super) names: &'static [&'static str],
    pub(super) next: usize,
    pub(super) len: usize,
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
pub(super) struct ValueDeserializer<'a> {
    pub(super) arg: FfiArg<'a>,
    /// Where it sits in an argument list (`None` for an answer).
    pub(super) at: Option<At>,
    /// Inside an `Option` (so errors say "… or null").
    pub(super) optional: bool,
}

pub(super) fn kind_name(arg: &FfiArg<'_>) -> &'static str {
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

pub(super) const LIST: &str = "a JSON list";
pub(super) const OBJECT: &str = "a JSON object";

/// A parsed JSON value, deserialized by serde_json with errors naming the argument; a list
/// or object asked for where the value is something else is refused by shape.
pub(super) struct JsonDeserializer {
    pub(super) value: Value,
    pub(super) at: Option<At>,
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

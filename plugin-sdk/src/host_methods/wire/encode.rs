//! Encoding: argument structs into the positional list, answers into one value.

use super::*;

/// Serializes an argument struct or tuple into the positional list.
pub(super) struct ArgsSerializer;

/// The list being built.
#[derive(Default)]
pub(super) struct ArgList {
    pub(super) values: Vec<FfiValue>,
    /// Fields skipped since the last one sent: `Null`s, unless nothing follows.
    pub(super) skipped: usize,
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

pub(super) fn not_an_argument_list<T>() -> Result<T, WireError> {
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
pub(super) struct ValueSerializer;

pub(super) fn compound<T>() -> Result<T, WireError> {
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

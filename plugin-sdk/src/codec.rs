//! How Rust values travel as [`FfiValue`]s. Host and module both use these impls, so the
//! encodings below are part of the ABI contract and may only be extended compatibly:
//!
//! | type | encoding |
//! |---|---|
//! | `()` / `None` | `Null` |
//! | `bool`, `i64`/`u64`, `f64`, `String` | `Bool`, `Int`, `Float`, `Str` |
//! | `Vec<u8>` | `Bytes` |
//! | `Json`, `Event`, `StateMap`, `serde_json::Value`, lists and structs | `Json` |
//! | `SpamCheck` | `Null` = not spam, `Json {errcode, message?, fields?}` = deny |
//! | `RegistrationBehaviour` | `Str`: `allow` / `shadow_ban` / `deny` |
//! | `EventAllowed` | `Null` = allow, `Bool(false)` = deny, `Json(event)` = replace |
//! | `InterestedUsers` | `Str("ALL")` or `Json([user ids])` |
//!
//! Missing trailing arguments decode as `Null`, so an `Option` argument appended in a later
//! SDK version reads as `None` when an older host calls.

#[cfg(test)]
use abi_stable::std_types::RStr;
use abi_stable::std_types::{RString, RVec};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use crate::ffi::{FfiArg, FfiValue};
use crate::json::{Event, Json, StateMap};
use crate::types::*;

/// Convert into an [`FfiValue`].
pub trait Encode {
    /// The encoded value.
    fn encode(self) -> FfiValue;
}

/// Convert from a borrowed [`FfiArg`] (an argument, or a result seen through
/// [`FfiValue::as_arg`]).
pub trait Decode: Sized {
    /// The decoded value, or why it does not fit.
    fn decode(value: FfiArg<'_>) -> Result<Self, String>;

    /// Decode an owned result.
    fn decode_value(value: &FfiValue) -> Result<Self, String> {
        Self::decode(value.as_arg())
    }
}

fn mismatch<T>(want: &str, got: &FfiArg<'_>) -> Result<T, String> {
    let kind = match got {
        FfiArg::Null => "null",
        FfiArg::Bool(_) => "bool",
        FfiArg::Int(_) => "int",
        FfiArg::Float(_) => "float",
        FfiArg::Str(_) => "string",
        FfiArg::Json(_) => "json",
        FfiArg::Bytes(_) => "bytes",
    };
    Err(format!("expected {want}, got {kind}"))
}

/// Encode any serde value as `Json`.
pub fn to_json<T: Serialize>(value: &T) -> FfiValue {
    FfiValue::Json(RString::from(
        serde_json::to_string(value).unwrap_or_else(|_| "null".into()),
    ))
}

/// Decode `Json` (or `Null`) into a serde value.
pub fn from_json<T: DeserializeOwned>(value: FfiArg<'_>) -> Result<T, String> {
    match value {
        FfiArg::Json(text) => serde_json::from_str(text.as_str()).map_err(|e| e.to_string()),
        FfiArg::Null => serde_json::from_value(Value::Null).map_err(|e| e.to_string()),
        other => mismatch("json", &other),
    }
}

impl Encode for () {
    fn encode(self) -> FfiValue {
        FfiValue::Null
    }
}
impl Decode for () {
    fn decode(_: FfiArg<'_>) -> Result<Self, String> {
        Ok(())
    }
}

impl Encode for bool {
    fn encode(self) -> FfiValue {
        FfiValue::Bool(self)
    }
}
impl Decode for bool {
    fn decode(value: FfiArg<'_>) -> Result<Self, String> {
        match value {
            FfiArg::Bool(b) => Ok(b),
            other => mismatch("bool", &other),
        }
    }
}

impl Encode for i64 {
    fn encode(self) -> FfiValue {
        FfiValue::Int(self)
    }
}
impl Decode for i64 {
    fn decode(value: FfiArg<'_>) -> Result<Self, String> {
        match value {
            FfiArg::Int(i) => Ok(i),
            other => mismatch("int", &other),
        }
    }
}

impl Encode for u64 {
    fn encode(self) -> FfiValue {
        FfiValue::Int(i64::try_from(self).unwrap_or(i64::MAX))
    }
}
impl Decode for u64 {
    fn decode(value: FfiArg<'_>) -> Result<Self, String> {
        match value {
            FfiArg::Int(i) => u64::try_from(i).map_err(|_| format!("expected unsigned, got {i}")),
            other => mismatch("int", &other),
        }
    }
}

impl Encode for f64 {
    fn encode(self) -> FfiValue {
        FfiValue::Float(self)
    }
}
impl Decode for f64 {
    fn decode(value: FfiArg<'_>) -> Result<Self, String> {
        match value {
            FfiArg::Float(f) => Ok(f),
            FfiArg::Int(i) => Ok(i as f64),
            other => mismatch("float", &other),
        }
    }
}

impl Encode for String {
    fn encode(self) -> FfiValue {
        FfiValue::Str(RString::from(self))
    }
}
impl Encode for &str {
    fn encode(self) -> FfiValue {
        FfiValue::Str(RString::from(self))
    }
}
impl Decode for String {
    fn decode(value: FfiArg<'_>) -> Result<Self, String> {
        match value {
            FfiArg::Str(s) => Ok(s.as_str().to_owned()),
            other => mismatch("string", &other),
        }
    }
}

impl Encode for Vec<u8> {
    fn encode(self) -> FfiValue {
        FfiValue::Bytes(RVec::from(self))
    }
}
impl Decode for Vec<u8> {
    fn decode(value: FfiArg<'_>) -> Result<Self, String> {
        match value {
            FfiArg::Bytes(b) => Ok(b.as_slice().to_vec()),
            other => mismatch("bytes", &other),
        }
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(self) -> FfiValue {
        self.map_or(FfiValue::Null, Encode::encode)
    }
}
impl<T: Decode> Decode for Option<T> {
    fn decode(value: FfiArg<'_>) -> Result<Self, String> {
        match value {
            FfiArg::Null => Ok(None),
            other => T::decode(other).map(Some),
        }
    }
}

impl Encode for Json {
    fn encode(self) -> FfiValue {
        FfiValue::Json(RString::from(self.raw()))
    }
}
impl Decode for Json {
    fn decode(value: FfiArg<'_>) -> Result<Self, String> {
        match value {
            FfiArg::Json(text) => Ok(Json::from_raw(text.as_str())),
            FfiArg::Null => Ok(Json::from_raw("null")),
            other => mismatch("json", &other),
        }
    }
}

impl Encode for Value {
    fn encode(self) -> FfiValue {
        to_json(&self)
    }
}
impl Decode for Value {
    fn decode(value: FfiArg<'_>) -> Result<Self, String> {
        from_json(value)
    }
}

impl Encode for Event {
    fn encode(self) -> FfiValue {
        self.0.encode()
    }
}
impl Decode for Event {
    fn decode(value: FfiArg<'_>) -> Result<Self, String> {
        Json::decode(value).map(Event)
    }
}

impl Encode for StateMap {
    fn encode(self) -> FfiValue {
        self.0.encode()
    }
}
impl Decode for StateMap {
    fn decode(value: FfiArg<'_>) -> Result<Self, String> {
        Json::decode(value).map(StateMap)
    }
}

/// Types carried as serde JSON.
macro_rules! json_codec {
    ($($ty:ty),* $(,)?) => {$(
        impl Encode for $ty {
            fn encode(self) -> FfiValue { to_json(&self) }
        }
        impl Decode for $ty {
            fn decode(value: FfiArg<'_>) -> Result<Self, String> { from_json(value) }
        }
    )*};
}

json_codec!(
    Vec<String>,
    Vec<(String, String)>,
    Vec<Value>,
    Vec<MediaUploadLimit>,
    std::collections::BTreeMap<String, Vec<Value>>,
    UserProfile,
    ProfileInfo,
    MediaUploadLimit,
    RatelimitOverride,
);

impl Encode for SpamCheck {
    fn encode(self) -> FfiValue {
        match self {
            SpamCheck::NotSpam => FfiValue::Null,
            SpamCheck::Deny(denial) => to_json(&denial),
        }
    }
}
impl Decode for SpamCheck {
    fn decode(value: FfiArg<'_>) -> Result<Self, String> {
        match value {
            FfiArg::Null => Ok(SpamCheck::NotSpam),
            FfiArg::Json(_) => from_json::<Denial>(value).map(SpamCheck::Deny),
            other => mismatch("spam check result", &other),
        }
    }
}

impl Encode for RegistrationBehaviour {
    fn encode(self) -> FfiValue {
        let s = match self {
            RegistrationBehaviour::Allow => "allow",
            RegistrationBehaviour::ShadowBan => "shadow_ban",
            RegistrationBehaviour::Deny => "deny",
        };
        FfiValue::Str(RString::from(s))
    }
}
impl Decode for RegistrationBehaviour {
    fn decode(value: FfiArg<'_>) -> Result<Self, String> {
        match &value {
            FfiArg::Str(s) => match s.as_str() {
                "allow" => Ok(RegistrationBehaviour::Allow),
                "shadow_ban" => Ok(RegistrationBehaviour::ShadowBan),
                "deny" => Ok(RegistrationBehaviour::Deny),
                other => Err(format!("unknown registration behaviour {other:?}")),
            },
            other => mismatch("registration behaviour", other),
        }
    }
}

impl Encode for EventAllowed {
    fn encode(self) -> FfiValue {
        match self {
            EventAllowed::Allow => FfiValue::Null,
            EventAllowed::Deny => FfiValue::Bool(false),
            EventAllowed::Replace(event) => to_json(&event),
        }
    }
}
impl Decode for EventAllowed {
    fn decode(value: FfiArg<'_>) -> Result<Self, String> {
        match value {
            FfiArg::Null | FfiArg::Bool(true) => Ok(EventAllowed::Allow),
            FfiArg::Bool(false) => Ok(EventAllowed::Deny),
            FfiArg::Json(_) => from_json(value).map(EventAllowed::Replace),
            other => mismatch("event verdict", &other),
        }
    }
}

impl Encode for InterestedUsers {
    fn encode(self) -> FfiValue {
        match self {
            InterestedUsers::All => FfiValue::Str(RString::from("ALL")),
            InterestedUsers::Users(users) => to_json(&users),
        }
    }
}
impl Decode for InterestedUsers {
    fn decode(value: FfiArg<'_>) -> Result<Self, String> {
        match value {
            FfiArg::Str(s) if s.as_str() == "ALL" => Ok(InterestedUsers::All),
            FfiArg::Json(_) => from_json(value).map(InterestedUsers::Users),
            other => mismatch("interested users", &other),
        }
    }
}

/// Positional callback arguments: a tuple of [`Decode`] types.
pub trait DecodeArgs: Sized {
    /// Decode, treating missing trailing arguments as `Null`.
    fn decode_args(args: &[FfiArg<'_>]) -> Result<Self, String>;
}

macro_rules! tuple_args {
    ($($name:ident),*) => {
        impl<$($name: Decode),*> DecodeArgs for ($($name,)*) {
            #[allow(unused_mut, unused_variables, unused_assignments, non_snake_case)]
            fn decode_args(args: &[FfiArg<'_>]) -> Result<Self, String> {
                let mut it = args.iter().copied();
                let mut index = 0usize;
                $(
                    let $name = $name::decode(it.next().unwrap_or(FfiArg::Null))
                        .map_err(|e| format!("argument {index}: {e}"))?;
                    index += 1;
                )*
                Ok(($($name,)*))
            }
        }
    };
}

tuple_args!();
tuple_args!(A);
tuple_args!(A, B);
tuple_args!(A, B, C);
tuple_args!(A, B, C, D);
tuple_args!(A, B, C, D, E);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spam_check_round_trips() {
        let deny = SpamCheck::Deny(Denial::new(codes::LIMIT_EXCEEDED).with_field("a", 1));
        assert_eq!(SpamCheck::decode_value(&deny.clone().encode()), Ok(deny));
        assert_eq!(
            SpamCheck::decode_value(&SpamCheck::NotSpam.encode()),
            Ok(SpamCheck::NotSpam)
        );
        assert!(SpamCheck::decode(FfiArg::Int(3)).is_err());
    }

    #[test]
    fn missing_trailing_arguments_read_as_none() {
        let args: (String, Option<Json>) =
            DecodeArgs::decode_args(&[FfiArg::Str(RStr::from("@a:b"))]).unwrap();
        assert_eq!(args.0, "@a:b");
        assert!(args.1.is_none());
    }

    /// Garbage from the other side of the ABI (a raw module, a skewed SDK): any value
    /// decodes as any result type to a value or an error, never a panic.
    mod garbage {
        use super::*;
        use proptest::prelude::*;

        fn json_text() -> impl Strategy<Value = String> {
            prop_oneof![
                "\\PC{0,40}",
                Just("{\"deny\": 7}".to_string()),
                Just("{\"errcode\": null, \"fields\": []}".to_string()),
                Just("[[[[[[[[[[]]]]]]]]]]".to_string()),
                Just("{\"allowed\": \"yes\", \"event\": 3}".to_string()),
                Just("1e400".to_string()),
            ]
        }

        fn value() -> impl Strategy<Value = FfiValue> {
            prop_oneof![
                Just(FfiValue::Null),
                any::<bool>().prop_map(FfiValue::Bool),
                any::<i64>().prop_map(FfiValue::Int),
                any::<f64>().prop_map(FfiValue::Float),
                "\\PC{0,20}".prop_map(|s| FfiValue::Str(s.into())),
                json_text().prop_map(|s| FfiValue::Json(s.into())),
                prop::collection::vec(any::<u8>(), 0..32).prop_map(|b| FfiValue::Bytes(b.into())),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, rng_seed: proptest::test_runner::RngSeed::Fixed(20261122), ..ProptestConfig::default() })]

            #[test]
            fn decoding_never_panics(v in value()) {
                let _ = SpamCheck::decode_value(&v);
                let _ = RegistrationBehaviour::decode_value(&v);
                let _ = EventAllowed::decode_value(&v);
                let _ = InterestedUsers::decode_value(&v);
                let _ = Option::<bool>::decode_value(&v);
                let _ = Option::<Value>::decode_value(&v);
                let _ = <Vec<Value>>::decode_value(&v);
                let _ = String::decode_value(&v);
                let _ = u64::decode_value(&v);
                let _ = Json::decode_value(&v);
                let _ = <(String, Option<Json>, bool)>::decode_args(&[v.as_arg(), v.as_arg()]);
            }
        }
    }

    #[test]
    fn wrong_argument_type_is_named() {
        let err = <(String,)>::decode_args(&[FfiArg::Int(1)]).unwrap_err();
        assert_eq!(err, "argument 0: expected string, got int");
    }
}

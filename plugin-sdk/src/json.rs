//! JSON values handed to callbacks: parsed only when a module looks inside.

use std::fmt;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A JSON document (a request body, an event, a state map, …).
///
/// The host sends JSON as text; it is parsed on first access and then kept, so a callback
/// that only looks at its string arguments pays nothing for the document.
#[derive(Clone, Default)]
pub struct Json {
    raw: String,
    parsed: OnceLock<Value>,
}

impl Json {
    /// Wrap JSON text. Invalid text reads as `null`.
    pub fn from_raw(raw: impl Into<String>) -> Self {
        Json {
            raw: raw.into(),
            parsed: OnceLock::new(),
        }
    }

    /// The JSON text as received.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The parsed value.
    pub fn value(&self) -> &Value {
        self.parsed
            .get_or_init(|| serde_json::from_str(&self.raw).unwrap_or(Value::Null))
    }

    /// `value()[key]`, if the document is an object holding `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.value().get(key)
    }

    /// Deserialize the document into `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.raw)
    }

    /// The parsed value, by value.
    pub fn into_value(self) -> Value {
        let Json { raw, parsed } = self;
        parsed
            .into_inner()
            .unwrap_or_else(|| serde_json::from_str(&raw).unwrap_or(Value::Null))
    }
}

impl From<Value> for Json {
    fn from(value: Value) -> Self {
        Json {
            raw: value.to_string(),
            parsed: OnceLock::from(value),
        }
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl PartialEq for Json {
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value()
    }
}

/// A Matrix event in its client format (`event_id`, `type`, `sender`, `room_id`, `content`,
/// optional `state_key`, …). Events are read-only: to change one, a third-party-rules
/// callback returns a replacement (see [`EventAllowed`](crate::EventAllowed)).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Event(pub Json);

impl Event {
    fn str_field(&self, key: &str) -> &str {
        self.0.get(key).and_then(Value::as_str).unwrap_or("")
    }

    /// `event_id`.
    pub fn event_id(&self) -> &str {
        self.str_field("event_id")
    }

    /// `type`.
    pub fn event_type(&self) -> &str {
        self.str_field("type")
    }

    /// `sender`.
    pub fn sender(&self) -> &str {
        self.str_field("sender")
    }

    /// `room_id`.
    pub fn room_id(&self) -> &str {
        self.str_field("room_id")
    }

    /// `state_key`, for state events.
    pub fn state_key(&self) -> Option<&str> {
        self.0.get("state_key").and_then(Value::as_str)
    }

    /// `content` (`null` if absent).
    pub fn content(&self) -> &Value {
        self.0.get("content").unwrap_or(&Value::Null)
    }

    /// The whole event as a JSON value, e.g. to build a replacement.
    pub fn to_value(&self) -> Value {
        self.0.value().clone()
    }
}

/// Room state before or after an event: the state events keyed by `(type, state_key)`,
/// sent as a JSON list of events.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StateMap(pub Json);

impl StateMap {
    /// The state event with this type and state key.
    pub fn get(&self, event_type: &str, state_key: &str) -> Option<&Value> {
        self.0.value().as_array()?.iter().find(|ev| {
            ev.get("type").and_then(Value::as_str) == Some(event_type)
                && ev.get("state_key").and_then(Value::as_str) == Some(state_key)
        })
    }

    /// All state events.
    pub fn events(&self) -> &[Value] {
        self.0.value().as_array().map_or(&[], Vec::as_slice)
    }
}

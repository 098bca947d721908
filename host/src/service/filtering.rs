//! Filter definitions (spec §"Filtering"): checking an uploaded filter's shape as Synapse's
//! JSON schema does, reading it into [`SyncFilter`] / [`EventFilter`], and matching events,
//! account data and presence against it.

use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The timeline limit when a filter sets none (Synapse's default).
pub const DEFAULT_LIMIT: i64 = 10;
/// The largest timeline limit honoured (Synapse's `filter_timeline_limit` default).
pub const MAX_TIMELINE_LIMIT: i64 = 100;

/// One `EventFilter` or `RoomEventFilter`. `None` lists allow everything; `not_*` lists win
/// over the allowing ones. Type patterns may end in `*` (prefix match).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EventFilter {
    /// Maximum events to return (Synapse accepts any JSON number).
    pub limit: Option<f64>,
    /// Event types to include.
    pub types: Option<Vec<String>>,
    /// Event types to leave out.
    pub not_types: Vec<String>,
    /// Senders to include.
    pub senders: Option<Vec<String>>,
    /// Senders to leave out.
    pub not_senders: Vec<String>,
    /// Rooms to include.
    pub rooms: Option<Vec<String>>,
    /// Rooms to leave out.
    pub not_rooms: Vec<String>,
    /// Only events whose `content.url` is (true) / is not (false) a string.
    pub contains_url: Option<bool>,
    /// Send only the members of the events' senders (spec §"Lazy-loading room members").
    pub lazy_load_members: bool,
    /// With lazy loading: send those members even when the client already has them.
    pub include_redundant_members: bool,
}

fn type_matches(actual: &str, pattern: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => actual.starts_with(prefix),
        None => actual == pattern,
    }
}

fn passes<F: Fn(&str) -> bool>(allowed: &Option<Vec<String>>, denied: &[String], hit: F) -> bool {
    !denied.iter().any(|v| hit(v)) && allowed.as_ref().is_none_or(|a| a.iter().any(|v| hit(v)))
}

impl EventFilter {
    /// Whether `event` (a client-format event, account data or presence event) passes.
    /// `room_id` stands in when the event carries none (account data, ephemeral events).
    pub fn allows(&self, event: &Value, room_id: Option<&str>) -> bool {
        let content = event.get("content").filter(|c| c.is_object());
        let sender = event["sender"]
            .as_str()
            .or_else(|| content.and_then(|c| c["user_id"].as_str()));
        let room = event["room_id"].as_str().or(room_id);
        let kind = event["type"].as_str();
        if !passes(&self.rooms, &self.not_rooms, |v| room == Some(v))
            || !passes(&self.senders, &self.not_senders, |v| sender == Some(v))
            || !passes(&self.types, &self.not_types, |p| {
                kind.is_some_and(|k| type_matches(k, p))
            })
        {
            return false;
        }
        match self.contains_url {
            Some(wanted) => content.is_some_and(|c| c["url"].is_string()) == wanted,
            None => true,
        }
    }

    /// Whether events of `room_id` may pass at all.
    pub fn allows_room(&self, room_id: &str) -> bool {
        passes(&self.rooms, &self.not_rooms, |v| v == room_id)
    }

    /// Keep the events of `events` that pass; see [`EventFilter::allows`].
    pub fn retain(&self, events: Vec<Value>, room_id: Option<&str>) -> Vec<Value> {
        events
            .into_iter()
            .filter(|e| self.allows(e, room_id))
            .collect()
    }

    /// `limit` as a count, `default` when absent, held to `0..=max`.
    pub fn limit_or(&self, default: i64, max: i64) -> i64 {
        self.limit.map_or(default, |l| l as i64).clamp(0, max)
    }

    /// A `RoomEventFilter` given as a query parameter or in a request body: `None` for
    /// absent or `{}`-like input. Errors: the schema message, as for uploads.
    pub fn from_room_event_json(filter: &Value) -> Result<EventFilter, String> {
        check(filter, &Schema::RoomEvent, "")?;
        serde_json::from_value(filter.clone()).map_err(|e| e.to_string())
    }
}

/// A whole sync filter, read after [`validate`].
#[derive(Debug, Clone, Default)]
pub struct SyncFilter {
    /// `room.rooms` / `room.not_rooms` (only those fields).
    pub room: EventFilter,
    /// `room.timeline`.
    pub timeline: EventFilter,
    /// `room.state` (its `lazy_load_members` drives lazy loading in `/sync`).
    pub state: EventFilter,
    /// `room.ephemeral`.
    pub ephemeral: EventFilter,
    /// `room.account_data`.
    pub room_account_data: EventFilter,
    /// Top-level `presence`.
    pub presence: EventFilter,
    /// Top-level `account_data`.
    pub account_data: EventFilter,
    /// `room.include_leave`.
    pub include_leave: bool,
    /// `event_fields`: dotted paths to keep in each event (empty: everything).
    pub event_fields: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawRoom {
    rooms: Option<Vec<String>>,
    not_rooms: Vec<String>,
    include_leave: bool,
    timeline: EventFilter,
    state: EventFilter,
    ephemeral: EventFilter,
    account_data: EventFilter,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawSync {
    room: RawRoom,
    presence: EventFilter,
    account_data: EventFilter,
    event_fields: Vec<String>,
}

impl SyncFilter {
    /// Read a filter JSON object; a stored filter that predates validation and does not fit
    /// reads as the empty filter.
    pub fn from_json(filter: &Value) -> SyncFilter {
        let raw: RawSync = serde_json::from_value(filter.clone()).unwrap_or_default();
        SyncFilter {
            room: EventFilter {
                rooms: raw.room.rooms,
                not_rooms: raw.room.not_rooms,
                ..EventFilter::default()
            },
            timeline: raw.room.timeline,
            state: raw.room.state,
            ephemeral: raw.room.ephemeral,
            room_account_data: raw.room.account_data,
            presence: raw.presence,
            account_data: raw.account_data,
            include_leave: raw.room.include_leave,
            event_fields: raw.event_fields,
        }
    }

    /// Timeline events per room: `room.timeline.limit`, 10 by default, at most 100.
    pub fn timeline_limit(&self) -> i64 {
        self.timeline.limit_or(DEFAULT_LIMIT, MAX_TIMELINE_LIMIT)
    }

    /// `event` reduced to the filter's `event_fields` (unchanged when none are set).
    pub fn fields_of(&self, event: Value) -> Value {
        only_fields(event, &self.event_fields)
    }
}

/// Split an `event_fields` entry on dots, `\.` standing for a literal dot and `\\` for a
/// backslash.
fn field_path(field: &str) -> Vec<String> {
    let (mut parts, mut cur, mut chars) = (Vec::new(), String::new(), field.chars());
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.extend(chars.next()),
            '.' => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

/// Keep only `fields` (dotted paths) of `event`; paths through non-objects are skipped.
pub fn only_fields(event: Value, fields: &[String]) -> Value {
    if fields.is_empty() {
        return event;
    }
    let mut out = Map::new();
    for field in fields {
        let path = field_path(field);
        let mut src = &event;
        if !path.iter().all(|key| match src.get(key) {
            Some(v) => {
                src = v;
                true
            }
            None => false,
        }) {
            continue;
        }
        let (last, parents) = path.split_last().expect("split yields one part");
        let mut dst = &mut out;
        for key in parents {
            let slot = dst.entry(key.clone()).or_insert_with(|| json!({}));
            if !slot.is_object() {
                *slot = json!({});
            }
            dst = slot.as_object_mut().expect("made an object above");
        }
        dst.insert(last.clone(), src.clone());
    }
    Value::Object(out)
}

/// The shapes of Synapse's filter schema.
enum Schema {
    /// The whole filter.
    Sync,
    /// `presence`, `account_data`: an `EventFilter`.
    Event,
    /// `room`.
    Room,
    /// `room.timeline` etc.: a `RoomEventFilter`.
    RoomEvent,
}

/// Check `filter` against the filter schema Synapse validates uploads with; the error is
/// the first violation (e.g. `"room.timeline.limit": "ten" is not of type 'number'`).
pub fn validate(filter: &Value) -> Result<(), String> {
    check(filter, &Schema::Sync, "")
}

fn check(value: &Value, schema: &Schema, at: &str) -> Result<(), String> {
    let Some(obj) = value.as_object() else {
        return Err(wrong(at, value, "object"));
    };
    for (key, v) in obj {
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        check_field(schema, key, v, &path)?;
    }
    Ok(())
}

fn check_field(schema: &Schema, key: &str, v: &Value, path: &str) -> Result<(), String> {
    let event_like = matches!(schema, Schema::Event | Schema::RoomEvent);
    match (schema, key) {
        (Schema::Sync, "presence" | "account_data") => check(v, &Schema::Event, path),
        (Schema::Sync, "room") => check(v, &Schema::Room, path),
        (Schema::Sync, "event_format") => match v.as_str() {
            Some("client" | "federation") => Ok(()),
            _ => Err(format!(
                "{v} is not one of ['client', 'federation'] at {path}"
            )),
        },
        (Schema::Sync, "event_fields") => strings(v, path, |_| true, ""),
        (Schema::Room, "ephemeral" | "state" | "timeline" | "account_data") => {
            check(v, &Schema::RoomEvent, path)
        }
        (Schema::Room, "include_leave") => boolean(v, path),
        (Schema::Room | Schema::RoomEvent, "rooms" | "not_rooms") => {
            strings(v, path, valid_room_id, "matrix_room_id")
        }
        (_, "limit") if event_like => match v {
            Value::Number(_) => Ok(()),
            _ => Err(wrong(path, v, "number")),
        },
        (_, "senders" | "not_senders") if event_like => {
            strings(v, path, valid_user_id, "matrix_user_id")
        }
        (_, "types" | "not_types") if event_like => strings(v, path, |_| true, ""),
        (
            Schema::RoomEvent,
            "contains_url"
            | "lazy_load_members"
            | "include_redundant_members"
            | "unread_thread_notifications",
        ) => boolean(v, path),
        // Synapse's schema allows further fields, for forward compatibility.
        _ => Ok(()),
    }
}

fn wrong(path: &str, v: &Value, ty: &str) -> String {
    if path.is_empty() {
        format!("{v} is not of type '{ty}'")
    } else {
        format!("{v} is not of type '{ty}' at {path}")
    }
}

fn boolean(v: &Value, path: &str) -> Result<(), String> {
    if v.is_boolean() {
        Ok(())
    } else {
        Err(wrong(path, v, "boolean"))
    }
}

fn strings(v: &Value, path: &str, valid: fn(&str) -> bool, format: &str) -> Result<(), String> {
    let Some(items) = v.as_array() else {
        return Err(wrong(path, v, "array"));
    };
    for item in items {
        match item.as_str() {
            None => return Err(wrong(path, item, "string")),
            Some(s) if !valid(s) => return Err(format!("{item} is not a '{format}' at {path}")),
            Some(_) => {}
        }
    }
    Ok(())
}

/// A server name as Synapse accepts it: a host (letters, digits, `-`, `.`, or a bracketed
/// IPv6 literal) and an optional port.
fn valid_server_name(name: &str) -> bool {
    let (host_ok, port) = if let Some(rest) = name.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, tail)) => (ip.parse::<std::net::Ipv6Addr>().is_ok(), tail),
            None => (false, ""),
        }
    } else {
        let (host, port) = name.find(':').map_or((name, ""), |i| name.split_at(i));
        let ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        (ok, port)
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok());
    host_ok && port_ok
}

fn valid_user_id(s: &str) -> bool {
    s.strip_prefix('@')
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(_, server)| valid_server_name(server))
}

fn valid_room_id(s: &str) -> bool {
    match s.strip_prefix('!') {
        Some(rest) => match rest.split_once(':') {
            Some((_, server)) => valid_server_name(server),
            None => !rest.is_empty(),
        },
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_not_lists() {
        let f: EventFilter = serde_json::from_value(
            json!({"types": ["m.room.*"], "not_types": ["m.room.member"], "not_senders": ["@b:x"]}),
        )
        .unwrap();
        let ev = |t: &str, s: &str| json!({"type": t, "sender": s, "content": {}});
        assert!(f.allows(&ev("m.room.message", "@a:x"), None));
        assert!(!f.allows(&ev("m.room.member", "@a:x"), None));
        assert!(!f.allows(&ev("m.reaction", "@a:x"), None));
        assert!(!f.allows(&ev("m.room.message", "@b:x"), None));
    }

    #[test]
    fn schema_errors_name_the_field() {
        assert!(validate(&json!({"room": {"timeline": {"limit": 3}}})).is_ok());
        let err = validate(&json!({"room": {"timeline": {"limit": "ten"}}})).unwrap_err();
        assert_eq!(
            err,
            "\"ten\" is not of type 'number' at room.timeline.limit"
        );
        assert!(validate(&json!({"room": {"rooms": ["nope"]}})).is_err());
        assert!(validate(&json!({"presence": {"senders": ["@a:b.c"]}})).is_ok());
        assert!(validate(&json!({"event_fields": [1]})).is_err());
    }

    #[test]
    fn event_fields_keep_paths() {
        let ev = json!({"type": "t", "content": {"body": "b", "x": 1}, "sender": "@a:b"});
        let out = only_fields(ev, &["type".into(), "content.body".into()]);
        assert_eq!(out, json!({"type": "t", "content": {"body": "b"}}));
    }
}

//! Server-side search (spec §"Server Side Search"): the `room_events` category over message
//! bodies, room names and topics in the rooms the user is joined to, as Synapse answers it.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::service::filtering::{EventFilter, DEFAULT_LIMIT};
use crate::service::pagination::{members_at, scan, serialize_all, visible_range};
use crate::state::AppState;
use crate::storage::{SearchHit, SearchOrder};

/// Results the rank order considers at most (as Synapse).
const RANK_WINDOW: i64 = 500;
/// Largest `filter.limit` honoured.
const MAX_LIMIT: i64 = 1000;
/// Words the query leaves out (Synapse's list).
const STOP_WORDS: &[&str] = &["the", "a", "you", "me", "and", "but"];

/// 400 `M_UNKNOWN`, Synapse's answer to a query it cannot read.
fn unknown(message: impl Into<String>) -> MatrixError {
    MatrixError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "M_UNKNOWN",
        message.into(),
    )
}

/// A search term as an FTS5 query and the words to highlight. Words are runs of letters,
/// digits, `_` and `-`; `"…"` makes a phrase, a leading `-` negates, `or` joins, and
/// neighbours are joined with AND (Synapse's query language).
pub fn parse_query(term: &str) -> (String, Vec<String>) {
    let (mut parts, mut highlights) = (Vec::<String>::new(), Vec::new());
    let is_op = |p: Option<&String>| p.is_none_or(|p| p == "NOT" || p == "OR" || p == "AND");
    let push_term = |parts: &mut Vec<String>, text: String| {
        if !is_op(parts.last()) {
            parts.push("AND".into());
        }
        parts.push(format!("\"{}\"", text.replace('"', "\"\"")));
    };
    for (i, chunk) in term.split('"').enumerate() {
        let words = chunk
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .filter(|w| !w.is_empty());
        if i % 2 == 1 {
            let phrase: Vec<&str> = words.filter(|w| !STOP_WORDS.contains(w)).collect();
            if !phrase.is_empty() {
                highlights.push(phrase.join(" "));
                push_term(&mut parts, phrase.join(" "));
            }
            continue;
        }
        for word in words {
            let (negated, word) = match word.strip_prefix('-') {
                Some(rest) => (true, rest.trim_start_matches('-')),
                None => (false, word),
            };
            if word.is_empty() || STOP_WORDS.contains(&word) {
                continue;
            }
            // FTS5's NOT is binary: a negated word with nothing on its left excludes
            // nothing it could be set against, so it is dropped.
            if negated {
                if !is_op(parts.last()) {
                    parts.push("NOT".into());
                    parts.push(format!("\"{word}\""));
                }
                continue;
            }
            if word.eq_ignore_ascii_case("or") {
                if !is_op(parts.last()) {
                    parts.push("OR".into());
                }
                continue;
            }
            highlights.push(word.to_string());
            push_term(&mut parts, word.to_string());
        }
    }
    while is_op(parts.last()) && !parts.is_empty() {
        parts.pop();
    }
    (parts.join(" "), highlights)
}

/// What the `room_events` category asks.
struct Query {
    term: String,
    keys: Vec<String>,
    filter: EventFilter,
    recent: bool,
    include_state: bool,
    /// `(before_limit, after_limit, include_profile)`.
    context: Option<(i64, i64, bool)>,
    group_by: Vec<String>,
}

fn read_query(body: &Value) -> MatrixResult<Query> {
    let cat = &body["search_categories"]["room_events"];
    let term = cat["search_term"]
        .as_str()
        .ok_or_else(|| unknown("Invalid search query"))?;
    let keys = match cat.get("keys") {
        None => vec![
            "content.body".into(),
            "content.name".into(),
            "content.topic".into(),
        ],
        Some(k) => serde_json::from_value(k.clone())
            .map_err(|_| MatrixError::bad_json("keys must be a list of strings"))?,
    };
    let filter = match cat.get("filter") {
        None | Some(Value::Null) => EventFilter::default(),
        Some(f) => EventFilter::from_room_event_json(f).map_err(MatrixError::bad_json)?,
    };
    let recent = match cat.get("order_by").map(|o| o.as_str()) {
        None | Some(Some("rank")) => false,
        Some(Some("recent")) => true,
        Some(_) => return Err(unknown(format!("Invalid order by: {}", cat["order_by"]))),
    };
    let context = cat.get("event_context").filter(|c| !c.is_null()).map(|c| {
        let n = |k: &str| c[k].as_i64().unwrap_or(5).clamp(0, 100);
        let profile = c["include_profile"].as_bool().unwrap_or(false);
        (n("before_limit"), n("after_limit"), profile)
    });
    let mut group_by = Vec::new();
    for g in cat["groupings"]["group_by"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match g["key"].as_str() {
            Some(k @ ("room_id" | "sender")) => group_by.push(k.to_string()),
            _ => return Err(unknown(format!("Invalid group by keys: {}", g["key"]))),
        }
    }
    Ok(Query {
        term: term.to_string(),
        keys,
        filter,
        recent,
        include_state: cat["include_state"].as_bool().unwrap_or(false),
        context,
        group_by,
    })
}

/// A `next_batch` token: the `(origin_server_ts, stream_ordering)` of the last result.
fn read_batch(batch: &str) -> MatrixResult<(i64, i64)> {
    let bad = || unknown("Invalid batch");
    let (ts, pos) = batch
        .strip_prefix("r")
        .and_then(|rest| rest.split_once('_'))
        .ok_or_else(bad)?;
    Ok((
        ts.parse().map_err(|_| bad())?,
        pos.parse().map_err(|_| bad())?,
    ))
}

/// `POST /search` for `user_id`: `body` is the request (`search_categories.room_events`:
/// `search_term`, `keys`, `filter`, `order_by` `rank`|`recent`, `event_context`,
/// `include_state`, `groupings`), `next_batch` the paging token from an earlier `recent`
/// answer. Answers `{"search_categories": {"room_events": {results: [{rank, result,
/// context}], count, highlights, state?, groups?, next_batch?}}}`. Errors (as Synapse): 400
/// `M_UNKNOWN` for a missing `search_term`, an unknown `order_by` or group key, or a bad
/// `next_batch`; 400 `M_BAD_JSON` for `keys` or `filter` of the wrong shape.
pub async fn search(
    state: &AppState,
    user_id: &str,
    body: &Value,
    next_batch: Option<&str>,
) -> MatrixResult<Value> {
    let before = next_batch.map(read_batch).transpose()?;
    let q = read_query(body)?;
    let mut rooms = Vec::new();
    for (room_id, membership) in state.store.rooms_of(user_id).await? {
        if membership == "join" && q.filter.allows_room(&room_id) {
            rooms.push(room_id);
        }
    }
    let (fts, highlights) = parse_query(&q.term);
    if rooms.is_empty() || fts.is_empty() {
        return Ok(json!({"search_categories": {"room_events":
            {"results": [], "count": 0, "highlights": []}}}));
    }
    let limit = q.filter.limit_or(DEFAULT_LIMIT, MAX_LIMIT);
    let hits = if q.recent {
        recent_hits(state, user_id, &rooms, &q, &fts, before, limit).await?
    } else {
        let found = state
            .store
            .search_events(&rooms, &q.keys, &fts, SearchOrder::Rank, RANK_WINDOW)
            .await?;
        let mut hits = allowed(state, user_id, &q.filter, found).await?;
        hits.truncate(limit as usize);
        hits
    };
    let count = state.store.search_count(&rooms, &q.keys, &fts).await?;
    let mut out = json!({"results": results(state, user_id, &q, &hits).await?,
        "count": count, "highlights": highlights});
    if q.recent && hits.len() as i64 >= limit && limit > 0 {
        let last = &hits[hits.len() - 1];
        let token = format!("r{}_{}", last.origin_server_ts, last.event.stream_ordering);
        out["next_batch"] = json!(token);
    }
    if q.include_state {
        out["state"] = room_states(state, user_id, &hits).await?;
    }
    if !q.group_by.is_empty() {
        out["groups"] = groups(&q, &hits);
    }
    Ok(json!({"search_categories": {"room_events": out}}))
}

/// The hits `filter` accepts and `user_id` may see.
async fn allowed(
    state: &AppState,
    user_id: &str,
    filter: &EventFilter,
    hits: Vec<SearchHit>,
) -> MatrixResult<Vec<SearchHit>> {
    let mut ranges = HashMap::new();
    let mut out = Vec::new();
    for hit in hits {
        let room = hit.event.json["room_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !filter.allows(&hit.event.json, None) {
            continue;
        }
        if !ranges.contains_key(&room) {
            let range = visible_range(state, &room, user_id).await?;
            ranges.insert(room.clone(), range);
        }
        let pos = hit.event.stream_ordering;
        if ranges[&room].is_some_and(|(lo, hi)| lo <= pos && pos <= hi) {
            out.push(hit);
        }
    }
    Ok(out)
}

/// The newest `limit` visible hits before `before`, reading a few pages of matches (as
/// Synapse, which gives up after five).
async fn recent_hits(
    state: &AppState,
    user_id: &str,
    rooms: &[String],
    q: &Query,
    fts: &str,
    mut before: Option<(i64, i64)>,
    limit: i64,
) -> MatrixResult<Vec<SearchHit>> {
    let mut out = Vec::new();
    for _ in 0..5 {
        let page = (limit * 2).max(1);
        let order = SearchOrder::Recent(before);
        let found = state
            .store
            .search_events(rooms, &q.keys, fts, order, page)
            .await?;
        let full = found.len() as i64 == page;
        before = found
            .last()
            .map(|h| (h.origin_server_ts, h.event.stream_ordering));
        out.extend(allowed(state, user_id, &q.filter, found).await?);
        if out.len() as i64 >= limit || !full {
            break;
        }
    }
    out.truncate(limit as usize);
    Ok(out)
}

async fn results(
    state: &AppState,
    user_id: &str,
    q: &Query,
    hits: &[SearchHit],
) -> MatrixResult<Vec<Value>> {
    let mut out = Vec::new();
    for hit in hits {
        let context = match q.context {
            Some(limits) => event_context(state, user_id, hit, limits).await?,
            None => json!({}),
        };
        out.push(json!({
            "rank": hit.rank,
            "result": state.serialize_event(&hit.event.json, user_id).await?,
            "context": context,
        }));
    }
    Ok(out)
}

/// A result's `context`: visible events around it, tokens, and with `include_profile` the
/// senders' display names and avatars.
async fn event_context(
    state: &AppState,
    user_id: &str,
    hit: &SearchHit,
    (before_limit, after_limit, include_profile): (i64, i64, bool),
) -> MatrixResult<Value> {
    let room = hit.event.json["room_id"].as_str().unwrap_or_default();
    let pos = hit.event.stream_ordering;
    let (lo, hi) = visible_range(state, room, user_id)
        .await?
        .unwrap_or((pos, pos));
    let before = scan(state, room, (lo - 1, pos), true, before_limit, &|_| true).await?;
    let after = scan(
        state,
        room,
        (pos, hi.saturating_add(1)),
        false,
        after_limit,
        &|_| true,
    )
    .await?;
    let first = before.events.last().map_or(pos, |e| e.stream_ordering);
    let last = after.events.last().map_or(pos, |e| e.stream_ordering);
    let mut context = json!({
        "events_before": serialize_all(state, user_id, &before.events).await?,
        "events_after": serialize_all(state, user_id, &after.events).await?,
        "start": format!("t{first}"),
        "end": format!("t{last}"),
    });
    if include_profile {
        let senders = before
            .events
            .iter()
            .chain([&hit.event])
            .chain(&after.events)
            .filter_map(|e| e.json["sender"].as_str().map(String::from));
        let mut profiles = Map::new();
        for ev in members_at(state, user_id, room, senders, last).await? {
            let who = ev["state_key"].as_str().unwrap_or_default().to_string();
            let c = &ev["content"];
            profiles.insert(
                who,
                json!({"displayname": c["displayname"], "avatar_url": c["avatar_url"]}),
            );
        }
        context["profile_info"] = Value::Object(profiles);
    }
    Ok(context)
}

/// `state`: each result room's current state.
async fn room_states(state: &AppState, user_id: &str, hits: &[SearchHit]) -> MatrixResult<Value> {
    let mut out = Map::new();
    for hit in hits {
        let room = hit.event.json["room_id"].as_str().unwrap_or_default();
        if out.contains_key(room) {
            continue;
        }
        let mut events = Vec::new();
        for ev in state.store.current_state(room).await? {
            events.push(state.serialize_event(&ev, user_id).await?);
        }
        out.insert(room.to_string(), Value::Array(events));
    }
    Ok(Value::Object(out))
}

/// `groups`: result event IDs by `room_id` and/or `sender`, each group ordered by its best
/// result's rank.
fn groups(q: &Query, hits: &[SearchHit]) -> Value {
    let mut out = Map::new();
    for key in &q.group_by {
        let mut groups = Map::new();
        for hit in hits {
            let name = hit.event.json[key.as_str()].as_str().unwrap_or_default();
            let group = groups
                .entry(name.to_string())
                .or_insert_with(|| json!({"results": [], "order": hit.rank}));
            if let Some(ids) = group["results"].as_array_mut() {
                ids.push(hit.event.json["event_id"].clone());
            }
        }
        out.insert(key.clone(), Value::Object(groups));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::parse_query;

    #[test]
    fn queries_become_fts5_syntax() {
        assert_eq!(parse_query("hello world").0, "\"hello\" AND \"world\"");
        assert_eq!(parse_query("cats or dogs").0, "\"cats\" OR \"dogs\"");
        assert_eq!(parse_query("cats -dogs").0, "\"cats\" NOT \"dogs\"");
        assert_eq!(parse_query("-dogs").0, "");
        assert_eq!(parse_query("\"the big cat\" x").0, "\"big cat\" AND \"x\"");
        assert_eq!(parse_query("the ! a").0, "");
        let (q, h) = parse_query("Hello \"good day\"");
        assert_eq!(q, "\"Hello\" AND \"good day\"");
        assert_eq!(h, vec!["Hello", "good day"]);
    }
}

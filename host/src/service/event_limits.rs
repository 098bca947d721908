//! The spec's size limits of an event (client-server spec v1.12 §"Size limits"): 65,536
//! bytes as serialized, and 255 bytes each for `type`, `state_key`, `room_id`, `sender` and
//! `event_id`. Checked before an event is stored, so an oversized one never reaches anyone's
//! `/sync`.

use axum::http::StatusCode;
use serde_json::Value;

use crate::error::{MatrixError, MatrixResult};

/// Longest `type`, `state_key`, `room_id`, `sender` and `event_id`, in bytes.
pub const MAX_ID_BYTES: usize = 255;

/// Check `event` (the full event about to be stored) against the per-field limits: 413
/// `M_TOO_LARGE` "'<field>' too large", as Synapse's `_check_size_limits` answers.
pub fn check_field_sizes(event: &Value) -> MatrixResult<()> {
    for field in ["sender", "room_id", "state_key", "type", "event_id"] {
        let too_long = event
            .get(field)
            .and_then(Value::as_str)
            .is_some_and(|v| v.len() > MAX_ID_BYTES);
        if too_long {
            return Err(MatrixError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "M_TOO_LARGE",
                format!("'{field}' too large"),
            ));
        }
    }
    Ok(())
}

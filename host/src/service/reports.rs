//! Reporting content (client-server spec v1.12 §"Reporting content"): a member reports an
//! event they can see to the server's administrators.

use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;
use crate::storage::EventReport;

/// Store `report` of an event. The reporter must be joined to the room and able to see the
/// event; otherwise 404 `M_NOT_FOUND` (Synapse's answer, which does not reveal whether the
/// event exists). `score` must lie in -100..=0: 400 `M_INVALID_PARAM` otherwise.
pub async fn report_event(state: &AppState, report: EventReport<'_>) -> MatrixResult<()> {
    if report.score.is_some_and(|s| !(-100..=0).contains(&s)) {
        return Err(MatrixError::invalid_param(
            "Param 'score' must be an integer between -100 and 0",
        ));
    }
    let not_found = || {
        MatrixError::not_found(
            "Unable to report event: it does not exist or you aren't able to see it.",
        )
    };
    let joined = state
        .store
        .membership(report.room_id, report.user_id)
        .await?;
    if joined.as_deref() != Some("join") {
        return Err(not_found());
    }
    let event = state
        .store
        .get_event(report.event_id)
        .await?
        .filter(|e| e.json["room_id"] == report.room_id)
        .ok_or_else(not_found)?;
    let visible_from = state.visible_from(report.room_id, report.user_id).await?;
    if event.stream_ordering < visible_from {
        return Err(not_found());
    }
    state.store.add_event_report(&report).await?;
    tracing::info!(
        room_id = report.room_id,
        event_id = report.event_id,
        reporter = report.user_id,
        "event reported"
    );
    Ok(())
}

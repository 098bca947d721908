//! Background leadership for modules: whether this instance runs the work that runs on one
//! instance only (the SDK's `looping_background_call` asks before each run).

use plugin_sdk::host_methods::{HostError, RunsBackgroundTasks};

use super::Handler;
use crate::state::AppState;

/// `runs_background_tasks()` → whether this instance is the background leader
/// ([`crate::service::leader`]).
impl Handler for RunsBackgroundTasks {
    async fn handle(state: &AppState, _module: &str, _args: ()) -> Result<bool, HostError> {
        Ok(state.leadership.is_leader())
    }
}

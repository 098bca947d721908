//! The module API: host services modules call by name through `HostApi::call`
//! (`ModuleApi::call_method` and its typed wrappers in the SDK). New services are new names,
//! so adding one never changes the ABI.
//!
//! Every method is a type of the SDK's catalogue (`plugin_sdk::host_methods`), which gives
//! its name, its argument struct and its answer; `ROUTES` maps each to its `Handler`,
//! implemented in one file per area, which receives the decoded struct. Errors a client
//! could see (a refused join, an unknown token) are `HostError::Matrix`, carrying the status
//! and errcode; misuse by the module (wrong argument types, a remote user where a local one
//! is needed) `HostError::BadValue`; failures of the host `HostError::Internal`.

mod account;
mod cache;
mod http;
mod identity;
mod leader;
mod rooms;
mod store;

use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;
use plugin_sdk::ffi::{FfiArg, FfiError, FfiValue};
use plugin_sdk::host_methods::{self as hm, wire, HostError, HostMethod};

use crate::error::MatrixError;
use crate::modules::HostServices;
use crate::service::auth::Requester;
use crate::state::AppState;

pub use cache::InvalidationFeed;
pub use store::ModuleTxns;

/// What the module API keeps between calls.
#[derive(Default)]
pub struct ModuleApiState {
    /// Open store transactions.
    pub txns: ModuleTxns,
    /// Users whose next `/sync` gets every online local user's presence
    /// (`send_local_online_presence_to`).
    pub presence_pushes: std::sync::Mutex<std::collections::HashSet<String>>,
    /// This instance's name in the cache invalidation stream.
    pub instance: String,
    /// The client of `http_request`, built on first use.
    pub http_client: http::ModuleHttpClientCell,
}

/// The host side of a catalogue method.
trait Handler: HostMethod {
    /// Answer `module`'s call with its decoded arguments.
    fn handle(
        state: &AppState,
        module: &str,
        args: Self::Args,
    ) -> impl Future<Output = Result<Self::Output, HostError>> + Send;

    /// The module stopped waiting for the call, which answered `output` (so it may need
    /// undoing). Nothing by default.
    fn abandoned(_state: AppState, _module: Arc<str>, _output: Self::Output) {}
}

/// Runs one call: state, calling module, arguments.
type CallFn =
    fn(AppState, Arc<str>, Vec<FfiValue>) -> BoxFuture<'static, Result<FfiValue, FfiError>>;

/// One entry of the dispatch table.
struct Route {
    name: &'static str,
    /// The method reads or writes data keyed by the module's name (its store, its cache
    /// stream). A module loaded from a file whose name another module already uses gets a
    /// `#<index>` suffix, which would follow its position in `modules:`: such a module
    /// could later read another's data, so it may not call these.
    own_namespace: bool,
    call: CallFn,
    abandoned: fn(AppState, Arc<str>, FfiValue),
}

const fn route<M: Handler>() -> Route {
    Route {
        name: M::NAME,
        own_namespace: false,
        call: call::<M>,
        abandoned: abandoned::<M>,
    }
}

/// A method that needs the module's own namespace (see `Route::own_namespace`).
const fn namespaced<M: Handler>() -> Route {
    Route {
        own_namespace: true,
        ..route::<M>()
    }
}

/// Every host method, by name.
const ROUTES: &[Route] = &[
    // Identity and sessions (identity.rs).
    route::<hm::CheckUserExists>(),
    route::<hm::GetUserinfoById>(),
    route::<hm::IsUserAdmin>(),
    route::<hm::SetUserAdmin>(),
    route::<hm::RegisterUser>(),
    route::<hm::RegisterDevice>(),
    route::<hm::GetProfileForUser>(),
    route::<hm::SetDisplayname>(),
    route::<hm::GetThreepidsForUser>(),
    route::<hm::GetUserByReq>(),
    route::<hm::InvalidateAccessToken>(),
    route::<hm::CreateLoginToken>(),
    route::<hm::GetHostConfig>(),
    // Rooms and events (rooms.rs).
    route::<hm::UpdateRoomMembership>(),
    route::<hm::CreateAndSendEventIntoRoom>(),
    route::<hm::GetRoomState>(),
    route::<hm::LookupRoomAlias>(),
    route::<hm::GetCanonicalRoomAlias>(),
    route::<hm::CreateRoom>(),
    route::<hm::DeleteRoom>(),
    route::<hm::PublicRoomListContains>(),
    route::<hm::PublicRoomListAdd>(),
    route::<hm::PublicRoomListRemove>(),
    // Account data and presence (account.rs).
    route::<hm::AccountDataGetGlobal>(),
    route::<hm::AccountDataPutGlobal>(),
    route::<hm::SetPresenceForUsers>(),
    route::<hm::SendLocalOnlinePresenceTo>(),
    // The module's store (store.rs).
    namespaced::<hm::StoreBegin>(),
    namespaced::<hm::StoreCommit>(),
    namespaced::<hm::StoreRollback>(),
    namespaced::<hm::StoreGet>(),
    namespaced::<hm::StorePut>(),
    namespaced::<hm::StoreDelete>(),
    namespaced::<hm::StoreScan>(),
    // HTTP (http.rs) and caches (cache.rs).
    route::<hm::SendHttpRequest>(),
    namespaced::<hm::InvalidateCache>(),
    // Background work (leader.rs).
    route::<hm::RunsBackgroundTasks>(),
];

fn find(method: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.name == method)
}

/// Decode the arguments, run the handler, encode its answer.
fn call<M: Handler>(
    state: AppState,
    module: Arc<str>,
    args: Vec<FfiValue>,
) -> BoxFuture<'static, Result<FfiValue, FfiError>> {
    async move {
        let decoded = {
            let borrowed: Vec<FfiArg<'_>> = args.iter().map(FfiValue::as_arg).collect();
            wire::decode_args::<M::Args>(&borrowed)
        };
        let output = M::handle(&state, &module, decoded.map_err(HostError::from)?).await?;
        wire::encode_value(&output).map_err(internal)
    }
    .map(|answer: Result<FfiValue, HostError>| answer.map_err(HostError::into_ffi))
    .boxed()
}

fn abandoned<M: Handler>(state: AppState, module: Arc<str>, answer: FfiValue) {
    if let Ok(output) = wire::decode_value::<M::Output>(answer.as_arg()) {
        M::abandoned(state, module, output);
    }
}

/// A refusal the module may pass on to a client as it is.
pub(crate) fn refused(err: MatrixError) -> HostError {
    HostError::Matrix(plugin_sdk::MatrixError {
        status: err.status.as_u16(),
        errcode: err.errcode,
        error: err.error,
        fields: err.fields,
    })
}

/// The module asked for something that cannot be done as asked.
pub(crate) fn bad_value(message: impl Into<String>) -> HostError {
    HostError::BadValue(message.into())
}

/// The host failed (a database error): logged by the module, never shown to clients.
pub(crate) fn internal(err: impl std::fmt::Display) -> HostError {
    HostError::Internal(err.to_string())
}

impl AppState {
    pub(crate) fn is_local(&self, user_id: &str) -> bool {
        user_id.starts_with('@') && user_id.ends_with(&format!(":{}", self.config.server_name))
    }

    /// Refuse a user ID that is malformed or not on this server.
    pub(crate) fn require_local(&self, user_id: &str, what: &str) -> Result<(), HostError> {
        if ruma_common::UserId::parse(user_id).is_err() {
            return Err(bad_value(format!(
                "{what} {user_id:?} is not a valid user ID"
            )));
        }
        if !self.is_local(user_id) {
            return Err(bad_value(format!("{what} {user_id} is not a local user")));
        }
        Ok(())
    }

    /// A requester for acting on behalf of the registered, active local user `user_id`,
    /// with that user's admin status. Never shadow-banned: Synapse's module API builds its
    /// requesters with `create_requester(user_id)`, which carries no shadow ban, so a
    /// module's invite or `createRoom` invites on behalf of a shadow-banned user really go
    /// out (the module chose to send them); the admin status is looked up by the handlers
    /// (`is_server_admin`), so admins keep their bypasses.
    pub(crate) async fn acting_user(
        &self,
        user_id: &str,
        what: &str,
    ) -> Result<Requester, HostError> {
        self.require_local(user_id, what)?;
        match self.store.get_user(user_id).await.map_err(internal)? {
            Some(u) if !u.deactivated => {
                let mut who = self.acting_as(user_id);
                who.is_admin = u.is_admin;
                Ok(who)
            }
            Some(_) => Err(bad_value(format!("{what} {user_id} is deactivated"))),
            None => Err(bad_value(format!("{what} {user_id} is not registered"))),
        }
    }

    /// A bare requester for `user_id` (no admin rights, not shadow-banned).
    pub(crate) fn acting_as(&self, user_id: &str) -> Requester {
        Requester {
            user_id: user_id.to_string(),
            device_id: String::new(),
            access_token: String::new(),
            token_hash: String::new(),
            is_admin: false,
            shadow_banned: false,
        }
    }

    /// Run host method `method` for `module`.
    async fn module_call(
        &self,
        module: Arc<str>,
        method: &str,
        args: Vec<FfiValue>,
    ) -> Result<FfiValue, FfiError> {
        let Some(route) = find(method) else {
            return Err(HostError::Unsupported(format!(
                "host method {method} is not supported by this host (plugin-sdk {})",
                plugin_sdk::ffi::SDK_VERSION
            ))
            .into_ffi());
        };
        if route.own_namespace && module.contains('#') {
            return Err(bad_value(format!(
                "module {module} has no store: its library file shares its name with another \
                 module's; give the file a name of its own"
            ))
            .into_ffi());
        }
        (route.call)(self.clone(), module, args).await
    }
}

impl HostServices for AppState {
    fn call(
        &self,
        module: Arc<str>,
        method: String,
        args: Vec<FfiValue>,
    ) -> BoxFuture<'static, Result<FfiValue, FfiError>> {
        let state = self.clone();
        async move { state.module_call(module, &method, args).await }.boxed()
    }

    fn abandoned(&self, module: Arc<str>, method: &str, answer: Result<FfiValue, FfiError>) {
        if let (Some(route), Ok(answer)) = (find(method), answer) {
            (route.abandoned)(self.clone(), module, answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_method_is_routed_once() {
        for name in hm::HOST_METHODS {
            assert_eq!(
                ROUTES.iter().filter(|r| r.name == *name).count(),
                1,
                "{name}"
            );
        }
        assert_eq!(ROUTES.len(), hm::HOST_METHODS.len());
    }
}

//! [`ModuleApi`]: what a module may ask of the host.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use abi_stable::std_types::{RDuration, RResult, RSlice};
use async_ffi::FutureExt as _;

use crate::callbacks::*;
use crate::codec::{Decode, Encode};
use crate::ffi::{DropGuarded, FfiArg, FfiError, FfiValue, HostApi_TO, RArc};
use crate::host_methods::{
    wire, HostError, HostMethod, InvalidateCache, InvalidateCacheArgs, RunsBackgroundTasks,
};
use crate::web::{self, Request, Response};
use crate::ModuleError;

/// The module's handle on the host (Synapse's `ModuleApi`). Cheap to clone; clones may be
/// moved into callbacks and tasks.
#[derive(Clone)]
pub struct ModuleApi {
    host: HostApi_TO<RArc<()>>,
    module_name: &'static str,
    module_version: &'static str,
    instance: Arc<Instance>,
}

/// What one module instance keeps for its lifetime (shared by the clones of its API).
#[derive(Default)]
struct Instance {
    runner_registered: AtomicBool,
    invalidators: Arc<invalidation::Invalidators>,
}

impl ModuleApi {
    pub(crate) fn new(
        host: HostApi_TO<RArc<()>>,
        module_name: &'static str,
        module_version: &'static str,
    ) -> Self {
        ModuleApi {
            host,
            module_name,
            module_version,
            instance: Arc::default(),
        }
    }

    /// The homeserver's `server_name`, e.g. `example.org`.
    pub fn server_name(&self) -> String {
        self.host.server_name().into_string()
    }

    /// This module's crate name. (The host knows the module by the name the operator loads
    /// it under, its library file's name: that name keys its [store](Self::store) and
    /// appears in the server's log.)
    pub fn module_name(&self) -> &'static str {
        self.module_name
    }

    /// This module's crate version.
    pub fn module_version(&self) -> &'static str {
        self.module_version
    }

    /// The plugin-sdk version the host was built against (the host may be newer or older
    /// than this module; see [`crate::ffi`] for what that means).
    pub fn host_sdk_version(&self) -> String {
        self.host.host_sdk_version().into_string()
    }

    /// `@localpart:server_name`, or `localpart` unchanged if it is already a user ID.
    pub fn get_qualified_user_id(&self, localpart: &str) -> String {
        if localpart.starts_with('@') {
            localpart.to_string()
        } else {
            format!("@{}:{}", localpart, self.server_name())
        }
    }

    /// Serve `handler` at `path` and every path below it, e.g.
    /// `/_synapse/client/my_module/hello`. Call this from [`Module::new`](crate::Module::new):
    /// registration closes once the server starts. If another module, earlier in
    /// `modules:`, registered the same path first, it keeps it and this registration is
    /// ignored with a warning. Paths under `/_matrix/` and the server's own routes are refused.
    pub fn register_web_resource<F, Fut>(&self, path: &str, handler: F) -> Result<(), ModuleError>
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        into_module_result(
            self.host
                .register_web_resource(path.into(), web::handler(handler)),
        )
    }

    fn register(&self, category: &'static str, entries: Vec<Entry>) -> Result<(), ModuleError> {
        for e in entries {
            into_module_result(self.host.register_callback(
                category.into(),
                e.name.into(),
                e.meta.as_str().into(),
                e.callback,
            ))?;
        }
        Ok(())
    }

    fn register_with_followups(
        &self,
        category: &'static str,
        entries: Vec<Entry>,
    ) -> Result<(), ModuleError> {
        if !self.instance.runner_registered.swap(true, Ordering::SeqCst) {
            self.register("sdk", vec![deferred::runner()])?;
        }
        self.register(category, entries)
    }

    /// Make `cached` invalidatable by `name` through [`invalidate_cache`](Self::invalidate_cache),
    /// on this instance and on every other instance sharing the database (Synapse's
    /// `register_cached_function`). Call it from [`Module::new`](crate::Module::new) so every
    /// instance registers the same names; a second registration under a name replaces the
    /// first.
    ///
    /// ```no_run
    /// # fn f(api: plugin_sdk::ModuleApi) -> Result<(), plugin_sdk::ModuleError> {
    /// use plugin_sdk::cache::Cached;
    /// let expiry: Cached<String, i64> = Cached::new(10_000);
    /// api.register_cached_function("expiry_of", &expiry)?;
    /// // later, after a user renews: drop the stale entry everywhere
    /// // api.invalidate_cache("expiry_of", "@alice:example.org").await?;
    /// # Ok(()) }
    /// ```
    pub fn register_cached_function<V>(
        &self,
        name: &str,
        cached: &crate::cache::Cached<String, V>,
    ) -> Result<(), ModuleError>
    where
        V: Clone + Send + Sync + 'static,
    {
        let cached = cached.clone();
        let first = self.instance.invalidators.register(
            name,
            Arc::new(move |key: &str| cached.invalidate(&key.to_string())),
        );
        if first {
            let hook = invalidation::hook(Arc::clone(&self.instance.invalidators));
            self.register("sdk", vec![hook])?;
        }
        Ok(())
    }

    /// Drop `key` from the cached function registered as `name`: here at once, and on every
    /// other instance sharing the database within a moment (Synapse's `invalidate_cache`).
    /// An unregistered `name` is an error.
    pub async fn invalidate_cache(&self, name: &str, key: &str) -> Result<(), ModuleError> {
        if !self.instance.invalidators.invalidate(name, key) {
            return Err(ModuleError::new(format!(
                "no cached function is registered as {name:?} (see register_cached_function)"
            )));
        }
        self.call_method::<InvalidateCache>(InvalidateCacheArgs {
            function: name.into(),
            key: key.into(),
        })
        .await
    }

    /// Register spam checker callbacks. May be called several times; each call appends.
    pub fn register_spam_checker_callbacks(
        &self,
        cbs: SpamCheckerCallbacks,
    ) -> Result<(), ModuleError> {
        self.register(SpamCheckerCallbacks::CATEGORY, cbs.entries)
    }

    /// Register third-party rules callbacks.
    pub fn register_third_party_rules_callbacks(
        &self,
        cbs: ThirdPartyRulesCallbacks,
    ) -> Result<(), ModuleError> {
        self.register(ThirdPartyRulesCallbacks::CATEGORY, cbs.entries)
    }

    /// Register presence router callbacks (both or neither).
    pub fn register_presence_router_callbacks(
        &self,
        cbs: PresenceRouterCallbacks,
    ) -> Result<(), ModuleError> {
        let n = cbs.entries.len();
        if n == 1 {
            return Err(ModuleError::new(
                "PresenceRouter modules must register neither or both of the paired callbacks: \
                 [get_users_for_states, get_interested_users]",
            ));
        }
        self.register(PresenceRouterCallbacks::CATEGORY, cbs.entries)
    }

    /// Register account validity callbacks.
    pub fn register_account_validity_callbacks(
        &self,
        cbs: AccountValidityCallbacks,
    ) -> Result<(), ModuleError> {
        self.register(AccountValidityCallbacks::CATEGORY, cbs.entries)
    }

    /// Register password auth provider callbacks.
    pub fn register_password_auth_provider_callbacks(
        &self,
        cbs: PasswordAuthProviderCallbacks,
    ) -> Result<(), ModuleError> {
        self.register_with_followups(PasswordAuthProviderCallbacks::CATEGORY, cbs.entries)
    }

    /// Register background update controller callbacks (`on_update` is required).
    pub fn register_background_update_controller_callbacks(
        &self,
        cbs: BackgroundUpdateCallbacks,
    ) -> Result<(), ModuleError> {
        if !cbs.entries.iter().any(|e| e.name == "on_update") {
            return Err(ModuleError::new(
                "register_background_update_controller_callbacks needs on_update",
            ));
        }
        self.register_with_followups(BackgroundUpdateCallbacks::CATEGORY, cbs.entries)
    }

    /// Register account data callbacks.
    pub fn register_account_data_callbacks(
        &self,
        cbs: AccountDataCallbacks,
    ) -> Result<(), ModuleError> {
        self.register(AccountDataCallbacks::CATEGORY, cbs.entries)
    }

    /// Register media repository callbacks.
    pub fn register_media_repository_callbacks(
        &self,
        cbs: MediaRepositoryCallbacks,
    ) -> Result<(), ModuleError> {
        self.register(MediaRepositoryCallbacks::CATEGORY, cbs.entries)
    }

    /// Register ratelimit callbacks.
    pub fn register_ratelimit_callbacks(&self, cbs: RatelimitCallbacks) -> Result<(), ModuleError> {
        self.register(RatelimitCallbacks::CATEGORY, cbs.entries)
    }

    /// Register callbacks adding fields to events' `unsigned` section.
    pub fn register_add_extra_fields_to_unsigned_client_event_callbacks(
        &self,
        cbs: UnsignedFieldsCallbacks,
    ) -> Result<(), ModuleError> {
        self.register(UnsignedFieldsCallbacks::CATEGORY, cbs.entries)
    }

    /// Wait `duration` on the host's clock. Use this instead of `tokio::time::sleep`: a
    /// module's own copy of tokio has no runtime and panics.
    pub async fn sleep(&self, duration: Duration) {
        self.host.sleep(RDuration::from(duration)).await
    }

    /// Run `task` in the background on the host's runtime (instead of `tokio::spawn`). A
    /// panic inside it is logged under this module's name and ends only that task.
    pub fn spawn<F>(&self, name: &str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let name_owned = name.to_string();
        let wrapped = async move {
            if let Err(err) = guard(async move {
                task.await;
                Ok(())
            })
            .await
            {
                tracing::error!(task = %name_owned, "background task failed: {}", err.message);
            }
        };
        self.host
            .spawn(name.into(), DropGuarded::new(wrapped).into_ffi());
    }

    /// Run `f` every `interval` on the host's runtime, first after one interval, on one
    /// instance only (Synapse's `looping_background_call` with its default
    /// `run_on_all_instances=False`). Every instance keeps the timer; before each run it
    /// asks [`runs_background_tasks`](Self::runs_background_tasks), and an instance that is
    /// not the background leader skips the run and waits for the next tick. When the leader
    /// dies another instance takes over within seconds and runs the following ticks. On a
    /// single instance (SQLite) every tick runs. A run may rarely overlap a run on another
    /// instance while leadership moves (about a second around a network cut), so `f` should
    /// tolerate that, as it would a retry. For work every instance must do (its own caches),
    /// use [`looping_background_call_on_all_instances`](Self::looping_background_call_on_all_instances).
    ///
    /// `name` names the task in the log and the admin API; `interval` is the wait between
    /// the end of one run and the next tick. Each run finishes before the next wait starts;
    /// a panic in one run is logged and the loop goes on.
    ///
    /// ```no_run
    /// # fn f(api: plugin_sdk::ModuleApi) {
    /// use std::time::Duration;
    /// api.looping_background_call("expire-accounts", Duration::from_secs(3600), || async {
    ///     // look for expired accounts …
    /// });
    /// # }
    /// ```
    pub fn looping_background_call<F, Fut>(&self, name: &str, interval: Duration, f: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.looping(name, interval, true, f);
    }

    /// Run `f` every `interval` on the host's runtime on every instance sharing the
    /// database, first after one interval (Synapse's `looping_background_call` with
    /// `run_on_all_instances=True`): for work on an instance's own state, such as pruning
    /// an in-memory cache. Arguments and failures as for
    /// [`looping_background_call`](Self::looping_background_call).
    pub fn looping_background_call_on_all_instances<F, Fut>(
        &self,
        name: &str,
        interval: Duration,
        f: F,
    ) where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.looping(name, interval, false, f);
    }

    /// The loop behind both looping calls; `leader_only` skips runs on instances other than
    /// the background leader.
    fn looping<F, Fut>(&self, name: &str, interval: Duration, leader_only: bool, f: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (api, task) = (self.clone(), name.to_string());
        self.spawn(name, async move {
            loop {
                api.sleep(interval).await;
                if leader_only && !api.runs_background_tasks().await {
                    continue;
                }
                if let Err(err) = guard(async {
                    f().await;
                    Ok(())
                })
                .await
                {
                    tracing::error!(task = %task, "looping call failed: {}", err.message);
                }
            }
        });
    }

    /// Whether this instance runs the background work meant to run once: `true` on the
    /// instance the host elected background leader among those sharing a PostgreSQL
    /// database (at most one at a time; another takes over within seconds when it dies),
    /// always on a single SQLite instance, and on a host older than this method (which has
    /// no leader and runs everything everywhere). `false` on the other instances, and when
    /// the host cannot answer yet (before its database is open), so work gated on it waits
    /// for a later tick rather than risk running twice.
    pub async fn runs_background_tasks(&self) -> bool {
        let pending = self
            .host
            .call(RunsBackgroundTasks::NAME.into(), RSlice::from_slice(&[]));
        match pending.await {
            RResult::ROk(value) => wire::decode_value::<bool>(value.as_arg()).unwrap_or(false),
            RResult::RErr(err) => {
                matches!(HostError::from_ffi(&err), HostError::Unsupported(_))
            }
        }
    }

    /// Run `f` once after `delay` on the host's runtime (Synapse's `delayed_background_call`).
    pub fn delayed_background_call<F, Fut>(&self, name: &str, delay: Duration, f: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let api = self.clone();
        self.spawn(name, async move {
            api.sleep(delay).await;
            f().await;
        });
    }

    /// Call a host service by name. This is how newer host services reach modules without
    /// changing the ABI; an older host answers `unsupported`, reported as an error naming
    /// the method and the host's SDK version.
    pub async fn call_host<T: Decode>(
        &self,
        method: &str,
        args: Vec<FfiValue>,
    ) -> Result<T, ModuleError> {
        let value = self.call_raw(method, args).await?;
        T::decode_value(&value).map_err(ModuleError::new)
    }

    /// Call host method `M` of the [catalogue](crate::host_methods) with its typed
    /// arguments; errors as for [`call_host`](Self::call_host).
    ///
    /// ```no_run
    /// # async fn f(api: plugin_sdk::ModuleApi) -> Result<(), plugin_sdk::ModuleError> {
    /// use plugin_sdk::host_methods::{IsUserAdmin, UserArgs};
    /// let admin = api
    ///     .call_method::<IsUserAdmin>(UserArgs { user_id: "@alice:example.org".into() })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn call_method<M: HostMethod>(
        &self,
        args: M::Args,
    ) -> Result<M::Output, ModuleError> {
        let args =
            wire::encode_args(&args).map_err(|e| ModuleError::new(format!("{}: {e}", M::NAME)))?;
        let value = self.call_raw(M::NAME, args).await?;
        wire::decode_value(value.as_arg()).map_err(|e| ModuleError::new(e.to_string()))
    }

    async fn call_raw(&self, method: &str, args: Vec<FfiValue>) -> Result<FfiValue, ModuleError> {
        let borrowed: Vec<FfiArg<'_>> = args.iter().map(FfiValue::as_arg).collect();
        let pending = self.host.call(method.into(), RSlice::from_slice(&borrowed));
        match pending.await {
            RResult::ROk(value) => Ok(value),
            RResult::RErr(err) => Err(match HostError::from_ffi(&err) {
                HostError::Unsupported(_) => ModuleError::new(format!(
                    "the host (plugin-sdk {}) does not support {method}",
                    self.host_sdk_version()
                )),
                other => other.into(),
            }),
        }
    }

    /// Encode a value for [`call_host`](Self::call_host).
    pub fn arg<T: Encode>(value: T) -> FfiValue {
        value.encode()
    }
}

fn into_module_result(r: RResult<(), FfiError>) -> Result<(), ModuleError> {
    match r {
        RResult::ROk(()) => Ok(()),
        RResult::RErr(e) => Err(ModuleError::new(e.message.into_string())),
    }
}

//! # Porting a Synapse module to modhost
//!
//! A Synapse module is a Python class built with `(config, api)` that registers callbacks;
//! a modhost module is a Rust type built with `(config, api)` that registers callbacks.
//! Most of a port is mechanical. This page maps each Synapse idiom to its counterpart.
//!
//! ## The class and its configuration
//!
//! | Synapse | modhost |
//! |---|---|
//! | `class MyModule:` with `__init__(self, config, api)` | `impl Module for MyModule` with [`Module::new`](crate::Module::new) |
//! | `@staticmethod parse_config(config) -> dict` | [`Module::parse_config`](crate::Module::parse_config); the default deserializes `type Config` with serde |
//! | `raise ConfigError("…", ("rules", "0"))` | `Err(ConfigError::new("…").at(["rules", "0"]))` ([`ConfigError`](crate::ConfigError)) |
//! | `module: my_package.MyModule` in `homeserver.yaml` | `module: my_module` (the library `libmy_module.so` in `plugins_dir`) and [`export_module!`](crate::export_module) |
//!
//! ## Verdicts
//!
//! | Synapse | modhost |
//! |---|---|
//! | `return NOT_SPAM` | [`SpamCheck::NotSpam`](crate::SpamCheck::NotSpam) |
//! | `return Codes.FORBIDDEN` | [`SpamCheck::forbidden()`](crate::SpamCheck::forbidden) |
//! | `return (Codes.LIMIT_EXCEEDED, {"retry_after_ms": 100})` | `SpamCheck::Deny(Denial::new(codes::LIMIT_EXCEEDED).with_field("retry_after_ms", 100))` |
//! | legacy `return True` / `False` | an explicit `SpamCheck`: the meaning of a bool differed per callback (`True` was "allowed" for `user_may_*` but "spam" for `check_event_for_spam` and `check_username_for_spam`), so there is no bool form to get wrong |
//! | 1-argument `user_may_create_room(user_id)` | the closure takes `(user_id, room_config)` and ignores the second |
//! | `check_event_allowed` returning `(False, None)` / `(True, new_dict)` | [`EventAllowed`](crate::EventAllowed) |
//!
//! ## Errors
//!
//! | Synapse | modhost |
//! |---|---|
//! | `raise SynapseError(403, "No", Codes.FORBIDDEN)` | `Err(ModuleError::matrix(403, "M_FORBIDDEN", "No"))`: the client gets exactly that |
//! | any other exception | `Err(ModuleError::new("…"))` or a panic: the callback's failure policy applies and the message goes to the log, never to clients |
//! | `respond_with_json(request, 200, {...})` in a resource | `Response::json(200, &json!({...}))` ([`Response`](crate::Response)) |
//! | returning a `SynapseError` from a resource | [`Response::from_error`](crate::Response::from_error) |
//!
//! ## The module API
//!
//! | Synapse (`ModuleApi`) | modhost ([`ModuleApi`](crate::ModuleApi)) |
//! |---|---|
//! | `api.register_web_resource(path, resource)` | [`register_web_resource(path, handler)`](crate::ModuleApi::register_web_resource), an async closure |
//! | `await api.get_user_by_req(request, allow_expired=True)` | [`get_user_by_req(&req, true)`](crate::ModuleApi::get_user_by_req) |
//! | `api.looping_background_call(f, 30 * 60 * 1000)` | [`looping_background_call(name, Duration::from_secs(1800), f)`](crate::ModuleApi::looping_background_call) |
//! | `api.looping_background_call(f, ms, run_on_all_instances=True)` | [`looping_background_call_on_all_instances(name, interval, f)`](crate::ModuleApi::looping_background_call_on_all_instances); the default (one instance) is elected, not configured |
//! | `hs.config.worker.run_background_tasks` | [`runs_background_tasks()`](crate::ModuleApi::runs_background_tasks) |
//! | `run_as_background_process("desc", f)` | [`spawn("desc", future)`](crate::ModuleApi::spawn) |
//! | `await api.sleep(1)` / `asyncio.sleep` | [`sleep(Duration)`](crate::ModuleApi::sleep); never `tokio::time::sleep` (the module's tokio has no runtime) |
//! | `defer_to_thread(f)` | [`spawn_blocking(f)`](crate::ModuleApi::spawn_blocking) |
//! | `api.http_client.post_json_get_json(url, body)` | [`http().post_json_get_json(url, &body)`](crate::HttpClient::post_json_get_json) |
//! | `await api.run_db_interaction("desc", f)` with `CREATE TABLE IF NOT EXISTS` | the module's [store](crate::Store): ordered keys with JSON values, [transactions](crate::Store::transaction) and [schema versions](crate::Store::migrate); no SQL, no database driver |
//! | `@cached(max_entries=…)` | [`cache::Cached::new(max_entries)`](crate::cache::Cached) and [`get_or_compute`](crate::cache::Cached::get_or_compute) |
//! | `api.register_cached_function(f)` / `await api.invalidate_cache(f, (key,))` | [`register_cached_function(name, &cached)`](crate::ModuleApi::register_cached_function) / [`invalidate_cache(name, key)`](crate::ModuleApi::invalidate_cache) |
//! | `api.account_data_manager.get_global(user, type)` | [`account_data_get_global`](crate::ModuleApi::account_data_get_global) / [`account_data_put_global`](crate::ModuleApi::account_data_put_global) |
//! | `api._hs.config…` (private) | [`host_config()`](crate::ModuleApi::host_config): `server_name`, `public_baseurl`; [`module_name`](crate::ModuleApi::module_name), [`module_version`](crate::ModuleApi::module_version) |
//! | `api._hs.get_clock().time_msec()` (private) | [`current_time_msec()`](crate::ModuleApi::current_time_msec) |
//! | `event.get("content")`, `event["type"]` | [`Event::content`](crate::Event::content), [`Event::event_type`](crate::Event::event_type) |
//!
//! ## A port, start to finish
//!
//! A Python module that refuses invites from users of a blocked server and keeps a count of
//! refusals in its own table:
//!
//! ```python
//! class BlockServers:
//!     def __init__(self, config, api):
//!         self.api, self.blocked = api, set(config["blocked"])
//!         api.register_spam_checker_callbacks(user_may_invite=self.user_may_invite)
//!
//!     async def user_may_invite(self, inviter, invitee, room_id):
//!         if inviter.split(":", 1)[1] in self.blocked:
//!             await self.api.run_db_interaction("count", self._count)
//!             return Codes.FORBIDDEN
//!         return NOT_SPAM
//! ```
//!
//! becomes
//!
//! ```
//! use plugin_sdk::{export_module, Module, ModuleApi, ModuleError, SpamCheck, SpamCheckerCallbacks};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! pub struct Config {
//!     blocked: Vec<String>,
//! }
//!
//! pub struct BlockServers;
//!
//! impl Module for BlockServers {
//!     type Config = Config;
//!
//!     fn new(config: Config, api: ModuleApi) -> Result<Self, ModuleError> {
//!         let store = api.store();
//!         api.register_spam_checker_callbacks(SpamCheckerCallbacks::new().user_may_invite(
//!             move |inviter: String, _invitee: String, _room_id: String| {
//!                 let blocked = config
//!                     .blocked
//!                     .iter()
//!                     .any(|s| inviter.rsplit_once(':').is_some_and(|(_, d)| d == s));
//!                 let store = store.clone();
//!                 async move {
//!                     if !blocked {
//!                         return Ok(SpamCheck::NotSpam);
//!                     }
//!                     let txn = store.transaction().await?;
//!                     let n: u64 = txn.get("refused").await?.unwrap_or(0);
//!                     txn.put("refused", &(n + 1)).await?;
//!                     txn.commit().await?;
//!                     Ok::<_, ModuleError>(SpamCheck::forbidden())
//!                 }
//!             },
//!         ))?;
//!         Ok(BlockServers)
//!     }
//! }
//!
//! export_module!(BlockServers);
//! # fn main() {}
//! ```

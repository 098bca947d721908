//! Test support for module authors: run a module against an in-memory host, call its
//! callbacks and web resources directly, and see what it asked the host for. Enable the
//! `testing` feature in `[dev-dependencies]`.
//!
//! ```
//! use plugin_sdk::testing::ModuleTest;
//! use plugin_sdk::{Module, ModuleApi, ModuleError, Request, Response, SpamCheck, SpamCheckerCallbacks};
//! use serde_json::json;
//!
//! struct NoEvil;
//!
//! impl Module for NoEvil {
//!     type Config = serde_json::Value;
//!     fn new(_config: serde_json::Value, api: ModuleApi) -> Result<Self, ModuleError> {
//!         api.register_spam_checker_callbacks(SpamCheckerCallbacks::new().user_may_create_room(
//!             |user_id: String, _room_config| async move {
//!                 if user_id.starts_with("@evil") { SpamCheck::forbidden() } else { SpamCheck::NotSpam }
//!             },
//!         ))?;
//!         api.register_web_resource("/_synapse/client/no_evil", |_req: Request| async {
//!             Response::json(200, &json!({"ok": true}))
//!         })?;
//!         Ok(NoEvil)
//!     }
//! }
//!
//! let t = ModuleTest::start::<NoEvil>(json!({})).expect("module starts");
//! assert_eq!(t.registered(), ["spam_checker.user_may_create_room"]);
//! assert_eq!(t.user_may_create_room("@evilguy:test", json!({})), SpamCheck::forbidden());
//! assert_eq!(t.user_may_create_room("@alice:test", json!({})), SpamCheck::NotSpam);
//! let response = t.get("/_synapse/client/no_evil/sub");
//! assert_eq!((response.status, response.body_json()), (200, json!({"ok": true})));
//! ```

use std::sync::{Arc, Mutex};

mod store;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, RBox, RDuration, RResult, RSlice, RStr, RString, RVec};
use async_ffi::{FfiFuture, FutureExt as _};
use serde_json::Value;

use crate::codec::{Decode, Encode};
use crate::ffi::{
    CallbackFn_TO, ErrorKind, FfiArg, FfiError, FfiRequest, FfiValue, HostApi, HostApi_TO,
    WebHandler_TO,
};
use crate::{ConfigError, Json, Module, ModuleApi, Request, Response, SpamCheck};

#[derive(Default)]
struct Recorded {
    callbacks: Vec<(String, String, CallbackFn_TO<RBox<()>>)>,
    web: Vec<(String, WebHandler_TO<RBox<()>>)>,
    host_calls: Vec<(String, Vec<FfiValue>)>,
    logs: Vec<(u8, String)>,
    tasks: Vec<FfiFuture<()>>,
}

/// The in-memory host: records everything; `sleep` completes at once (time does not pass in
/// tests); spawned tasks run when [`ModuleTest::run_tasks`] is called; the module's store is
/// a map (see [`ModuleTest::stored`]); other host services answer "unsupported" unless
/// stubbed with [`ModuleTest::stub`].
#[derive(Clone)]
struct FakeHost {
    server_name: String,
    recorded: Arc<Mutex<Recorded>>,
    stubs: Arc<Mutex<Vec<(String, FfiValue)>>>,
    store: Arc<Mutex<store::MemStore>>,
}

impl HostApi for FakeHost {
    fn server_name(&self) -> RString {
        self.server_name.as_str().into()
    }
    fn host_sdk_version(&self) -> RString {
        crate::ffi::SDK_VERSION.into()
    }
    fn log_enabled(&self, _level: u8) -> bool {
        true
    }
    fn log(&self, level: u8, _target: RStr<'_>, message: RStr<'_>) {
        self.recorded
            .lock()
            .unwrap()
            .logs
            .push((level, message.to_string()));
    }
    fn register_callback(
        &self,
        category: RStr<'_>,
        name: RStr<'_>,
        _meta: RStr<'_>,
        callback: CallbackFn_TO<RBox<()>>,
    ) -> RResult<(), FfiError> {
        self.recorded.lock().unwrap().callbacks.push((
            category.to_string(),
            name.to_string(),
            callback,
        ));
        RResult::ROk(())
    }
    fn register_web_resource(
        &self,
        path: RStr<'_>,
        handler: WebHandler_TO<RBox<()>>,
    ) -> RResult<(), FfiError> {
        self.recorded
            .lock()
            .unwrap()
            .web
            .push((path.to_string(), handler));
        RResult::ROk(())
    }
    fn sleep(&self, _duration: RDuration) -> FfiFuture<()> {
        async {}.into_ffi()
    }
    fn spawn(&self, _name: RStr<'_>, task: FfiFuture<()>) {
        self.recorded.lock().unwrap().tasks.push(task);
    }
    fn call(
        &self,
        method: RStr<'_>,
        args: RSlice<'_, FfiArg<'_>>,
    ) -> FfiFuture<RResult<FfiValue, FfiError>> {
        let owned: Vec<FfiValue> = args.iter().map(|a| a.to_owned_value()).collect();
        self.recorded
            .lock()
            .unwrap()
            .host_calls
            .push((method.to_string(), owned.clone()));
        let stub = self
            .stubs
            .lock()
            .unwrap()
            .iter()
            .find(|(m, _)| m == method.as_str())
            .map(|(_, v)| v.clone());
        let method = method.to_string();
        let stored = match stub {
            Some(_) => None,
            None => self.store.lock().unwrap().call(&method, &owned),
        };
        async move {
            match (stub, stored) {
                (Some(v), _) => RResult::ROk(v),
                (None, Some(answer)) => answer.into(),
                (None, None) => RResult::RErr(FfiError::new(
                    ErrorKind::UNSUPPORTED,
                    format!("{method} is not stubbed"),
                )),
            }
        }
        .into_ffi()
    }
}

/// A module running against the in-memory host. Its `tracing` output is captured while it
/// lives (on the thread that created it).
pub struct ModuleTest {
    host: FakeHost,
    _module: Box<dyn std::any::Any>,
    _logs: tracing::subscriber::DefaultGuard,
}

impl ModuleTest {
    /// Parse `config` with the module's `parse_config` and construct it, on server
    /// `test`.
    pub fn start<M: Module>(config: Value) -> Result<ModuleTest, String> {
        let parsed = M::parse_config(config).map_err(|e: ConfigError| e.to_string())?;
        let host = FakeHost {
            server_name: "test".into(),
            recorded: Arc::default(),
            stubs: Arc::default(),
            store: Arc::default(),
        };
        let host_to = HostApi_TO::from_ptr(RArc::new(host.clone()), TD_Opaque);
        let logs = tracing::subscriber::set_default(crate::runtime::bridge(&host_to));
        let api = ModuleApi::new(host_to, "module-under-test", "0.0.0");
        let module = M::new(parsed, api).map_err(|e| e.to_string())?;
        Ok(ModuleTest {
            host,
            _module: Box::new(module),
            _logs: logs,
        })
    }

    /// `category.name` of every registered callback, in order.
    pub fn registered(&self) -> Vec<String> {
        self.host
            .recorded
            .lock()
            .unwrap()
            .callbacks
            .iter()
            .map(|(c, n, _)| format!("{c}.{n}"))
            .collect()
    }

    /// Call every registered `name` callback (in order) with `args`; each module answer.
    pub fn call<T: Decode>(&self, name: &str, args: Vec<FfiValue>) -> Vec<Result<T, String>> {
        let pending: Vec<FfiFuture<RResult<FfiValue, FfiError>>> = {
            let recorded = self.host.recorded.lock().unwrap();
            let borrowed: Vec<FfiArg<'_>> = args.iter().map(FfiValue::as_arg).collect();
            recorded
                .callbacks
                .iter()
                .filter(|(_, n, _)| n == name)
                .map(|(_, _, cb)| cb.call(RSlice::from_slice(&borrowed)))
                .collect()
        };
        pending
            .into_iter()
            .map(|f| match futures_executor::block_on(f) {
                RResult::ROk(v) => T::decode_value(&v),
                RResult::RErr(e) => Err(e.message.to_string()),
            })
            .collect()
    }

    /// `user_may_create_room` as the host would combine it (first denial wins).
    pub fn user_may_create_room(&self, user_id: &str, room_config: Value) -> SpamCheck {
        let args = vec![user_id.encode(), Json::from(room_config).encode()];
        self.call::<SpamCheck>("user_may_create_room", args)
            .into_iter()
            .map(|r| r.expect("callback failed"))
            .find(|v| *v != SpamCheck::NotSpam)
            .unwrap_or(SpamCheck::NotSpam)
    }

    /// Send `request` to the web resource owning its path (the first registered at or above it).
    pub fn request(&self, request: Request) -> Response {
        let handler = {
            let recorded = self.host.recorded.lock().unwrap();
            let found = recorded
                .web
                .iter()
                .find(|(p, _)| request.path == *p || request.path.starts_with(&format!("{p}/")));
            match found {
                Some((_, h)) => h.handle(FfiRequest {
                    method: request.method.as_str().into(),
                    path: request.path.as_str().into(),
                    query: request.query.as_str().into(),
                    headers: RVec::new(),
                    body: request.body.clone().into(),
                }),
                None => return Response::error(404, "M_UNRECOGNIZED", "Unrecognized request"),
            }
        };
        match futures_executor::block_on(handler) {
            RResult::ROk(r) => Response {
                status: r.status,
                headers: Vec::new(),
                body: r.body.into_vec(),
            },
            RResult::RErr(e) => Response::error(500, "M_UNKNOWN", &e.message),
        }
    }

    /// `GET path` (with an optional `?query`).
    pub fn get(&self, path_and_query: &str) -> Response {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        self.request(Request {
            method: "GET".into(),
            path: path.into(),
            query: query.into(),
            ..Request::default()
        })
    }

    /// Make host service `method` answer `value`.
    pub fn stub(&self, method: &str, value: FfiValue) {
        self.host
            .stubs
            .lock()
            .unwrap()
            .push((method.to_string(), value));
    }

    /// The value the module stored under `key` in its [store](crate::Store) (the in-memory
    /// host keeps one, with transactions, so store logic can be unit-tested).
    pub fn stored(&self, key: &str) -> Option<Value> {
        self.host
            .store
            .lock()
            .unwrap()
            .data
            .get(key)
            .and_then(|v| serde_json::from_str(v).ok())
    }

    /// Every host service the module called, with its arguments.
    pub fn host_calls(&self) -> Vec<(String, Vec<FfiValue>)> {
        self.host.recorded.lock().unwrap().host_calls.clone()
    }

    /// Log records the module emitted (level 1 = error … 5 = trace).
    pub fn logs(&self) -> Vec<(u8, String)> {
        self.host.recorded.lock().unwrap().logs.clone()
    }

    /// Run every task the module spawned so far, to completion.
    pub fn run_tasks(&self) {
        let tasks = std::mem::take(&mut self.host.recorded.lock().unwrap().tasks);
        for t in tasks {
            futures_executor::block_on(t);
        }
    }
}

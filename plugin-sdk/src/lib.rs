//! Write modules for **modhost**, a Matrix homeserver whose policy lives in shared-library
//! modules, the way Synapse's lives in Python modules.
//!
//! A module is a type implementing [`Module`], exported with [`export_module!`] from a crate
//! built as a `cdylib`. modhost loads it when an operator lists it under `modules:` in
//! `homeserver.yaml`, hands it its `config:` subtree, and lets it register callbacks and web
//! resources through the [`ModuleApi`].
//!
//! # A complete module
//!
//! The Synapse documentation's example module, in Rust: it serves
//! `GET /_synapse/client/demo/hello?name=world` → `{"hello": "world"}` and stops one user
//! from creating rooms.
//!
//! ```
//! use plugin_sdk::{
//!     export_module, codes, ModuleApi, Module, ModuleError, Request, Response, SpamCheck,
//!     SpamCheckerCallbacks,
//! };
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! pub struct Config {
//!     /// Defaults to `@evilguy:<server_name>`.
//!     evil_user: Option<String>,
//! }
//!
//! pub struct DemoModule;
//!
//! impl Module for DemoModule {
//!     type Config = Config;
//!
//!     fn new(config: Config, api: ModuleApi) -> Result<Self, ModuleError> {
//!         let evil_user = config
//!             .evil_user
//!             .unwrap_or_else(|| api.get_qualified_user_id("evilguy"));
//!
//!         api.register_web_resource("/_synapse/client/demo/hello", |req: Request| async move {
//!             match req.query_param("name") {
//!                 Some(name) => Response::json(200, &json!({ "hello": name })),
//!                 None => Response::error(400, codes::MISSING_PARAM, "Missing parameter: name"),
//!             }
//!         })?;
//!
//!         api.register_spam_checker_callbacks(SpamCheckerCallbacks::new().user_may_create_room(
//!             move |user_id: String, _room_config| {
//!                 let denied = user_id == evil_user;
//!                 async move {
//!                     if denied { SpamCheck::forbidden() } else { SpamCheck::NotSpam }
//!                 }
//!             },
//!         ))?;
//!         Ok(DemoModule)
//!     }
//! }
//!
//! export_module!(DemoModule);
//! # fn main() {}
//! ```
//!
//! Build it as a `cdylib` (`[lib] crate-type = ["cdylib"]`), copy `lib<name>.so` into the
//! server's `plugins_dir`, and list it:
//!
//! ```yaml
//! modules:
//!   - module: demo            # plugins_dir/libdemo.so; a path also works
//!     config:
//!       evil_user: "@mallory:example.org"
//! ```
//!
//! # Rules of the road
//!
//! * **Order is priority.** Modules are constructed, and their callbacks consulted, in
//!   `modules:` order. Each callback's documentation says how results of several modules
//!   combine and what a module failure does (its *failure policy*).
//! * **Use the host's runtime.** A module carries its own copy of tokio with no runtime
//!   behind it: use [`ModuleApi::sleep`] and [`ModuleApi::spawn`]. Runtime-agnostic crates
//!   (`futures`, channels) work as usual.
//! * **Log with `tracing`.** The SDK forwards every `tracing` event to the server's log,
//!   tagged with the module's name ([`tracing`] is re-exported).
//! * **Panics are contained.** A panic in a callback, a web handler, `parse_config` or `new`
//!   becomes a module failure (a web handler's answers 500); the server keeps running.
//! * **Build with `panic = "unwind"`** (the default). `panic = "abort"` turns any module
//!   panic into a server crash.
//!
//! # What the host offers
//!
//! Besides callbacks and web resources, [`ModuleApi`] reaches the host's services: users,
//! sessions and profiles, rooms and events, account data and presence, a
//! [key/value store](Store) with transactions and schema versions, an
//! [HTTP client](HttpClient), background tasks, blocking work, and
//! [caches](cache::Cached) invalidated across instances. Each is a named host method, so a
//! module built against a newer SDK still loads on an older host and gets a clear error
//! only from the method that host lacks. Coming from Synapse? See [`porting`].
//!
//! Modules can be unit-tested without a server: see `testing` (feature `testing`). That
//! module is only compiled, and only documented, with the feature on: build these docs with
//! `cargo doc -p plugin-sdk --features testing` (or `--all-features`) to see it.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod api;
pub mod cache;
pub mod callbacks;
pub mod catalogue;
pub mod codec;
pub mod ffi;
pub mod host_methods;
mod json;
mod module;
pub mod porting;
mod runtime;
mod services;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod types;
mod web;

pub use api::ModuleApi;
pub use callbacks::{
    AccountDataCallbacks, AccountValidityCallbacks, AuthResult, BackgroundUpdateCallbacks,
    MediaRepositoryCallbacks, PasswordAuthProviderCallbacks, PresenceRouterCallbacks,
    RatelimitCallbacks, SpamCheckerCallbacks, ThirdPartyRulesCallbacks, UnsignedFieldsCallbacks,
    UpdateGuard,
};
pub use json::{Event, Json, StateMap};
pub use module::{render_path, ConfigError, MatrixError, Module, ModuleError};
pub use services::{
    CreatedRoom, HostConfig, HttpClient, HttpRequest, HttpResponse, RegisteredDevice, Requester,
    Store, StoreTxn, UserInfo,
};
pub use types::*;
pub use web::{Request, Response};

pub use serde_json;
pub use tracing;

/// Export `$module` (a type implementing [`Module`]) as this library's modhost module.
/// Use it once, at the crate root of a `cdylib`.
#[macro_export]
macro_rules! export_module {
    ($module:ty) => {
        impl $crate::__private::Exported for $module {
            const NAME: &'static str = env!("CARGO_PKG_NAME");
            const VERSION: &'static str = env!("CARGO_PKG_VERSION");
        }
        $crate::__export_root_static!($module);
    };
}

/// Items the macros expand to; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::ffi::export::{lib_header, Exported};
    pub use abi_stable::library::LibHeader;
}

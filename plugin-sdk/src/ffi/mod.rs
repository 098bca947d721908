//! The frozen ABI core shared by modhost and its modules.
//!
//! Everything that crosses the shared-library boundary is declared here, and only here.
//! Module authors never see these types: the rest of the SDK converts them to plain Rust.
//!
//! # Evolution rule (read before changing anything in this module)
//!
//! abi_stable checks, at load time, that the host's view of every type reachable from the
//! root module is *no larger* than the module's view. That includes types the host itself
//! implements ([`HostApi`]): a host that grows a `HostApi` method rejects every module built
//! before the growth. So within plugin-sdk 1.x the types in this module are **frozen**:
//!
//! * no field, variant or method is added, removed, renamed or retyped;
//! * growth happens *by name* instead: new callbacks are new entries in
//!   [`crate::catalogue`] registered through [`HostApi::register_callback`], and new host
//!   services are new method names behind [`HostApi::call`]. Both sides check names at run
//!   time, so an old module in a new host simply never uses the new names, and a new module in
//!   an old host is told "unknown callback" / "unsupported host method" and degrades;
//! * argument lists of a callback may only grow at the end; a receiver fills missing trailing
//!   arguments with `Null` and ignores extra ones (see [`crate::codec`]).
//!
//! A change that cannot follow these rules is plugin-sdk 2.0, which every module must be
//! rebuilt against; modhost then refuses 1.x modules with a one-line "rebuild" message.
//!
//! Bump the minor version whenever a name is added (1.1.0 added the `sdk.invalidate_cache`
//! callback and the module API services): modules report the version they were built with,
//! and the host logs it at start-up.
//!
//! The rule is proven by `tests/tests/abi_evolution.rs`, in both directions: a module built
//! against plugin-sdk 1.0.0, kept verbatim in `plugins/fixtures/frozen`, loads and works in
//! today's host; and a module built against a generated next-minor SDK (with a callback and
//! a host service today's host lacks) loads, keeps working where the host can serve it, and
//! is told, not crashed, where it cannot.

#![allow(unsafe_code)] // This module and `export` are the SDK's only unsafe room.
#![allow(non_local_definitions)] // abi_stable 0.11's derives trip this lint on current rustc.
#![allow(missing_docs)] // sabi_trait generates undocumented items.
#![allow(non_camel_case_types)] // abi_stable names generated types `X_Ref`, `X_TO`.

mod drop_guard;
pub mod export;

pub use drop_guard::{CallFuture, DropGuarded};

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RBox, RDuration, RResult, RSlice, RStr, RString, RVec, Tuple2},
    StableAbi,
};
use async_ffi::FfiFuture;

pub use abi_stable::std_types::{RArc, ROption};
pub use async_ffi::FutureExt as FfiFutureExt;

/// A value crossing the boundary as a callback argument, callback result or host-call value.
///
/// Strings and scalars travel unencoded; anything structured travels as JSON text, which the
/// receiver parses lazily. Frozen: never add a variant (use `Json`).
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub enum FfiValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(RString),
    /// JSON text (an object, array or any value).
    Json(RString),
    Bytes(RVec<u8>),
}

/// A borrowed callback argument: valid only for the duration of the `call` that receives
/// it, so the host never allocates to pass arguments. The receiver decodes (copies) what it
/// keeps before returning its future. Frozen: never add a variant (use `Json`).
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq)]
pub enum FfiArg<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(RStr<'a>),
    /// JSON text.
    Json(RStr<'a>),
    Bytes(RSlice<'a, u8>),
}

impl FfiValue {
    /// Borrow this value as an argument.
    pub fn as_arg(&self) -> FfiArg<'_> {
        match self {
            FfiValue::Null => FfiArg::Null,
            FfiValue::Bool(b) => FfiArg::Bool(*b),
            FfiValue::Int(i) => FfiArg::Int(*i),
            FfiValue::Float(f) => FfiArg::Float(*f),
            FfiValue::Str(s) => FfiArg::Str(s.as_rstr()),
            FfiValue::Json(s) => FfiArg::Json(s.as_rstr()),
            FfiValue::Bytes(b) => FfiArg::Bytes(b.as_rslice()),
        }
    }
}

impl FfiArg<'_> {
    /// An owned copy.
    pub fn to_owned_value(&self) -> FfiValue {
        match *self {
            FfiArg::Null => FfiValue::Null,
            FfiArg::Bool(b) => FfiValue::Bool(b),
            FfiArg::Int(i) => FfiValue::Int(i),
            FfiArg::Float(f) => FfiValue::Float(f),
            FfiArg::Str(s) => FfiValue::Str(s.as_str().into()),
            FfiArg::Json(s) => FfiValue::Json(s.as_str().into()),
            FfiArg::Bytes(b) => FfiValue::Bytes(b.as_slice().to_vec().into()),
        }
    }
}

/// What kind of failure an [`FfiError`] reports. An integer rather than an enum so that a
/// newer peer's unknown kinds still decode (they are treated as [`ErrorKind::MODULE`]).
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorKind(pub u32);

impl ErrorKind {
    /// The module returned an error of its own.
    pub const MODULE: ErrorKind = ErrorKind(1);
    /// The module panicked; `message` holds the panic text and location.
    pub const PANICKED: ErrorKind = ErrorKind(2);
    /// The peer does not know the callback or host method named in `message`.
    pub const UNSUPPORTED: ErrorKind = ErrorKind(3);
    /// Arguments or a result could not be decoded.
    pub const BAD_VALUE: ErrorKind = ErrorKind(4);
    /// Invalid module configuration; `details` is `{"path": [..]}` inside the module's config.
    pub const CONFIG: ErrorKind = ErrorKind(5);
    /// A Matrix error to return to the client as is; `details` is
    /// `{"status": u16, "errcode": str, "fields": {..}}`.
    pub const MATRIX: ErrorKind = ErrorKind(6);
    /// The host refused a request (e.g. registration after start-up).
    pub const REFUSED: ErrorKind = ErrorKind(7);
}

/// An error crossing the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiError {
    pub kind: ErrorKind,
    pub message: RString,
    /// JSON object with kind-specific details, or empty.
    pub details: RString,
}

impl FfiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        FfiError {
            kind,
            message: RString::from(message.into()),
            details: RString::new(),
        }
    }
}

/// Static facts about a module library, readable before its configuration is parsed.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct ModuleInfo {
    /// The module's crate name.
    pub name: RString,
    /// The module's crate version.
    pub version: RString,
    /// The plugin-sdk version the module was built against.
    pub sdk_version: RString,
}

/// An HTTP request for a module web resource. The body is already size-limited by the host.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiRequest {
    pub method: RString,
    /// Full path, e.g. `/_synapse/client/demo/hello`.
    pub path: RString,
    /// Raw query string without `?`, possibly empty.
    pub query: RString,
    pub headers: RVec<Tuple2<RString, RVec<u8>>>,
    pub body: RVec<u8>,
}

/// A module's HTTP response.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiResponse {
    pub status: u16,
    pub headers: RVec<Tuple2<RString, RVec<u8>>>,
    pub body: RVec<u8>,
}

/// One registered callback. Arguments are positional, in the order the catalogue documents,
/// and borrowed: the callee decodes them before returning its future.
#[sabi_trait]
pub trait CallbackFn: Send + Sync + 'static {
    #[sabi(last_prefix_field)]
    fn call(&self, args: RSlice<'_, FfiArg<'_>>) -> FfiFuture<RResult<FfiValue, FfiError>>;
}

/// A module web resource.
#[sabi_trait]
pub trait WebHandler: Send + Sync + 'static {
    #[sabi(last_prefix_field)]
    fn handle(&self, request: FfiRequest) -> FfiFuture<RResult<FfiResponse, FfiError>>;
}

/// What the host offers one module. Each module gets its own instance, so the host knows
/// which module is calling without being told.
#[sabi_trait]
pub trait HostApi: Send + Sync + Clone + 'static {
    /// The homeserver's `server_name`.
    fn server_name(&self) -> RString;
    /// The plugin-sdk version the host was built against.
    fn host_sdk_version(&self) -> RString;
    /// Whether a record at `level` (1 = error … 5 = trace) would be emitted.
    fn log_enabled(&self, level: u8) -> bool;
    /// Emit a log record under this module's name.
    fn log(&self, level: u8, target: RStr<'_>, message: RStr<'_>);
    /// Add `callback` to the chain for `category`/`name`. `meta` is JSON (e.g. the login type
    /// and fields of an auth checker) or empty.
    fn register_callback(
        &self,
        category: RStr<'_>,
        name: RStr<'_>,
        meta: RStr<'_>,
        callback: CallbackFn_TO<RBox<()>>,
    ) -> RResult<(), FfiError>;
    /// Serve `handler` at the absolute `path` and below it.
    fn register_web_resource(
        &self,
        path: RStr<'_>,
        handler: WebHandler_TO<RBox<()>>,
    ) -> RResult<(), FfiError>;
    /// A future that completes after `duration`, driven by the host's runtime.
    fn sleep(&self, duration: RDuration) -> FfiFuture<()>;
    /// Run `task` on the host's runtime; `name` appears in logs.
    fn spawn(&self, name: RStr<'_>, task: FfiFuture<()>);
    /// Call a host service by name (the module API). Unknown names fail with
    /// [`ErrorKind::UNSUPPORTED`]. This is the growth point for host services.
    #[sabi(last_prefix_field)]
    fn call(
        &self,
        method: RStr<'_>,
        args: RSlice<'_, FfiArg<'_>>,
    ) -> FfiFuture<RResult<FfiValue, FfiError>>;
}

/// The root module every modhost module library exports (through
/// [`export_module!`](crate::export_module)).
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = ModuleRoot_Ref)))]
#[sabi(missing_field(panic))]
pub struct ModuleRoot {
    pub info: extern "C" fn() -> ModuleInfo,
    /// Validate the module's configuration (JSON text). Returns a handle for `init`.
    pub parse_config: extern "C" fn(config_json: RStr<'_>) -> RResult<u64, FfiError>,
    /// Construct the module from a parsed configuration; it registers callbacks and web
    /// resources through `host` before returning.
    #[sabi(last_prefix_field)]
    pub init: extern "C" fn(config: u64, host: HostApi_TO<RArc<()>>) -> RResult<(), FfiError>,
}

impl RootModule for ModuleRoot_Ref {
    declare_root_module_statics! {ModuleRoot_Ref}
    const BASE_NAME: &'static str = "modhost_module";
    const NAME: &'static str = "modhost module";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// The plugin-sdk version this crate is.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Turns an `RString` into a `String` (reusing the buffer when it was allocated here).
pub fn into_string(s: RString) -> String {
    s.into_string()
}

/// The name of the symbol holding a module's root header, as the host must look it up.
pub use abi_stable::library::ROOT_MODULE_LOADER_NAME_WITH_NUL;

/// Re-exports the host needs to load and drive modules; not for module authors.
#[doc(hidden)]
pub mod host_side {
    pub use abi_stable::library::{AbiHeaderRef, LibHeader, LibraryError, RootModuleError};
    pub use abi_stable::sabi_trait::TD_Opaque;
    pub use abi_stable::std_types::{
        RBox, RDuration, RResult, RSlice, RStr, RString, RVec, Tuple2,
    };
}

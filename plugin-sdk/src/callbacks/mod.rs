//! Callback registration, one builder per Synapse category.
//!
//! Each builder method takes an `async` closure with plain Rust arguments. The closure may
//! return the callback's result type directly or a `Result<_, E>` with `E: Into<ModuleError>`;
//! an `Err` (or a panic) is a module failure, handled by the host with that callback's
//! failure policy (documented on each method).

mod account_data;
mod account_validity;
mod background_update;
pub(crate) mod deferred;
pub(crate) mod invalidation;
mod media_repository;
mod password_auth;
mod presence_router;
mod ratelimit;
mod spam_checker;
mod third_party_rules;
mod unsigned;

use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RBox, RResult, RSlice};
use async_ffi::{FfiFuture, FutureExt as _};
use futures_util::FutureExt as _;

pub use account_data::AccountDataCallbacks;
pub use account_validity::AccountValidityCallbacks;
pub use background_update::{BackgroundUpdateCallbacks, UpdateGuard};
pub use media_repository::MediaRepositoryCallbacks;
pub use password_auth::{AuthResult, PasswordAuthProviderCallbacks};
pub use presence_router::PresenceRouterCallbacks;
pub use ratelimit::RatelimitCallbacks;
pub use spam_checker::SpamCheckerCallbacks;
pub use third_party_rules::ThirdPartyRulesCallbacks;
pub use unsigned::UnsignedFieldsCallbacks;

use crate::codec::{DecodeArgs, Encode};
use crate::ffi::{CallFuture, CallbackFn, CallbackFn_TO, ErrorKind, FfiArg, FfiError, FfiValue};
use crate::json::Json;
use crate::runtime;
use crate::ModuleError;

/// What a callback closure may return for result type `T`: `T` itself or
/// `Result<T, E>` where `E: Into<ModuleError>`.
pub trait IntoOutcome<T> {
    /// Normalise to a `Result`.
    fn into_outcome(self) -> Result<T, ModuleError>;
}

macro_rules! outcome_for {
    ($($ty:ty),* $(,)?) => {$(
        impl IntoOutcome<$ty> for $ty {
            fn into_outcome(self) -> Result<$ty, ModuleError> { Ok(self) }
        }
        impl<E: Into<ModuleError>> IntoOutcome<$ty> for Result<$ty, E> {
            fn into_outcome(self) -> Result<$ty, ModuleError> { self.map_err(Into::into) }
        }
    )*};
}

use crate::types::*;
outcome_for!(
    (),
    bool,
    i64,
    u64,
    String,
    Option<bool>,
    Option<String>,
    Option<serde_json::Value>,
    Option<Vec<MediaUploadLimit>>,
    Option<RatelimitOverride>,
    Option<AuthResult>,
    serde_json::Value,
    SpamCheck,
    RegistrationBehaviour,
    EventAllowed,
    InterestedUsers,
    UpdateGuard,
    std::collections::BTreeMap<String, Vec<serde_json::Value>>,
    serde_json::Map<String, serde_json::Value>,
);

impl Encode for serde_json::Map<String, serde_json::Value> {
    fn encode(self) -> FfiValue {
        crate::codec::to_json(&self)
    }
}

/// The SDK's own hidden callbacks (category `sdk`): the SDK registers them for a module, module
/// code never does. Declared here like the public builders, so the catalogue lists their
/// arguments too.
#[derive(Default)]
pub(crate) struct SdkCallbacks {
    pub(crate) entries: Vec<Entry>,
}

impl SdkCallbacks {
    /// The category name used on the wire.
    pub(crate) const CATEGORY: &'static str = "sdk";

    callback_methods! {
        /// Runs (or drops) a follow-up the module returned inside a result: an auth checker's
        /// `on_login`, a background update's exit step.
        fn run_deferred(
            token: u64 => "the follow-up's token, as the module returned it",
            payload: Option<Json> => "what the follow-up receives: the login response for \
                `on_login`, `null` for an exit step; absent when the follow-up is discarded",
            discard: Option<bool> => "`Some(true)` when the host drops the follow-up without \
                running it (e.g. a login refused after authentication)",
        ) -> ();
        /// Drops a key from a cached function registered for invalidation (an invalidation
        /// from another instance). Unknown names are ignored.
        fn invalidate_cache(
            function: String => "the name the function was registered under",
            key: String => "the key to drop",
        ) -> ();
    }

    /// The one callback registered on this builder.
    pub(crate) fn into_entry(self) -> Entry {
        let mut entries = self.entries;
        assert_eq!(entries.len(), 1, "one SDK callback per builder");
        entries.remove(0)
    }
}

/// A callback ready to hand to the host.
pub(crate) struct Entry {
    pub(crate) name: &'static str,
    pub(crate) meta: String,
    pub(crate) callback: CallbackFn_TO<RBox<()>>,
}

/// Wrap an async closure over decoded arguments into the ABI's callback object.
pub(crate) fn entry<A, F, Fut, R, T>(name: &'static str, meta: String, f: F) -> Entry
where
    A: DecodeArgs + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoOutcome<T> + 'static,
    T: Encode + 'static,
{
    // Callbacks live as long as the process (module libraries are never unloaded), so the
    // closure is leaked once instead of reference-counted on every call.
    let adapter = Adapter::<A, F, T> {
        f: Box::leak(Box::new(f)),
        _types: PhantomData,
    };
    Entry {
        name,
        meta,
        callback: CallbackFn_TO::from_value(adapter, TD_Opaque),
    }
}

struct Adapter<A, F: 'static, T> {
    f: &'static F,
    _types: PhantomData<fn(A) -> T>,
}

impl<A, F, Fut, R, T> CallbackFn for Adapter<A, F, T>
where
    A: DecodeArgs + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoOutcome<T> + 'static,
    T: Encode + 'static,
{
    fn call(&self, args: RSlice<'_, FfiArg<'_>>) -> FfiFuture<RResult<FfiValue, FfiError>> {
        // The arguments are borrowed for this call only, so they are decoded now, and the
        // closure is called now to build its future. Both run under catch_unwind: a panic
        // unwinding out of this `extern "C"` method would end the host process.
        let f = self.f;
        let started = catch_unwind(AssertUnwindSafe(|| A::decode_args(args.as_slice()).map(f)));
        match started {
            Ok(Ok(fut)) => CallFuture::new(fut, finish::<R, T>).into_ffi(),
            Ok(Err(e)) => {
                async move { RResult::RErr(FfiError::new(ErrorKind::BAD_VALUE, e)) }.into_ffi()
            }
            Err(payload) => {
                let err = FfiError::new(
                    ErrorKind::PANICKED,
                    format!("panicked: {}", runtime::panic_text(payload.as_ref())),
                );
                async move { RResult::RErr(err) }.into_ffi()
            }
        }
    }
}

fn finish<R, T>(outcome: std::thread::Result<R>) -> RResult<FfiValue, FfiError>
where
    R: IntoOutcome<T>,
    T: Encode,
{
    match outcome {
        Ok(r) => match r.into_outcome() {
            Ok(value) => RResult::ROk(value.encode()),
            Err(err) => RResult::RErr(err.into_ffi()),
        },
        Err(payload) => RResult::RErr(FfiError::new(
            ErrorKind::PANICKED,
            format!("panicked: {}", runtime::panic_text(payload.as_ref())),
        )),
    }
}

/// Run `fut`, turning a panic into a `PANICKED` error that carries the panic text.
pub(crate) async fn guard<T>(
    fut: impl Future<Output = Result<T, FfiError>>,
) -> Result<T, FfiError> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => Err(FfiError::new(
            ErrorKind::PANICKED,
            format!("panicked: {}", runtime::panic_text(payload.as_ref())),
        )),
    }
}

/// Generates one builder method per callback, and the builder's `SIGNATURES`.
///
/// Each argument carries its meaning (`name: Type => "meaning, with an example"`), which
/// becomes the method's "Arguments" list in the rendered docs, so names and order are written
/// once, here, for the builder, for the docs and for the [catalogue](crate::catalogue) (whose
/// argument lists and wire types are taken from `SIGNATURES` at compile time).
///
/// A method whose registration takes parameters of its own (an auth checker's login type and
/// fields) names them after the result type, with the registration metadata built from them:
/// `-> Ret where (param: Type, …) => metadata_json_string;`.
macro_rules! callback_methods {
    (@meta) => { String::new() };
    (@meta $meta:expr) => { $meta };
    ($(
        $(#[$doc:meta])*
        fn $name:ident($($arg:ident : $ty:ty => $meaning:literal),* $(,)?) -> $ret:ty
            $(where ($($param:ident : $param_ty:ty),* $(,)?) => $meta:expr)?;
    )*) => {
        /// Every callback this builder registers, as the catalogue lists it.
        pub(crate) const SIGNATURES: &'static [$crate::catalogue::Signature] = &[$(
            $crate::catalogue::Signature {
                name: stringify!($name),
                args: &[$(
                    (stringify!($arg), <$ty as $crate::catalogue::WireType>::WIRE),
                )*],
                result: <$ret as $crate::catalogue::WireType>::WIRE,
            },
        )*];

        $(
        $(#[$doc])*
        ///
        /// # Arguments
        ///
        /// The callback receives, in this order:
        ///
        $(
            #[doc = concat!("* `", stringify!($arg), ": ", stringify!($ty), "` — ", $meaning)]
        )*
        ///
        #[doc = concat!("Returns `", stringify!($ret), "`.")]
        pub fn $name<F, Fut, R>(mut self, $($($param: $param_ty,)*)? callback: F) -> Self
        where
            F: Fn($($ty),*) -> Fut + Send + Sync + 'static,
            Fut: std::future::Future<Output = R> + Send + 'static,
            R: $crate::callbacks::IntoOutcome<$ret> + 'static,
        {
            self.entries.push($crate::callbacks::entry::<($($ty,)*), _, _, R, $ret>(
                stringify!($name),
                $crate::callbacks::callback_methods!(@meta $($meta)?),
                move |($($arg,)*)| callback($($arg),*),
            ));
            self
        }
        )*
    };
}
pub(crate) use callback_methods;

/// Generates a category's builder struct.
macro_rules! category {
    ($(#[$doc:meta])* $ty:ident, $category:literal) => {
        $(#[$doc])*
        #[derive(Default)]
        #[must_use = "pass the callbacks to the matching ModuleApi::register_*_callbacks"]
        pub struct $ty {
            pub(crate) entries: Vec<$crate::callbacks::Entry>,
        }

        impl $ty {
            /// The category name used on the wire.
            pub const CATEGORY: &'static str = $category;

            /// No callbacks yet.
            pub fn new() -> Self {
                Self::default()
            }
        }

    };
}
pub(crate) use category;

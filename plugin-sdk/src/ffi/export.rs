//! The entry points [`export_module!`](crate::export_module) places in a module library.
//!
//! Every entry point catches panics itself: a panic unwinding out of an `extern "C"` function
//! aborts the whole homeserver, and the host cannot catch a panic raised by the module's own
//! copy of `std`. A panic therefore becomes an [`FfiError`] of kind `PANICKED`.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use abi_stable::library::{
    __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult,
};
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::std_types::{RArc, RResult, RStr, RString};

use super::{ErrorKind, FfiError, HostApi_TO, ModuleInfo, ModuleRoot, ModuleRoot_Ref};
use crate::module::{ConfigError, Module};
use crate::{runtime, ModuleApi};

/// Identity of an exported module type; implemented by [`export_module!`](crate::export_module).
pub trait Exported: Module {
    /// The module crate's name (`CARGO_PKG_NAME`).
    const NAME: &'static str;
    /// The module crate's version (`CARGO_PKG_VERSION`).
    const VERSION: &'static str;
}

/// The header the module library exports under abi_stable's well-known symbol.
pub const fn lib_header<M: Exported>() -> LibHeader {
    // SAFETY: `root_loader::<M>` returns a `RootModuleResult` built from a `ModuleRoot_Ref`,
    // which is exactly the root module type named as the type parameter here.
    unsafe { LibHeader::from_constructor::<ModuleRoot_Ref>(root_loader::<M>, CheckTypeLayout::Yes) }
}

extern "C" fn root_loader<M: Exported>() -> RootModuleResult {
    // abi_stable runs this inside its own catch_unwind.
    __call_root_module_loader(build_root::<M>)
}

fn build_root<M: Exported>() -> ModuleRoot_Ref {
    ModuleRoot {
        info: info::<M>,
        parse_config: parse_config::<M>,
        init: init::<M>,
    }
    .leak_into_prefix()
}

extern "C" fn info<M: Exported>() -> ModuleInfo {
    ModuleInfo {
        name: RString::from(M::NAME),
        version: RString::from(M::VERSION),
        sdk_version: RString::from(super::SDK_VERSION),
    }
}

/// Parsed configurations waiting for `init`, keyed by the handle `parse_config` returned.
/// Keeping the typed value on this side of the boundary means a module's `Config` never has
/// to cross it (and needs no `Serialize`).
static PARSED: Mutex<Vec<(u64, Box<dyn Any + Send>)>> = Mutex::new(Vec::new());
/// Constructed modules live as long as the process: their libraries are never unloaded.
static INSTANCES: Mutex<Vec<Box<dyn Any + Send + Sync>>> = Mutex::new(Vec::new());

extern "C" fn parse_config<M: Exported>(config_json: RStr<'_>) -> RResult<u64, FfiError> {
    runtime::install_panic_hook();
    let json = config_json.as_str();
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<u64, FfiError> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| ConfigError::new(format!("not valid JSON: {e}")).into_ffi())?;
        let config = M::parse_config(value).map_err(ConfigError::into_ffi)?;
        let mut parsed = PARSED.lock().unwrap_or_else(|p| p.into_inner());
        let handle = parsed.iter().map(|(h, _)| *h).max().unwrap_or(0) + 1;
        parsed.push((handle, Box::new(config)));
        Ok(handle)
    }));
    flatten(outcome, "parse_config").into()
}

extern "C" fn init<M: Exported>(config: u64, host: HostApi_TO<RArc<()>>) -> RResult<(), FfiError> {
    runtime::install_panic_hook();
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<(), FfiError> {
        runtime::install_log_bridge(&host);
        let parsed = {
            let mut parsed = PARSED.lock().unwrap_or_else(|p| p.into_inner());
            let at = parsed.iter().position(|(h, _)| *h == config);
            at.map(|i| parsed.swap_remove(i).1)
        };
        let config = parsed
            .and_then(|boxed| boxed.downcast::<M::Config>().ok())
            .ok_or_else(|| FfiError::new(ErrorKind::BAD_VALUE, "unknown configuration handle"))?;
        let api = ModuleApi::new(host, M::NAME, M::VERSION);
        let module = M::new(*config, api).map_err(|e| e.into_ffi())?;
        INSTANCES
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Box::new(module));
        Ok(())
    }));
    flatten(outcome, "new").into()
}

fn flatten<T>(
    outcome: std::thread::Result<Result<T, FfiError>>,
    entry: &str,
) -> Result<T, FfiError> {
    match outcome {
        Ok(result) => result,
        Err(payload) => Err(FfiError::new(
            ErrorKind::PANICKED,
            format!(
                "panicked in {entry}: {}",
                runtime::panic_text(payload.as_ref())
            ),
        )),
    }
}

/// Expands to the exported root-module static; used by [`export_module!`](crate::export_module).
#[doc(hidden)]
#[macro_export]
macro_rules! __export_root_static {
    ($module:ty) => {
        // The symbol name is abi_stable's fixed root-module name (checked by a unit test);
        // `no_mangle` is what makes the library loadable at all.
        #[allow(unsafe_code, non_upper_case_globals)]
        #[no_mangle]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::__private::LibHeader =
            $crate::__private::lib_header::<$module>();
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn exported_symbol_matches_abi_stable_root_name() {
        assert_eq!(
            abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader"
        );
    }
}

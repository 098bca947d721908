//! Opening module libraries: the host's only `unsafe` room.
//!
//! Each library is opened with `dlopen(RTLD_NOW | RTLD_LOCAL)` (unresolved symbols fail now,
//! not on first call), its abi_stable header is checked, and its root module is initialised
//! with `LibHeader::init_root_module` — never `RootModule::load_from_file`, which caches one
//! module per type and would hand back the first library for every later path. Libraries are
//! never unloaded: Rust libraries cannot be `dlclose`d soundly (thread-local destructors), and
//! every callback object points into the library's code.

#![allow(unsafe_code)]

mod messages;

use std::path::{Path, PathBuf};

use abi_stable::library::{AbiHeaderRef, LibraryError};
use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
use plugin_sdk::ffi::{ModuleInfo, ModuleRoot_Ref, ROOT_MODULE_LOADER_NAME_WITH_NUL, SDK_VERSION};

pub use messages::LoadFailure;

/// A module library, opened and checked.
pub struct LoadedLibrary {
    /// Canonical path of the file.
    pub path: PathBuf,
    /// The checked root module.
    pub root: ModuleRoot_Ref,
    /// What the library says about itself.
    pub info: ModuleInfo,
}

/// Open `path` as a modhost module.
pub fn load(path: &Path) -> Result<LoadedLibrary, LoadFailure> {
    // SAFETY: opening a library runs its initialisers. Module libraries are trusted code the
    // operator chose to load (as with any native plugin system); what we can check — the
    // abi_stable header, the interface version and every type layout — is checked below
    // before any module code other than initialisers runs.
    let library = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
        .map_err(|e| LoadFailure::Open(e.to_string()))?;

    // SAFETY: abi_stable exports the root header as a static named
    // ROOT_MODULE_LOADER_NAME; reading the symbol as `AbiHeaderRef` (a transparent pointer)
    // yields the static's address, which `upgrade` validates before anything else is read.
    let header: AbiHeaderRef =
        match unsafe { library.get::<AbiHeaderRef>(ROOT_MODULE_LOADER_NAME_WITH_NUL.as_bytes()) } {
            Ok(symbol) => *symbol,
            Err(_) => return Err(LoadFailure::NotAModule),
        };

    let lib_header = header
        .upgrade()
        .map_err(|e| LoadFailure::from_library_error(e, None))?;
    let module_sdk = lib_header.version_strings().version.to_string();
    let root = lib_header
        .init_root_module::<ModuleRoot_Ref>()
        .map_err(|e: LibraryError| LoadFailure::from_library_error(e, Some(module_sdk.clone())))?;

    // The library stays mapped for the life of the process (see the module docs).
    std::mem::forget(library);

    let info = (root.info())();
    Ok(LoadedLibrary {
        path: path.to_path_buf(),
        root,
        info,
    })
}

/// The plugin-sdk version this host was built against.
pub fn host_sdk_version() -> &'static str {
    SDK_VERSION
}

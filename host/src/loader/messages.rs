//! One friendly sentence per way a library can fail to load. abi_stable's own layout report
//! runs to hundreds of lines; it is logged at debug level only.

use std::fmt;

use abi_stable::library::LibraryError;
use plugin_sdk::ffi::SDK_VERSION;

/// Why a library could not be loaded as a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadFailure {
    /// `dlopen` failed (missing file, wrong architecture, unresolved symbol…).
    Open(String),
    /// The library exports no modhost root module.
    NotAModule,
    /// Built against an incompatible plugin-sdk major version.
    SdkVersion {
        /// The module's plugin-sdk version.
        module_sdk: String,
    },
    /// Same version numbers, different type layouts.
    Layout {
        /// The module's plugin-sdk version, when readable.
        module_sdk: Option<String>,
        /// The closing lines of abi_stable's report.
        summary: String,
    },
    /// Built with an incompatible abi_stable.
    AbiStable(String),
    /// The module's root constructor failed or panicked.
    Root(String),
}

impl LoadFailure {
    pub(super) fn from_library_error(err: LibraryError, module_sdk: Option<String>) -> Self {
        tracing::debug!(error = %err, "module library rejected by abi_stable");
        match err {
            LibraryError::IncompatibleVersionNumber { actual_version, .. } => {
                LoadFailure::SdkVersion {
                    module_sdk: actual_version.to_string(),
                }
            }
            LibraryError::AbiInstability(report) => LoadFailure::Layout {
                module_sdk,
                summary: summarise(&report.to_string()),
            },
            LibraryError::InvalidAbiHeader(header) => LoadFailure::AbiStable(format!(
                "abi_stable ABI {}.{} (this host uses {}.{})",
                header.abi_major,
                header.abi_minor,
                abi_stable::library::AbiHeader::VALUE.abi_major,
                abi_stable::library::AbiHeader::VALUE.abi_minor
            )),
            LibraryError::RootModule { err, .. } => LoadFailure::Root(err.to_string()),
            other => LoadFailure::AbiStable(other.to_string()),
        }
    }
}

/// Keep the `Error:` lines of abi_stable's layout report, on one line.
fn summarise(report: &str) -> String {
    let mut parts = Vec::new();
    let mut lines = report.lines().map(str::trim).peekable();
    while let Some(line) = lines.next() {
        if let Some(what) = line.strip_prefix("Error:") {
            let mut detail = what.trim().to_string();
            let mut expected = None;
            let mut found = None;
            while let Some(next) = lines.peek() {
                if next.starts_with("Error:") {
                    break;
                }
                let next = lines.next().unwrap_or_default();
                match next {
                    "Expected:" => expected = lines.next().map(str::trim),
                    "Found:" => found = lines.next().map(str::trim),
                    _ => {}
                }
            }
            // Short expected/found values help ("5" vs "6" fields); long ones are type dumps.
            if let (Some(e), Some(f)) = (expected, found) {
                if e.len() <= 40 && f.len() <= 40 {
                    detail = format!("{detail} (expected {e}, found {f})");
                }
            }
            if !parts.contains(&detail) {
                parts.push(detail);
            }
        }
    }
    if parts.is_empty() {
        "type layouts differ".into()
    } else {
        parts.truncate(3);
        parts.join("; ")
    }
}

impl fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let major = SDK_VERSION.split('.').next().unwrap_or("1");
        match self {
            LoadFailure::Open(e) => write!(f, "cannot open the library: {e}"),
            LoadFailure::NotAModule => f.write_str(
                "not a modhost module: the library exports no modhost root module \
                 (a module crate must call plugin_sdk::export_module!)",
            ),
            LoadFailure::SdkVersion { module_sdk } => write!(
                f,
                "built against plugin-sdk {module_sdk}, but this host uses plugin-sdk {SDK_VERSION}: \
                 rebuild the module against plugin-sdk {major}.x"
            ),
            LoadFailure::Layout { module_sdk: Some(v), summary } if v == SDK_VERSION => write!(
                f,
                "built against a different build of plugin-sdk {v} whose ABI does not match this \
                 host's ({summary}); the module is probably stale: rebuild it against this host's plugin-sdk"
            ),
            LoadFailure::Layout { module_sdk, summary } => write!(
                f,
                "built against plugin-sdk {} with an ABI that does not match this host's \
                 plugin-sdk {SDK_VERSION} ({summary}): rebuild the module against plugin-sdk {major}.x",
                module_sdk.as_deref().unwrap_or("(unknown)")
            ),
            LoadFailure::AbiStable(e) => write!(
                f,
                "built with an incompatible abi_stable ({e}): rebuild the module against plugin-sdk {major}.x"
            ),
            LoadFailure::Root(e) => write!(f, "the module's root constructor failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_report_is_summarised_to_its_error_lines() {
        let report = "path: A -> B\nlots of layout\nError:too many fields\nExpected:\n    5\nFound:\n    6\n\
                      more layout\nError:incompatible type size\nExpected:\n 160\nFound:\n 192\n";
        assert_eq!(
            summarise(report),
            "too many fields (expected 5, found 6); incompatible type size (expected 160, found 192)"
        );
    }
}

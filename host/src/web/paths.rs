//! Which paths a module may claim.

/// Prefixes that belong to the server itself: the Matrix APIs, Synapse-style admin APIs and
/// modhost's own endpoints.
pub const RESERVED_PREFIXES: &[&str] = &["/_matrix", "/_synapse/admin", "/_modhost"];

/// The prefix module authors should use.
pub const RECOMMENDED_PREFIX: &str = "/_synapse/client/";

/// Check a module web-resource path; the error is the operator-facing reason.
pub fn validate(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("web resource path {path:?} must be absolute (start with /), e.g. {RECOMMENDED_PREFIX}my_module"));
    }
    if path == "/" || path.ends_with('/') {
        return Err(format!(
            "web resource path {path:?} must name a resource and not end with /"
        ));
    }
    if path
        .split('/')
        .skip(1)
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(format!(
            "web resource path {path:?} has an empty, '.' or '..' segment"
        ));
    }
    // The router reads a segment starting with ':' as a parameter.
    if path.split('/').any(|seg| seg.starts_with(':')) {
        return Err(format!(
            "web resource path {path:?} has a segment starting with ':', which is not allowed"
        ));
    }
    if path.chars().any(|c| {
        matches!(c, '{' | '}' | '*' | '?' | '#' | '%') || c.is_whitespace() || c.is_control()
    }) {
        return Err(format!(
            "web resource path {path:?} contains a character that is not allowed in a path"
        ));
    }
    for prefix in RESERVED_PREFIXES {
        if path == *prefix || path.starts_with(&format!("{prefix}/")) {
            return Err(format!(
                "web resource path {path} is under {prefix}/, which the server reserves; \
                 use {RECOMMENDED_PREFIX}<module>/… instead"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn recommended_paths_are_accepted() {
        assert!(validate("/_synapse/client/demo/hello").is_ok());
        assert!(validate("/_famedly/invite_checker").is_ok());
    }

    #[test]
    fn matrix_and_admin_namespaces_are_refused() {
        for p in [
            "/_matrix",
            "/_matrix/client/v3/foo",
            "/_synapse/admin/v1/x",
            "/_modhost/modules",
        ] {
            let err = validate(p).unwrap_err();
            assert!(err.contains("which the server reserves"), "{p}: {err}");
        }
        assert!(validate("/_matrixx/ok").is_ok());
    }

    #[test]
    fn malformed_paths_are_refused() {
        for p in [
            "relative", "/", "/a/", "/a//b", "/a/../b", "/a/{x}", "/a b", "/a/:x", "/a/*x",
        ] {
            assert!(validate(p).is_err(), "{p}");
        }
    }
}

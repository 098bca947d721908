//! The example module from Synapse's "Writing a module" page, in Rust.
//!
//! * `GET /_synapse/client/demo/hello?name=world` answers `{"hello": "world"}`; without
//!   `name` it answers 400 `M_MISSING_PARAM`.
//! * `user_may_create_room` denies one user (config `evil_user`, default
//!   `@evilguy:<server_name>`) with 403 `M_FORBIDDEN`.
//!
//! Load it with:
//!
//! ```yaml
//! modules:
//!   - module: demo
//!     config:
//!       evil_user: "@mallory:localhost"   # optional
//! ```

use plugin_sdk::{
    codes, export_module, tracing, Module, ModuleApi, ModuleError, Request, Response, SpamCheck,
    SpamCheckerCallbacks,
};
use serde::Deserialize;
use serde_json::json;

/// The demo module's configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The user who may not create rooms.
    #[serde(default)]
    evil_user: Option<String>,
}

/// See the crate docs.
pub struct DemoModule;

impl Module for DemoModule {
    type Config = Config;

    fn new(config: Config, api: ModuleApi) -> Result<Self, ModuleError> {
        let evil_user = config
            .evil_user
            .unwrap_or_else(|| api.get_qualified_user_id("evilguy"));
        tracing::info!(%evil_user, "demo module ready");

        api.register_web_resource("/_synapse/client/demo/hello", hello)?;
        api.register_spam_checker_callbacks(SpamCheckerCallbacks::new().user_may_create_room(
            move |user_id: String, _room_config| {
                let denied = user_id == evil_user;
                async move {
                    if denied {
                        SpamCheck::forbidden()
                    } else {
                        SpamCheck::NotSpam
                    }
                }
            },
        ))?;
        Ok(DemoModule)
    }
}

async fn hello(req: Request) -> Response {
    match req.query_param("name") {
        Some(name) => Response::json(200, &json!({ "hello": name })),
        None => Response::error(400, codes::MISSING_PARAM, "Missing parameter: name"),
    }
}

export_module!(DemoModule);

#[cfg(test)]
mod tests {
    //! Unit tests against the SDK's in-memory host: no server needed.
    use plugin_sdk::testing::ModuleTest;
    use plugin_sdk::SpamCheck;
    use serde_json::json;

    use super::DemoModule;

    #[test]
    fn the_evil_user_defaults_to_evilguy_on_this_server() {
        let t = ModuleTest::start::<DemoModule>(json!({})).unwrap();
        assert_eq!(
            t.user_may_create_room("@evilguy:test", json!({})),
            SpamCheck::forbidden()
        );
        assert_eq!(
            t.user_may_create_room("@alice:test", json!({})),
            SpamCheck::NotSpam
        );
        assert!(
            t.logs()
                .iter()
                .any(|(_, m)| m.contains("demo module ready")),
            "{:?}",
            t.logs()
        );
    }

    #[test]
    fn hello_greets_by_name_and_requires_one() {
        let t = ModuleTest::start::<DemoModule>(json!({"evil_user": "@mallory:test"})).unwrap();
        assert_eq!(
            t.get("/_synapse/client/demo/hello?name=world").body_json(),
            json!({"hello": "world"})
        );
        assert_eq!(t.get("/_synapse/client/demo/hello").status, 400);
        assert_eq!(
            t.user_may_create_room("@mallory:test", json!({})),
            SpamCheck::forbidden()
        );
    }

    #[test]
    fn unknown_config_keys_are_refused() {
        let err = ModuleTest::start::<DemoModule>(json!({"evil": "x"}))
            .err()
            .unwrap();
        assert!(err.starts_with("evil: unknown field `evil`"), "{err}");
    }
}

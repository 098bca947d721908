//! Account validity without email (after the behaviour of matrix-org's
//! synapse-email-account-validity, minus the mail): accounts expire a `period` after
//! registration or their last renewal; an expired account gets 403
//! `ORG_MATRIX_EXPIRED_ACCOUNT` on every client request until it is renewed.
//!
//! * `on_user_registration` records the expiry; `is_user_expired` answers from a cache of
//!   expiries (invalidated on renewal, on every instance);
//! * `POST /_synapse/client/account_validity/renew` (the user's own access token, accepted
//!   even when expired) renews for another period;
//! * `GET /_synapse/client/account_validity/status` shows the caller's expiry;
//! * `POST /_synapse/client/account_validity/admin` (server admins) sets a user's expiry:
//!   `{"user_id": …, "expiration_ts": …}` (default: now plus one period);
//! * `GET /_synapse/client/account_validity/expired` (server admins) lists accounts the
//!   periodic job found expired, with when it noticed;
//! * everything lives in the module's own store: `expiry/<user>` and `expired/<user>`.
//!
//! Users registered before the module was enabled have no expiry and never expire (the
//! module has no opinion on them).
//!
//! ```yaml
//! modules:
//!   - module: account_validity
//!     config:
//!       period: 30d          # ms, s, m, h, d or w
//!       check_interval: 30m  # how often expired accounts are looked for (default 30m)
//! ```

mod duration;
mod web;

use std::time::Duration;

use plugin_sdk::cache::Cached;
use plugin_sdk::{
    export_module, tracing, AccountValidityCallbacks, ConfigError, Module, ModuleApi, ModuleError,
};
use serde::Deserialize;
use serde_json::{json, Value};

/// Configuration.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct Config {
    period: Duration,
    check_interval: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    period: Value,
    #[serde(default)]
    check_interval: Option<Value>,
}

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Config, ConfigError> {
        let period =
            duration::parse(&raw.period).map_err(|e| ConfigError::new(e).at(["period"]))?;
        let check_interval = match &raw.check_interval {
            None => Duration::from_secs(30 * 60),
            Some(v) => {
                duration::parse(v).map_err(|e| ConfigError::new(e).at(["check_interval"]))?
            }
        };
        Ok(Config {
            period,
            check_interval,
        })
    }
}

/// The name expiry lookups are cached under (for `invalidate_cache`).
const CACHE: &str = "expiry_of";

/// The module's state, shared by its callbacks, resources and job.
#[derive(Clone)]
pub(crate) struct Validity {
    api: ModuleApi,
    period: Duration,
    expiries: Cached<String, Option<i64>>,
}

impl Validity {
    /// `user_id`'s expiry (ms), if it has one.
    async fn expiry_of(&self, user_id: &str) -> Result<Option<i64>, ModuleError> {
        let store = self.api.store();
        let key = format!("expiry/{user_id}");
        self.expiries
            .get_or_compute(user_id.to_string(), || async move {
                Ok(store
                    .get::<Value>(&key)
                    .await?
                    .and_then(|v| v["expires_at"].as_i64()))
            })
            .await
    }

    /// Set `user_id`'s expiry, clear any expired mark, and drop cached lookups everywhere.
    async fn set_expiry(&self, user_id: &str, expires_at: i64) -> Result<(), ModuleError> {
        let txn = self.api.store().transaction().await?;
        txn.put(
            &format!("expiry/{user_id}"),
            &json!({ "expires_at": expires_at }),
        )
        .await?;
        if expires_at > self.api.current_time_msec() {
            txn.delete(&format!("expired/{user_id}")).await?;
        }
        txn.commit().await?;
        self.api.invalidate_cache(CACHE, user_id).await
    }

    fn next_expiry(&self) -> i64 {
        self.api.current_time_msec() + self.period.as_millis() as i64
    }

    /// The periodic job: mark accounts whose expiry passed. Each mark is written in a
    /// transaction that re-reads the expiry, so a renewal in between is never marked.
    async fn mark_expired(&self) -> Result<usize, ModuleError> {
        let store = self.api.store();
        let now = self.api.current_time_msec();
        let mut marked = 0;
        for (key, value) in store.scan("expiry/").await? {
            let user_id = key.trim_start_matches("expiry/");
            if value["expires_at"].as_i64().is_none_or(|at| at > now) {
                continue;
            }
            let mark = format!("expired/{user_id}");
            let txn = store.transaction().await?;
            let current = txn.get::<Value>(&key).await?;
            let expires_at = current.as_ref().and_then(|v| v["expires_at"].as_i64());
            match expires_at {
                Some(at) if at <= now && txn.get::<Value>(&mark).await?.is_none() => {
                    txn.put(&mark, &json!({"expired_at": at, "noticed_at": now}))
                        .await?;
                    txn.commit().await?;
                    tracing::info!(%user_id, "account expired");
                    marked += 1;
                }
                _ => txn.rollback().await?,
            }
        }
        Ok(marked)
    }
}

impl Module for AccountValidity {
    type Config = Config;

    fn parse_config(config: Value) -> Result<Config, ConfigError> {
        // Field-level errors (with their paths) from the raw form, then the checks that
        // place their own paths.
        Config::try_from(ConfigError::deserialize::<RawConfig>(config)?)
    }

    fn new(config: Config, api: ModuleApi) -> Result<Self, ModuleError> {
        let expiries: Cached<String, Option<i64>> = Cached::new(10_000);
        api.register_cached_function(CACHE, &expiries)?;
        let v = Validity {
            api: api.clone(),
            period: config.period,
            expiries,
        };

        let (on_reg, on_check) = (v.clone(), v.clone());
        api.register_account_validity_callbacks(
            AccountValidityCallbacks::new()
                .on_user_registration(move |user_id: String| {
                    let v = on_reg.clone();
                    async move {
                        let at = v.next_expiry();
                        v.set_expiry(&user_id, at).await
                    }
                })
                .is_user_expired(move |user_id: String| {
                    let v = on_check.clone();
                    async move {
                        let now = v.api.current_time_msec();
                        Ok::<_, ModuleError>(v.expiry_of(&user_id).await?.map(|at| at <= now))
                    }
                }),
        )?;
        web::register(&v)?;

        let store = api.store();
        api.spawn("schema", async move {
            // Version 1: the expiry/ and expired/ key spaces.
            if let Err(e) = store.migrate(1, |_txn, _from| async { Ok(()) }).await {
                tracing::error!("store schema upgrade failed: {e}");
            }
        });
        let job = v.clone();
        api.looping_background_call("mark-expired", config.check_interval, move || {
            let v = job.clone();
            async move {
                match v.mark_expired().await {
                    Ok(n) if n > 0 => tracing::info!(marked = n, "expired accounts found"),
                    Ok(_) => {}
                    Err(e) => tracing::error!("looking for expired accounts failed: {e}"),
                }
            }
        });
        Ok(AccountValidity)
    }
}

/// See the crate docs.
pub struct AccountValidity;

export_module!(AccountValidity);

#[cfg(test)]
mod tests {
    use plugin_sdk::codec::Encode;
    use plugin_sdk::ffi::FfiValue;
    use plugin_sdk::testing::ModuleTest;
    use serde_json::json;

    use super::AccountValidity;

    #[test]
    fn registration_records_an_expiry_one_period_ahead() {
        let t = ModuleTest::start::<AccountValidity>(json!({"period": "1h"})).unwrap();
        t.stub("invalidate_cache", FfiValue::Null);
        let done = t.call::<()>("on_user_registration", vec!["@a:test".encode()]);
        assert_eq!(done, [Ok(())]);
        let at = t.stored("expiry/@a:test").unwrap()["expires_at"]
            .as_i64()
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        assert!((at - now - 3_600_000).abs() < 10_000, "{at} vs {now}");
        assert_eq!(
            t.call::<Option<bool>>("is_user_expired", vec!["@a:test".encode()]),
            [Ok(Some(false))]
        );
        assert_eq!(
            t.call::<Option<bool>>("is_user_expired", vec!["@b:test".encode()]),
            [Ok(None)],
            "no opinion on users without an expiry"
        );
        assert!(t.host_calls().iter().any(
            |(m, args)| m == "invalidate_cache" && args[0] == FfiValue::Str("expiry_of".into())
        ));
    }

    #[test]
    fn periods_must_be_durations() {
        let err = ModuleTest::start::<AccountValidity>(json!({"period": "soon"}))
            .err()
            .unwrap();
        assert!(err.contains("period"), "{err}");
    }
}

//! Keeps outbound HTTP — the module HTTP client and push gateway deliveries — away from the
//! address ranges `module_http_client` blocks (Synapse guards both with its IP blocklist).
//!
//! The check has to see the address actually connected to, so it happens in three places:
//! the resolver (every host name, on every new connection, so a name resolving to 127.0.0.1
//! or re-resolving there later is refused), before sending (a literal IP in the URL never
//! reaches a resolver) and in the redirect policy (a redirect to a literal IP; a redirect to
//! a name goes through the resolver again). The client uses no proxy: through one, the
//! address connected to would be the proxy's and the target's would go unchecked.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::ModuleHttpClient;

/// Redirects followed before the request fails.
const MAX_REDIRECTS: usize = 5;

/// A connection the configuration refuses: `target` (a name or an address) and the blocked
/// addresses it stands for.
#[derive(Debug)]
pub(crate) struct Refused {
    target: String,
    addresses: Vec<IpAddr>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SETTING: &str = "module_http_client.ip_range_blocklist";
        match self.addresses.as_slice() {
            [one] if one.to_string() == self.target => write!(
                f,
                "refused to connect to {one}: the address is in {SETTING}"
            ),
            [one] => write!(
                f,
                "refused to connect to {} ({one}): the address is in {SETTING}",
                self.target
            ),
            many => {
                let list: Vec<String> = many.iter().map(IpAddr::to_string).collect();
                write!(
                    f,
                    "refused to connect to {} ({}): every address is in {SETTING}",
                    self.target,
                    list.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for Refused {}

/// The refusal of `url` when its host is an IP address the `rules` block; `None` for names
/// (the resolver judges those) and for allowed addresses.
pub(crate) fn literal_refusal(rules: &ModuleHttpClient, url: &reqwest::Url) -> Option<Refused> {
    let host = url.host_str()?;
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    rules.refuses(ip).then(|| Refused {
        target: ip.to_string(),
        addresses: vec![ip],
    })
}

/// Resolves names with the system resolver and drops the addresses the rules block; a name
/// with only blocked addresses fails with [`Refused`].
struct GuardedResolver {
    rules: Arc<ModuleHttpClient>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = Arc::clone(&self.rules);
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (blocked, allowed): (Vec<SocketAddr>, Vec<SocketAddr>) =
                found.into_iter().partition(|a| rules.refuses(a.ip()));
            if allowed.is_empty() && !blocked.is_empty() {
                let mut addresses: Vec<IpAddr> = blocked.iter().map(SocketAddr::ip).collect();
                addresses.dedup();
                return Err(Box::new(Refused {
                    target: host,
                    addresses,
                }) as _);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The module HTTP client for `rules`: the host's TLS and connection pool, at most
/// [`MAX_REDIRECTS`] redirects, and the blocklist enforced on every address it connects to.
pub(crate) fn build_client(rules: &ModuleHttpClient) -> reqwest::Client {
    build_client_with(rules, None)
}

/// Like [`build_client`], with a whole-request `timeout` (the push gateway's).
pub(crate) fn build_client_with(
    rules: &ModuleHttpClient,
    timeout: Option<std::time::Duration>,
) -> reqwest::Client {
    let rules = Arc::new(rules.clone());
    let redirect_rules = Arc::clone(&rules);
    let limit = reqwest::redirect::Policy::limited(MAX_REDIRECTS);
    let redirect = reqwest::redirect::Policy::custom(move |attempt| {
        match literal_refusal(&redirect_rules, attempt.url()) {
            Some(refused) => attempt.error(refused),
            None => limit.redirect(attempt),
        }
    });
    let builder = reqwest::Client::builder();
    let builder = match timeout {
        Some(t) => builder.timeout(t),
        None => builder,
    };
    builder
        .user_agent(concat!("modhost/", env!("CARGO_PKG_VERSION")))
        .redirect(redirect)
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { rules }))
        .build()
        .expect("the HTTP client builds with static settings")
}

/// The [`Refused`] somewhere in the causes of `error`, if the request failed for that.
pub(crate) fn refusal_in<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused);
        }
        cause = e.source();
    }
    None
}

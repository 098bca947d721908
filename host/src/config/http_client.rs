//! `module_http_client`: which addresses the module HTTP client may connect to.
//!
//! Synapse's module `http_client` reaches any address the server can; modhost refuses the
//! server's own and private networks unless the operator allows them, so a module that
//! fetches URLs its users supply cannot be used to probe the server's network.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

/// The ranges blocked when `ip_range_blocklist` is not given: the loopback, private,
/// link-local, shared (CGNAT), unique-local, multicast, reserved, documentation and
/// benchmarking ranges, the unspecified addresses and the cloud metadata addresses.
/// Written out in [`BLOCKLIST_DOC`] too; a unit test keeps the two in step.
pub const DEFAULT_IP_RANGE_BLOCKLIST: &[&str] = &[
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "0.0.0.0/8",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "192.88.99.0/24",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "169.254.169.254/32",
    "::1/128",
    "::/128",
    "fe80::/10",
    "fec0::/10",
    "fc00::/7",
    "ff00::/8",
    "2001:db8::/32",
    "fd00:ec2::254/128",
];

/// The documentation of the setting, for the settings table: what it does and its default.
pub const BLOCKLIST_DOC: &str = "Which addresses the module HTTP client and push gateway \
    deliveries may connect to, \
    checked after DNS resolution and on every redirect: `ip_range_blocklist` (CIDR ranges or \
    single addresses; default: loopback 127.0.0.0/8 and ::1/128, RFC 1918 10.0.0.0/8, \
    172.16.0.0/12 and 192.168.0.0/16, CGNAT 100.64.0.0/10, link-local 169.254.0.0/16 and \
    fe80::/10, unique-local fc00::/7, site-local fec0::/10, multicast 224.0.0.0/4 and \
    ff00::/8, 0.0.0.0/8, ::/128, reserved 240.0.0.0/4 and broadcast 255.255.255.255/32, \
    192.0.0.0/24, 6to4 relay 192.88.99.0/24, benchmarking 198.18.0.0/15, documentation \
    192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32, cloud metadata \
    169.254.169.254/32 and fd00:ec2::254/128) and `ip_range_allowlist` (default empty: \
    addresses reachable even when the blocklist holds them). Giving `ip_range_blocklist` \
    replaces the default list.";

/// The `module_http_client` setting, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleHttpClient {
    /// `ip_range_blocklist`: ranges the client refuses to connect to.
    pub ip_range_blocklist: Vec<IpNet>,
    /// `ip_range_allowlist`: ranges it connects to even when the blocklist holds them.
    pub ip_range_allowlist: Vec<IpNet>,
}

impl Default for ModuleHttpClient {
    fn default() -> Self {
        ModuleHttpClient {
            ip_range_blocklist: DEFAULT_IP_RANGE_BLOCKLIST
                .iter()
                .map(|r| r.parse().expect("the default ranges are CIDR ranges"))
                .collect(),
            ip_range_allowlist: Vec::new(),
        }
    }
}

impl ModuleHttpClient {
    /// Whether the client must not connect to `ip`: the blocklist holds it and the allowlist
    /// does not. An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is judged as IPv4, so
    /// that spelling cannot slip past the IPv4 ranges.
    pub fn refuses(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let holds = |ranges: &[IpNet]| ranges.iter().any(|r| r.contains(&ip));
        holds(&self.ip_range_blocklist) && !holds(&self.ip_range_allowlist)
    }

    /// Read the setting from its YAML `value`. `Err` holds the path of the broken part inside
    /// the setting (such as `ip_range_blocklist[2]`, empty for the value itself) and what is
    /// wrong with it.
    pub(super) fn parse(value: serde_yaml_ng::Value) -> Result<Self, (String, String)> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            ip_range_blocklist: Option<Vec<String>>,
            #[serde(default)]
            ip_range_allowlist: Vec<String>,
        }
        let raw: Raw = serde_path_to_error::deserialize(value).map_err(|err| {
            let path = err.path().to_string();
            let path = if path == "." { String::new() } else { path };
            (path, super::strip_location(&err.into_inner().to_string()))
        })?;
        let mut parsed = ModuleHttpClient::default();
        if let Some(list) = raw.ip_range_blocklist {
            parsed.ip_range_blocklist = ranges("ip_range_blocklist", &list)?;
        }
        parsed.ip_range_allowlist = ranges("ip_range_allowlist", &raw.ip_range_allowlist)?;
        Ok(parsed)
    }
}

/// Parse the entries of the list `key`: CIDR ranges, or single addresses (a range of one).
fn ranges(key: &str, list: &[String]) -> Result<Vec<IpNet>, (String, String)> {
    list.iter()
        .enumerate()
        .map(|(i, text)| {
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    let message = format!(
                        "{text:?} is not a CIDR range such as 10.0.0.0/8 or fd00::/8, nor an IP address"
                    );
                    (format!("{key}[{i}]"), message)
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<ModuleHttpClient, (String, String)> {
        ModuleHttpClient::parse(serde_yaml_ng::from_str(yaml).unwrap())
    }

    #[test]
    fn the_documentation_names_every_default_range() {
        for range in DEFAULT_IP_RANGE_BLOCKLIST {
            assert!(BLOCKLIST_DOC.contains(range), "{range} is documented");
        }
    }

    #[test]
    fn the_default_refuses_private_and_metadata_addresses_only() {
        let rules = ModuleHttpClient::default();
        for blocked in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(rules.refuses(blocked.parse().unwrap()), "{blocked}");
        }
        for public in ["1.1.1.1", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!rules.refuses(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn the_allowlist_wins_and_a_given_blocklist_replaces_the_default() {
        let rules = parse("{ip_range_allowlist: [127.0.0.1, 10.0.0.0/8]}").unwrap();
        assert!(!rules.refuses("127.0.0.1".parse().unwrap()));
        assert!(rules.refuses("127.0.0.2".parse().unwrap()));
        assert!(!rules.refuses("10.9.9.9".parse().unwrap()));
        let rules = parse("{ip_range_blocklist: [8.8.8.0/24]}").unwrap();
        assert!(rules.refuses("8.8.8.8".parse().unwrap()));
        assert!(!rules.refuses("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn a_bad_entry_is_named_by_its_index() {
        assert_eq!(
            parse("{ip_range_blocklist: [10.0.0.0/8, 10.0.0.0/33]}").unwrap_err(),
            (
                "ip_range_blocklist[1]".to_string(),
                "\"10.0.0.0/33\" is not a CIDR range such as 10.0.0.0/8 or fd00::/8, nor an IP address"
                    .to_string()
            )
        );
        let (path, message) = parse("{ip_range_alowlist: []}").unwrap_err();
        assert_eq!(
            path, "ip_range_alowlist",
            "the unknown key is where it is written"
        );
        assert!(
            message.starts_with("unknown field `ip_range_alowlist`"),
            "{message}"
        );
    }
}

//! Property tests of the configuration loader (issue 5): whatever the file holds — random
//! text, random YAML shapes, random `modules:` entries — loading gives a configuration or
//! clear errors naming the file and a YAML path; it never panics or hangs.

use std::path::Path;

use modhost::Config;
use proptest::prelude::*;

const FILE: &str = "conf/hs.yaml";

fn load(text: &str) -> Vec<String> {
    let (config, errors) = Config::parse_partial(Path::new(FILE), text);
    if errors.is_empty() {
        assert!(
            config.is_some(),
            "no errors but no configuration for {text:?}"
        );
    }
    errors.iter().map(|e| e.to_string()).collect()
}

/// A YAML scalar or small collection, as text.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        "[a-z0-9_.:/@#! -]{0,20}".prop_map(|s| format!("{s:?}")),
        Just("~".to_string()),
        Just("{}".to_string()),
        Just("[]".to_string()),
        Just("1e999".to_string()),
        Just("-1".to_string()),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec(("[a-z_]{1,12}", inner), 0..4).prop_map(|kv| {
                let body: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(modhost::config::KNOWN_KEYS.to_vec()).prop_map(String::from),
        "[a-z_]{1,16}",
    ]
}

fn module_entry() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "module",
                "config",
                "sha256",
                "timeout_ms",
                "on_failure",
                "confg",
            ]),
            value(),
        ),
        0..5,
    )
    .prop_map(|kv| {
        let body: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!("{{{}}}", body.join(", "))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, rng_seed: proptest::test_runner::RngSeed::Fixed(20261122), ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        for e in load(&text) {
            prop_assert!(e.starts_with(FILE), "{e}");
        }
    }

    #[test]
    fn random_settings_give_located_errors(settings in prop::collection::vec((key(), value()), 0..8)) {
        let text: String = settings.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        for e in load(&text) {
            prop_assert!(e.starts_with(FILE), "{e}");
            prop_assert!(!e.contains("panicked"), "{e}");
        }
    }

    #[test]
    fn random_module_entries_name_their_index(entries in prop::collection::vec(module_entry(), 0..5)) {
        let text = format!("server_name: example.org\nmodules: [{}]\n", entries.join(", "));
        for e in load(&text) {
            prop_assert!(e.starts_with(FILE), "{e}");
            prop_assert!(e.contains("modules"), "an entry problem names modules[i]: {e}");
        }
    }
}

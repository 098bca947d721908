//! The catalogue's encodings are the ones the hand-written wrappers of plugin-sdk 1.0/1.1
//! sent (rebuilt here with [`Encode`], as those wrappers did), and the host's decoding
//! errors read as they always have.

use serde_json::{json, Map, Value};

use super::wire::{decode_args, decode_value, encode_args, encode_value};
use super::*;
use crate::codec::Encode;
use crate::ffi::{FfiArg, FfiValue};

/// Equal as the wire sees it: same kinds, same scalars, JSON texts of equal values (object
/// key order is not part of the contract).
fn same_wire(new: &[FfiValue], old: &[FfiValue]) -> bool {
    new.len() == old.len()
        && new.iter().zip(old).all(|pair| match pair {
            (FfiValue::Json(a), FfiValue::Json(b)) => {
                serde_json::from_str::<Value>(a.as_str()).ok()
                    == serde_json::from_str::<Value>(b.as_str()).ok()
            }
            (a, b) => a == b,
        })
}

/// Encodes as `old`, and decodes back to itself.
fn check<M: HostMethod>(args: M::Args, old: Vec<FfiValue>)
where
    M::Args: PartialEq + std::fmt::Debug,
{
    let new = encode_args(&args).unwrap();
    assert!(same_wire(&new, &old), "{}: {new:?} != {old:?}", M::NAME);
    let borrowed: Vec<FfiArg<'_>> = new.iter().map(FfiValue::as_arg).collect();
    assert_eq!(
        decode_args::<M::Args>(&borrowed).unwrap(),
        args,
        "{}",
        M::NAME
    );
}

fn s(v: &str) -> String {
    v.to_string()
}

#[test]
fn identity_arguments_encode_as_before() {
    let u = || UserArgs { user_id: s("@a:b") };
    check::<CheckUserExists>(u(), vec!["@a:b".encode()]);
    check::<GetUserinfoById>(u(), vec!["@a:b".encode()]);
    check::<IsUserAdmin>(u(), vec!["@a:b".encode()]);
    check::<GetProfileForUser>(u(), vec!["@a:b".encode()]);
    check::<GetThreepidsForUser>(u(), vec!["@a:b".encode()]);
    check::<SetUserAdmin>(
        SetUserAdminArgs {
            user_id: s("@a:b"),
            admin: true,
        },
        vec!["@a:b".encode(), true.encode()],
    );
    for displayname in [None, Some(s("Bob"))] {
        check::<RegisterUser>(
            RegisterUserArgs {
                localpart: s("bob"),
                displayname: displayname.clone(),
                admin: None,
            },
            vec!["bob".encode(), displayname.encode()],
        );
    }
    check::<RegisterDevice>(
        RegisterDeviceArgs {
            user_id: s("@a:b"),
            device_id: Some(s("D")),
            initial_display_name: None,
        },
        vec![
            "@a:b".encode(),
            Some(s("D")).encode(),
            None::<String>.encode(),
        ],
    );
    check::<SetDisplayname>(
        SetDisplaynameArgs {
            user_id: s("@a:b"),
            displayname: s("A"),
        },
        vec!["@a:b".encode(), "A".encode()],
    );
    check::<GetUserByReq>(
        GetUserByReqArgs {
            access_token: s(""),
            allow_expired: false,
        },
        vec!["".encode(), false.encode()],
    );
    check::<InvalidateAccessToken>(
        TokenArgs {
            access_token: s("t"),
        },
        vec!["t".encode()],
    );
    check::<CreateLoginToken>(
        CreateLoginTokenArgs {
            user_id: s("@a:b"),
            duration_ms: Some(1),
            auth_provider_id: Some(s("sso")),
        },
        vec![
            "@a:b".encode(),
            Some(1i64).encode(),
            Some(s("sso")).encode(),
        ],
    );
    check::<GetHostConfig>((), vec![]);
}

#[test]
fn room_arguments_encode_as_before() {
    let r = || RoomArgs { room_id: s("!r:b") };
    let old = || vec!["!r:b".encode()];
    check::<GetRoomState>(r(), old());
    check::<GetCanonicalRoomAlias>(r(), old());
    check::<DeleteRoom>(r(), old());
    check::<PublicRoomListContains>(r(), old());
    check::<PublicRoomListAdd>(r(), old());
    check::<PublicRoomListRemove>(r(), old());
    check::<LookupRoomAlias>(AliasArgs { alias: s("#a:b") }, vec!["#a:b".encode()]);
    check::<UpdateRoomMembership>(
        UpdateRoomMembershipArgs {
            sender: s("@a:b"),
            target: s("@c:b"),
            room_id: s("!r:b"),
            membership: s("invite"),
        },
        vec![
            "@a:b".encode(),
            "@c:b".encode(),
            "!r:b".encode(),
            "invite".encode(),
        ],
    );
    // A JSON value stays JSON text whatever its shape, a string included.
    for event in [json!({"type": "m.room.message"}), json!("odd")] {
        check::<CreateAndSendEventIntoRoom>(
            SendEventArgs {
                event: event.clone(),
            },
            vec![event.encode()],
        );
    }
    check::<CreateRoom>(
        CreateRoomArgs {
            user_id: s("@a:b"),
            config: json!({"name": "x"}),
        },
        vec!["@a:b".encode(), json!({"name": "x"}).encode()],
    );
}

#[test]
fn account_arguments_encode_as_before() {
    check::<AccountDataGetGlobal>(
        AccountDataArgs {
            user_id: s("@a:b"),
            data_type: s("m.direct"),
        },
        vec!["@a:b".encode(), "m.direct".encode()],
    );
    let mut content = Map::new();
    content.insert(s("k"), json!(1));
    check::<AccountDataPutGlobal>(
        AccountDataPutArgs {
            user_id: s("@a:b"),
            data_type: s("t"),
            content: Value::Object(content.clone()),
        },
        vec![
            "@a:b".encode(),
            "t".encode(),
            Value::Object(content).encode(),
        ],
    );
    let update = |p: &str, m: Option<&str>| PresenceUpdate {
        presence: s(p),
        status_msg: m.map(String::from),
    };
    check::<SetPresenceForUsers>(
        SetPresenceArgs {
            users: [
                (s("@a:b"), update("online", Some("here"))),
                (s("@c:b"), update("offline", None)),
            ]
            .into(),
        },
        vec![json!({
            "@a:b": {"presence": "online", "status_msg": "here"},
            "@c:b": {"presence": "offline", "status_msg": null},
        })
        .encode()],
    );
    check::<SendLocalOnlinePresenceTo>(
        UserListArgs {
            users: vec![s("@a:b")],
        },
        vec![json!(["@a:b"]).encode()],
    );
}

#[test]
fn store_http_and_cache_arguments_encode_as_before() {
    let txn = |t: Option<u64>| t.map(|t| t as i64).encode();
    check::<StoreBegin>((), vec![]);
    check::<StoreCommit>(TxnArgs { txn: 7 }, vec![7i64.encode()]);
    check::<StoreRollback>(TxnArgs { txn: 7 }, vec![7i64.encode()]);
    for t in [None, Some(3)] {
        check::<StoreGet>(
            StoreKeyArgs {
                key: s("k"),
                txn: t,
            },
            vec!["k".encode(), txn(t)],
        );
        check::<StoreDelete>(
            StoreKeyArgs {
                key: s("k"),
                txn: t,
            },
            vec!["k".encode(), txn(t)],
        );
        check::<StorePut>(
            StorePutArgs {
                key: s("k"),
                value: json!("text"),
                txn: t,
            },
            vec!["k".encode(), json!("text").encode(), txn(t)],
        );
        check::<StoreScan>(
            StoreScanArgs {
                prefix: s("p/"),
                after: Some(s("p/a")),
                limit: Some(500),
                txn: t,
            },
            vec![
                "p/".encode(),
                Some(s("p/a")).encode(),
                500i64.encode(),
                txn(t),
            ],
        );
    }
    let spec = HttpRequestSpec {
        method: s("POST"),
        url: s("https://x.example/"),
        headers: Map::new(),
        body: None,
        json: Some(json!({"a": 1})),
        timeout_ms: Some(2000),
        max_response_bytes: None,
    };
    check::<SendHttpRequest>(
        HttpRequestArgs { request: spec },
        vec![json!({
            "method": "POST", "url": "https://x.example/", "headers": {}, "body": null,
            "json": {"a": 1}, "timeout_ms": 2000, "max_response_bytes": null,
        })
        .encode()],
    );
    check::<InvalidateCache>(
        InvalidateCacheArgs {
            function: s("f"),
            key: s("k"),
        },
        vec!["f".encode(), "k".encode()],
    );
    check::<RunsBackgroundTasks>((), vec![]);
}

#[test]
fn answers_encode_as_before() {
    let enc = |v: FfiValue| v;
    assert_eq!(
        encode_value(&Some(s("@a:b"))).unwrap(),
        enc("@a:b".encode())
    );
    assert_eq!(encode_value(&None::<String>).unwrap(), FfiValue::Null);
    assert_eq!(encode_value(&true).unwrap(), FfiValue::Bool(true));
    assert_eq!(encode_value(&()).unwrap(), FfiValue::Null);
    assert_eq!(encode_value(&7u64).unwrap(), FfiValue::Int(7));
    // Stored JSON `null` (an event, a value) is still JSON text, not `Null`.
    assert_eq!(
        encode_value(&AsJson(Value::Null)).unwrap(),
        Value::Null.encode()
    );
    assert_eq!(
        encode_value(&Some(AsJson(json!("s")))).unwrap(),
        json!("s").encode()
    );
    assert_eq!(
        encode_value(&None::<AsJson<Value>>).unwrap(),
        FfiValue::Null
    );
    assert!(same_wire(
        &[encode_value(&vec![(s("k"), json!(1))]).unwrap()],
        &[json!([["k", 1]]).encode()]
    ));
    let room = crate::CreatedRoom {
        room_id: s("!r:b"),
        room_alias: None,
    };
    assert!(same_wire(
        &[encode_value(&room).unwrap()],
        &[json!({"room_id": "!r:b"}).encode()]
    ));
    let answer = HttpAnswer {
        status: 200,
        headers: Map::new(),
        body: Some(s("hi")),
        body_hex: None,
    };
    assert!(same_wire(
        &[encode_value(&answer).unwrap()],
        &[json!({"status": 200, "headers": {}, "body": "hi"}).encode()]
    ));
}

#[test]
fn answers_decode_as_before() {
    assert_eq!(decode_value::<u64>(FfiArg::Int(3)), Ok(3));
    assert_eq!(decode_value::<()>(FfiArg::Bool(true)), Ok(()));
    assert_eq!(decode_value::<Option<String>>(FfiArg::Null), Ok(None));
    let null = Value::Null.encode();
    assert_eq!(
        decode_value::<Option<AsJson<Value>>>(null.as_arg()),
        Ok(Some(AsJson(Value::Null)))
    );
    let profile = json!({"displayname": "A", "avatar_url": null}).encode();
    let info: crate::ProfileInfo = decode_value::<Profile>(profile.as_arg()).unwrap().into();
    assert_eq!(info.display_name.as_deref(), Some("A"));
    assert_eq!(
        decode_value::<String>(FfiArg::Int(1))
            .unwrap_err()
            .message(),
        "expected a string, got int"
    );
}

fn decode_err<T: serde::de::DeserializeOwned + std::fmt::Debug>(args: Vec<FfiValue>) -> String {
    let borrowed: Vec<FfiArg<'_>> = args.iter().map(FfiValue::as_arg).collect();
    decode_args::<T>(&borrowed)
        .unwrap_err()
        .message()
        .to_owned()
}

#[test]
fn decoding_errors_name_the_argument_as_the_host_always_has() {
    assert_eq!(
        decode_err::<AccountDataPutArgs>(vec!["@a:b".encode(), 7i64.encode(), json!({}).encode()]),
        "argument 1 (type) must be a string"
    );
    assert_eq!(
        decode_err::<UserArgs>(vec![]),
        "argument 0 (user_id) must be a string"
    );
    assert_eq!(
        decode_err::<RegisterDeviceArgs>(vec!["@a:b".encode(), 1i64.encode()]),
        "argument 1 (device_id) must be a string or null"
    );
    assert_eq!(
        decode_err::<SetUserAdminArgs>(vec!["@a:b".encode(), "yes".encode()]),
        "argument 1 (admin) must be a boolean"
    );
    assert_eq!(
        decode_err::<CreateLoginTokenArgs>(vec!["@a:b".encode(), "1".encode()]),
        "argument 1 (duration_ms) must be an integer or null"
    );
    for config in [json!([1]).encode(), "x".encode(), FfiValue::Null] {
        assert_eq!(
            decode_err::<CreateRoomArgs>(vec!["@a:b".encode(), config]),
            "argument 1 (config) must be a JSON object"
        );
    }
    assert_eq!(
        decode_err::<SetPresenceArgs>(vec![json!([]).encode()]),
        "argument 0 (users) must be a JSON object"
    );
    let bad = FfiValue::Json("{bad".into());
    assert!(decode_err::<StorePutArgs>(vec!["k".encode(), bad])
        .starts_with("argument 1 (value) must be valid JSON ("));
}

#[test]
fn json_arguments_accept_scalars_and_extra_arguments_are_ignored() {
    let args = ["k".encode(), "x".encode(), FfiValue::Null, "extra".encode()];
    let borrowed: Vec<FfiArg<'_>> = args.iter().map(FfiValue::as_arg).collect();
    let put: StorePutArgs = decode_args(&borrowed).unwrap();
    assert_eq!((put.value, put.txn), (json!("x"), None));
}

#[test]
fn errors_cross_as_the_kinds_they_always_had() {
    let m = HostError::matrix(403, "M_FORBIDDEN", "no");
    let ffi = m.clone().into_ffi();
    assert_eq!(ffi.kind, crate::ffi::ErrorKind::MATRIX);
    assert_eq!(
        ffi.details.as_str(),
        json!({"status": 403, "errcode": "M_FORBIDDEN", "error": "no", "fields": {}}).to_string()
    );
    assert_eq!(HostError::from_ffi(&ffi), m);
    let err: ModuleError = m.into();
    assert_eq!(err.as_matrix().map(|m| m.status), Some(403));
    for e in [
        HostError::BadValue(s("b")),
        HostError::Internal(s("i")),
        HostError::Unsupported(s("u")),
    ] {
        assert_eq!(HostError::from_ffi(&e.clone().into_ffi()), e);
    }
}

#[test]
fn names_are_unique() {
    for name in HOST_METHODS {
        assert_eq!(
            HOST_METHODS.iter().filter(|n| *n == name).count(),
            1,
            "{name}"
        );
    }
    assert_eq!(HOST_METHODS.len(), 37);
}

/// Garbage from the other side of the ABI (a raw `call_host`, a skewed SDK): any argument
/// list decodes as any method's arguments, and any value as any answer, to a value or an
/// error, never a panic.
mod garbage {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = FfiValue> {
        prop_oneof![
            Just(FfiValue::Null),
            any::<bool>().prop_map(FfiValue::Bool),
            any::<i64>().prop_map(FfiValue::Int),
            any::<f64>().prop_map(FfiValue::Float),
            "\\PC{0,12}".prop_map(|s| FfiValue::Str(s.into())),
            prop_oneof![
                "\\PC{0,20}",
                Just("{\"@a:b\": {\"presence\": 1}}".to_string()),
                Just("[[\"k\", 1], [2]]".to_string()),
                Just("{\"status\": 70000}".to_string()),
                Just("null".to_string()),
            ]
            .prop_map(|s| FfiValue::Json(s.into())),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(|b| FfiValue::Bytes(b.into())),
        ]
    }

    fn all_args(args: &[FfiArg<'_>]) {
        let _ = decode_args::<UserArgs>(args);
        let _ = decode_args::<RegisterUserArgs>(args);
        let _ = decode_args::<CreateLoginTokenArgs>(args);
        let _ = decode_args::<CreateRoomArgs>(args);
        let _ = decode_args::<SendEventArgs>(args);
        let _ = decode_args::<AccountDataPutArgs>(args);
        let _ = decode_args::<SetPresenceArgs>(args);
        let _ = decode_args::<UserListArgs>(args);
        let _ = decode_args::<StorePutArgs>(args);
        let _ = decode_args::<StoreScanArgs>(args);
        let _ = decode_args::<TxnArgs>(args);
        let _ = decode_args::<HttpRequestArgs>(args);
        let _ = decode_args::<()>(args);
    }

    fn all_answers(v: FfiArg<'_>) {
        let _ = decode_value::<Option<String>>(v);
        let _ = decode_value::<Option<crate::UserInfo>>(v);
        let _ = decode_value::<Option<AsJson<Value>>>(v);
        let _ = decode_value::<Vec<(String, Value)>>(v);
        let _ = decode_value::<HttpAnswer>(v);
        let _ = decode_value::<u64>(v);
        let _ = decode_value::<bool>(v);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, rng_seed: proptest::test_runner::RngSeed::Fixed(20261201), ..ProptestConfig::default() })]

        #[test]
        fn decoding_never_panics(values in proptest::collection::vec(value(), 0..5)) {
            let borrowed: Vec<FfiArg<'_>> = values.iter().map(FfiValue::as_arg).collect();
            all_args(&borrowed);
            for v in &borrowed {
                all_answers(*v);
            }
        }
    }
}

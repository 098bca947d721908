//! Third-party identifiers (issue 13): the admin API binds them (and shows them), clients
//! list, delete and unbind them, logins resolve them, deactivation removes them, and the
//! module callbacks (`on_add_user_third_party_identifier`, `on_threepid_bind`,
//! `on_remove_user_third_party_identifier`, `check_3pid_auth`) and the module API's
//! `get_threepids_for_user` see exactly what Synapse's would. The endpoints needing a
//! validation session are in `client_threepid_requests.rs`.

mod threepids_common;

use modhost_tests::{TestServer, Workdir};
use serde_json::{json, Value};
use threepids_common::*;

/// `POST /login` with a password and `identifier`: (status, body).
async fn login(s: &TestServer, identifier: Value, password: &str) -> (u16, Value) {
    let body = json!({"type": "m.login.password", "identifier": identifier, "password": password});
    s.call("POST", "/_matrix/client/v3/login", None, Some(body))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_threepids_replace_the_list_and_fire_add_bind_and_remove() {
    let w = Workdir::new();
    let (s, root, alice) = server(&w, json!({})).await;

    let (status, body) = admin_put(
        &s,
        &root,
        ALICE,
        json!({"threepids": [{"medium": "email", "address": " Alice@Example.COM "}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let listed = &body["threepids"];
    assert_eq!(pairs(listed), vec![pair("email", "alice@example.com")]);
    let added_at = listed[0]["added_at"].as_i64().unwrap();
    assert!(added_at > 1_600_000_000_000, "ms since the epoch: {listed}");
    assert_eq!(listed[0]["validated_at"], listed[0]["added_at"]);
    let triple = json!([ALICE, "email", "alice@example.com"]);
    assert_eq!(
        threepid_calls(&s).await,
        vec![
            call("on_add_user_third_party_identifier", triple.clone()),
            call("on_threepid_bind", triple.clone()),
        ],
        "add first, then the deprecated bind, as Synapse's add_threepid"
    );

    // The same list, the client's view and the admin's GET agree.
    let (status, mine) = alice.call("GET", "/account/3pid", None).await;
    assert_eq!((status, &mine["threepids"]), (200, listed));
    let (status, got) = call_as(
        &s,
        &root,
        "GET",
        &format!("/_synapse/admin/v2/users/{ALICE}"),
    )
    .await;
    assert_eq!((status, &got["threepids"]), (200, listed), "{got}");
    assert_eq!(got["name"], ALICE);
    assert_eq!(got["admin"], false);
    assert_eq!(got["deactivated"], false);

    // Keeping the email (spelled differently) and adding a phone: one addition only.
    let (status, body) = admin_put(
        &s,
        &root,
        ALICE,
        json!({"threepids": [
            {"medium": "msisdn", "address": "447700900123"},
            {"medium": "email", "address": "ALICE@example.com"},
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(pairs(&body["threepids"]).len(), 2, "{}", body["threepids"]);
    let phone = json!([ALICE, "msisdn", "447700900123"]);
    assert_eq!(
        threepid_calls(&s).await[2..].to_vec(),
        vec![
            call("on_add_user_third_party_identifier", phone.clone()),
            call("on_threepid_bind", phone.clone()),
        ]
    );

    // An empty list removes both.
    let (status, body) = admin_put(&s, &root, ALICE, json!({"threepids": []})).await;
    assert_eq!((status, &body["threepids"]), (200, &json!([])), "{body}");
    let mut removed: Vec<Value> = threepid_calls(&s).await[4..]
        .iter()
        .map(|(name, args)| {
            assert_eq!(name, "on_remove_user_third_party_identifier");
            args.clone()
        })
        .collect();
    removed.sort_by_key(|a| a.to_string());
    assert_eq!(removed, vec![triple, phone]);
    let (_, mine) = alice.call("GET", "/account/3pid", None).await;
    assert_eq!(mine, json!({"threepids": []}));
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_threepids_refuse_bad_entries_before_changing_anything() {
    let w = Workdir::new();
    let (s, root, alice) = server(&w, json!({"on_profile_update": null})).await;
    for (threepids, errcode, error) in [
        (
            json!([{"medium": "email"}]),
            "M_MISSING_PARAM",
            "Missing params: ['address']",
        ),
        (
            json!([{"medium": "fax", "address": "123"}]),
            "M_INVALID_PARAM",
            "'fax' is not a valid value for 'medium'",
        ),
        (
            json!([{"medium": "email", "address": "no-at-sign"}]),
            "M_UNKNOWN",
            "Unable to parse email address",
        ),
        (
            json!({"medium": "email"}),
            "M_BAD_JSON",
            "'threepids' parameter is not a list",
        ),
    ] {
        let (status, body) = admin_put(
            &s,
            &root,
            ALICE,
            json!({"displayname": "Changed", "threepids": threepids}),
        )
        .await;
        assert_eq!(
            (status, body),
            (400, json!({"errcode": errcode, "error": error})),
            "{threepids}"
        );
    }
    let (_, name) = alice
        .call("GET", "/profile/@alice:test.local/displayname", None)
        .await;
    assert_eq!(name["displayname"], "alice", "nothing changed");
    assert!(s.calls("a").await.is_empty(), "{:?}", s.calls("a").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_get_user_refuses_non_admins_unknown_and_remote_users() {
    let w = Workdir::new();
    let (s, root, alice) = server(&w, json!({})).await;
    // Not an admin; an unknown user; a remote user.
    let (status, body) = call_as(
        &s,
        &alice,
        "GET",
        &format!("/_synapse/admin/v2/users/{ALICE}"),
    )
    .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN"))
    );
    let (status, body) = call_as(
        &s,
        &root,
        "GET",
        "/_synapse/admin/v2/users/@ghost:test.local",
    )
    .await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"errcode": "M_NOT_FOUND", "error": "User not found"})
        )
    );
    let (status, body) = call_as(
        &s,
        &root,
        "GET",
        "/_synapse/admin/v2/users/@bob:elsewhere.org",
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"errcode": "M_UNKNOWN", "error": "Can only look up local users"})
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_removes_one_and_fires_remove_even_when_nothing_was_bound() {
    let w = Workdir::new();
    let (s, root, alice) = server(&w, json!({})).await;
    let both = json!({"threepids": [
        {"medium": "email", "address": "alice@example.com"},
        {"medium": "msisdn", "address": "447700900123"},
    ]});
    assert_eq!(admin_put(&s, &root, ALICE, both).await.0, 200);
    let before = threepid_calls(&s).await.len();

    let (status, body) = alice
        .call(
            "POST",
            "/account/3pid/delete",
            Some(json!({"medium": "email", "address": "ALICE@Example.com"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"id_server_unbind_result": "no-support"}))
    );
    let (_, mine) = alice.call("GET", "/account/3pid", None).await;
    assert_eq!(
        pairs(&mine["threepids"]),
        vec![pair("msisdn", "447700900123")]
    );
    // Not bound (any more): still 200, and modules still hear of it, as in Synapse.
    let (status, _) = alice
        .call(
            "POST",
            "/account/3pid/delete",
            Some(json!({"medium": "email", "address": "alice@example.com", "id_server": "is.example.org"})),
        )
        .await;
    assert_eq!(status, 200);
    let triple = json!([ALICE, "email", "alice@example.com"]);
    assert_eq!(
        threepid_calls(&s).await[before..].to_vec(),
        vec![
            call("on_remove_user_third_party_identifier", triple.clone()),
            call("on_remove_user_third_party_identifier", triple),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_refuses_hostile_bodies_before_the_token_and_keeps_the_identifier() {
    let w = Workdir::new();
    let (s, root, alice) = server(&w, json!({})).await;
    let phone = json!({"threepids": [{"medium": "msisdn", "address": "447700900123"}]});
    assert_eq!(admin_put(&s, &root, ALICE, phone).await.0, 200);
    // Hostile bodies: checked before the token, as Synapse.
    for (body, errcode) in [
        (json!({"medium": "fax", "address": "1"}), "M_BAD_JSON"),
        (json!({"medium": "email"}), "M_MISSING_PARAM"),
        (json!({"medium": "email", "address": 7}), "M_BAD_JSON"),
        (json!({}), "M_BAD_JSON"),
    ] {
        let (status, answer) = alice
            .call("POST", "/account/3pid/delete", Some(body.clone()))
            .await;
        assert_eq!(
            (status, answer["errcode"].as_str()),
            (400, Some(errcode)),
            "{body}: {answer}"
        );
        let (status, answer) = s
            .call(
                "POST",
                "/_matrix/client/v3/account/3pid/delete",
                None,
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (status, answer["errcode"].as_str()),
            (400, Some(errcode)),
            "no token, {body}"
        );
    }
    let (status, body) = alice
        .call(
            "POST",
            "/account/3pid/delete",
            Some(json!({"medium": "email", "address": "not-an-email"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"errcode": "M_UNKNOWN", "error": "Unable to parse email address"})
        )
    );
    let (_, mine) = alice.call("GET", "/account/3pid", None).await;
    assert_eq!(
        pairs(&mine["threepids"]).len(),
        1,
        "the phone is still there"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unbind_keeps_the_identifier_and_answers_no_support() {
    let w = Workdir::new();
    let (s, root, alice) = server(&w, json!({})).await;
    let email = json!({"threepids": [{"medium": "email", "address": "alice@example.com"}]});
    assert_eq!(admin_put(&s, &root, ALICE, email).await.0, 200);
    let before = threepid_calls(&s).await.len();
    for body in [
        json!({"medium": "email", "address": "alice@example.com"}),
        json!({"medium": "email", "address": "alice@example.com", "id_server": "is.example.org"}),
    ] {
        let (status, answer) = alice.call("POST", "/account/3pid/unbind", Some(body)).await;
        assert_eq!(
            (status, answer),
            (200, json!({"id_server_unbind_result": "no-support"}))
        );
    }
    let (status, answer) = alice
        .call(
            "POST",
            "/account/3pid/unbind",
            Some(json!({"medium": "carrier-pigeon", "address": "x"})),
        )
        .await;
    assert_eq!(
        (status, answer["errcode"].as_str()),
        (400, Some("M_BAD_JSON"))
    );
    let (_, mine) = alice.call("GET", "/account/3pid", None).await;
    assert_eq!(
        pairs(&mine["threepids"]),
        vec![pair("email", "alice@example.com")]
    );
    assert_eq!(
        threepid_calls(&s).await.len(),
        before,
        "unbinding is not removing"
    );
    let (_, caps) = alice.call("GET", "/capabilities", None).await;
    assert_eq!(
        caps["capabilities"]["m.3pid_changes"],
        json!({"enabled": true}),
        "identifiers can be deleted, as with Synapse's default enable_3pid_changes"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn login_by_threepid_resolves_through_the_store_after_check_3pid_auth_declines() {
    let w = Workdir::new();
    let (s, root, _alice) = server(&w, json!({"check_3pid_auth": null})).await;
    let both = json!({"threepids": [
        {"medium": "email", "address": "alice@example.com"},
        {"medium": "msisdn", "address": "447700900123"},
    ]});
    assert_eq!(admin_put(&s, &root, ALICE, both).await.0, 200);

    let (status, body) = login(
        &s,
        json!({"type": "m.id.thirdparty", "medium": "email", "address": " ALICE@example.COM"}),
        "pw",
    )
    .await;
    assert_eq!(
        (status, body["user_id"].as_str()),
        (200, Some(ALICE)),
        "{body}"
    );
    let (status, body) = login(
        &s,
        json!({"type": "m.id.phone", "country": "GB", "phone": "07700 900123"}),
        "pw",
    )
    .await;
    assert_eq!(
        (status, body["user_id"].as_str()),
        (200, Some(ALICE)),
        "{body}"
    );
    let asked: Vec<Value> = s
        .calls("a")
        .await
        .into_iter()
        .filter(|c| c["callback"] == "check_3pid_auth")
        .map(|c| c["args"].clone())
        .collect();
    assert_eq!(
        asked,
        vec![
            json!(["email", "alice@example.com"]),
            json!(["msisdn", "447700900123"]),
        ],
        "modules are asked first, with the canonical address"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn login_by_threepid_refuses_unknown_wrong_and_malformed_identifiers() {
    let w = Workdir::new();
    let (s, root, _alice) = server(&w, json!({})).await;
    let email = json!({"threepids": [{"medium": "email", "address": "alice@example.com"}]});
    assert_eq!(admin_put(&s, &root, ALICE, email).await.0, 200);
    let invalid = json!({"errcode": "M_FORBIDDEN", "error": "Invalid username or password"});
    let email =
        json!({"type": "m.id.thirdparty", "medium": "email", "address": "alice@example.com"});
    assert_eq!(login(&s, email, "wrong").await, (403, invalid.clone()));
    let unknown =
        json!({"type": "m.id.thirdparty", "medium": "email", "address": "bob@example.com"});
    assert_eq!(login(&s, unknown, "pw").await, (403, invalid));
    assert_eq!(
        login(
            &s,
            json!({"type": "m.id.thirdparty", "medium": "email", "address": "nope"}),
            "pw"
        )
        .await,
        (
            400,
            json!({"errcode": "M_UNKNOWN", "error": "Unable to parse email address"})
        )
    );
    assert_eq!(
        login(
            &s,
            json!({"type": "m.id.thirdparty", "medium": "email"}),
            "pw"
        )
        .await,
        (
            400,
            json!({"errcode": "M_UNKNOWN", "error": "Invalid thirdparty identifier"})
        )
    );
    assert_eq!(
        login(
            &s,
            json!({"type": "m.id.phone", "phone": "07700 900123"}),
            "pw"
        )
        .await,
        (
            400,
            json!({"errcode": "M_INVALID_PARAM", "error": "Invalid phone-type identifier"})
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivation_removes_every_threepid_with_its_callback() {
    let w = Workdir::new();
    let (s, root, alice) = server(&w, json!({})).await;
    let email = json!({"threepids": [{"medium": "email", "address": "alice@example.com"}]});
    assert_eq!(admin_put(&s, &root, ALICE, email).await.0, 200);
    let before = threepid_calls(&s).await.len();
    let (status, body) = alice
        .call(
            "POST",
            "/account/deactivate",
            Some(json!({"auth": {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "pw"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        threepid_calls(&s).await[before..].to_vec(),
        vec![call(
            "on_remove_user_third_party_identifier",
            json!([ALICE, "email", "alice@example.com"])
        )]
    );
    let (_, got) = call_as(
        &s,
        &root,
        "GET",
        &format!("/_synapse/admin/v2/users/{ALICE}"),
    )
    .await;
    assert_eq!(
        (&got["threepids"], &got["deactivated"]),
        (&json!([]), &json!(true))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn module_api_get_threepids_for_user() {
    let w = Workdir::new();
    let (s, root, _alice) = server(&w, json!({})).await;
    assert_eq!(
        s.host_call("a", "get_threepids_for_user", json!([ALICE]))
            .await,
        json!({"ok": []})
    );
    let email = json!({"threepids": [{"medium": "email", "address": "Alice@Example.com"}]});
    let (_, put) = admin_put(&s, &root, ALICE, email).await;
    let answer = s
        .host_call("a", "get_threepids_for_user", json!([ALICE]))
        .await;
    assert_eq!(answer, json!({"ok": put["threepids"]}), "{answer}");
    assert_eq!(answer["ok"][0]["address"], "alice@example.com");
    for other in ["@ghost:test.local", "@bob:elsewhere.org"] {
        assert_eq!(
            s.host_call("a", "get_threepids_for_user", json!([other]))
                .await,
            json!({"ok": []}),
            "{other}"
        );
    }
}

//! Third-party identifier requests that need a validation session (issue 13):
//! `/account/3pid/add`, the deprecated `POST /account/3pid`, `/account/3pid/bind` and the
//! four `requestToken` endpoints. modhost sends no email and has no msisdn delegate, so each
//! ends in Synapse's refusal, after Synapse's checks in Synapse's order (`is_3pid_allowed`
//! included), and nothing is ever bound.

mod threepids_common;

use modhost_tests::{Client, TestServer, Workdir};
use serde_json::{json, Value};
use threepids_common::*;

fn no_session() -> Value {
    json!({"errcode": "M_THREEPID_AUTH_FAILED", "error": "No validated 3pid session found"})
}

/// Nothing was bound and no 3pid callback fired.
async fn nothing_bound(s: &TestServer, alice: &Client) {
    let (_, mine) = alice.call("GET", "/account/3pid", None).await;
    assert_eq!(mine, json!({"threepids": []}));
    assert!(threepid_calls(s).await.is_empty());
}

/// A valid msisdn `requestToken` body for GB 07700 900123 (msisdn 447700900123).
fn phone() -> Value {
    json!({"client_secret": "secret", "send_attempt": 1, "country": "GB", "phone_number": "07700 900123"})
}

#[tokio::test(flavor = "multi_thread")]
async fn add_checks_the_body_then_interactive_auth_then_finds_no_session() {
    let w = Workdir::new();
    let (s, _root, alice) = server(&w, json!({})).await;
    let add = |body: Value| alice.call("POST", "/account/3pid/add", Some(body));
    let (status, body) = add(json!({"client_secret": "secret"})).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_MISSING_PARAM")),
        "{body}"
    );
    let (status, body) = add(json!({"client_secret": "", "sid": "1"})).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_BAD_JSON")),
        "{body}"
    );
    let creds = json!({"client_secret": "secret", "sid": "1"});
    let (status, body) = add(creds.clone()).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["flows"][0]["stages"], json!(["m.login.password"]));
    let mut with_auth = creds;
    with_auth["auth"] = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "wrong"});
    let (status, body) = add(with_auth.clone()).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_FORBIDDEN")),
        "{body}"
    );
    with_auth["auth"]["password"] = json!("pw");
    assert_eq!(add(with_auth).await, (400, no_session()));
    nothing_bound(&s, &alice).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deprecated_add_needs_credentials_and_finds_no_session() {
    let w = Workdir::new();
    let (s, _root, alice) = server(&w, json!({})).await;
    let add = |body: Value| alice.call("POST", "/account/3pid", Some(body));
    assert_eq!(
        add(json!({})).await,
        (
            400,
            json!({"errcode": "M_MISSING_PARAM", "error": "Missing param three_pid_creds"})
        )
    );
    assert_eq!(
        add(json!({"three_pid_creds": {"sid": "1"}})).await,
        (
            400,
            json!({"errcode": "M_MISSING_PARAM", "error": "Missing params: ['client_secret']"})
        )
    );
    assert_eq!(
        add(json!({"threePidCreds": {"sid": "1", "client_secret": "a b"}})).await,
        (
            400,
            json!({"errcode": "M_INVALID_PARAM", "error": "Invalid client_secret parameter"})
        )
    );
    let creds = json!({"client_secret": "secret", "sid": "1"});
    assert_eq!(
        add(json!({"three_pid_creds": creds})).await,
        (400, no_session())
    );
    nothing_bound(&s, &alice).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bind_checks_the_body_before_the_token_and_finds_no_session() {
    let w = Workdir::new();
    let (s, _root, alice) = server(&w, json!({})).await;
    let bind = json!({"client_secret": "secret", "sid": "1", "id_server": "is.example.org", "id_access_token": "t"});
    let (status, body) = post(&s, "/account/3pid/bind", json!({"sid": "1"})).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_BAD_JSON")),
        "{body}"
    );
    let (status, body) = post(&s, "/account/3pid/bind", bind.clone()).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_MISSING_TOKEN"))
    );
    assert_eq!(
        alice.call("POST", "/account/3pid/bind", Some(bind)).await,
        (400, no_session())
    );
    nothing_bound(&s, &alice).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn email_request_tokens_are_refused_before_is_3pid_allowed_is_asked() {
    let w = Workdir::new();
    let (s, _root, _alice) = server(&w, json!({"is_3pid_allowed": false})).await;
    let email = json!({"client_secret": "secret", "send_attempt": 1, "email": "a@example.com"});
    assert_eq!(
        post(&s, "/account/3pid/email/requestToken", email.clone()).await,
        (
            400,
            json!({"errcode": "M_THREEPID_MEDIUM_NOT_SUPPORTED", "error": "Adding an email to your account is disabled on this server"})
        )
    );
    assert_eq!(
        post(&s, "/register/email/requestToken", email).await,
        (
            400,
            json!({"errcode": "M_UNKNOWN", "error": "Email-based registration has been disabled on this server"})
        )
    );
    assert_eq!(
        is_3pid_allowed_args(&s).await,
        Vec::<Value>::new(),
        "Synapse without an email configuration refuses first"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn msisdn_request_tokens_are_denied_by_is_3pid_allowed_with_the_msisdn() {
    let w = Workdir::new();
    let (s, _root, _alice) = server(&w, json!({"is_3pid_allowed": false})).await;
    assert_eq!(
        post(&s, "/account/3pid/msisdn/requestToken", phone()).await,
        (
            403,
            json!({"errcode": "M_THREEPID_DENIED", "error": "Account phone numbers are not authorized on this server"})
        )
    );
    assert_eq!(
        post(&s, "/register/msisdn/requestToken", phone()).await,
        (
            403,
            json!({"errcode": "M_THREEPID_DENIED", "error": "Phone numbers are not authorized to register on this server"})
        )
    );
    assert_eq!(
        is_3pid_allowed_args(&s).await,
        vec![
            json!(["msisdn", "447700900123", false]),
            json!(["msisdn", "447700900123", true]),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn allowed_msisdn_request_tokens_are_refused_for_want_of_a_delegate_or_as_in_use() {
    let w = Workdir::new();
    let (s, root, _alice) = server(&w, json!({"is_3pid_allowed": true})).await;
    assert_eq!(
        post(&s, "/account/3pid/msisdn/requestToken", phone()).await,
        (
            400,
            json!({"errcode": "M_THREEPID_MEDIUM_NOT_SUPPORTED", "error": "Adding phone numbers to user account is not supported by this homeserver"})
        )
    );
    assert_eq!(
        post(&s, "/register/msisdn/requestToken", phone()).await,
        (
            400,
            json!({"errcode": "M_UNKNOWN", "error": "Registration by phone number is not supported on this homeserver"})
        )
    );
    let bound = json!({"threepids": [{"medium": "msisdn", "address": "447700900123"}]});
    assert_eq!(admin_put(&s, &root, ALICE, bound).await.0, 200);
    assert_eq!(
        post(&s, "/account/3pid/msisdn/requestToken", phone()).await,
        (
            400,
            json!({"errcode": "M_THREEPID_IN_USE", "error": "MSISDN is already in use"})
        )
    );
    assert_eq!(
        post(&s, "/register/msisdn/requestToken", phone()).await,
        (
            400,
            json!({"errcode": "M_THREEPID_IN_USE", "error": "Phone number is already in use"})
        )
    );
    assert_eq!(is_3pid_allowed_args(&s).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn msisdn_request_tokens_refuse_hostile_bodies_before_asking_modules() {
    let w = Workdir::new();
    let (s, _root, _alice) = server(&w, json!({"is_3pid_allowed": true})).await;
    let mut bad_number = phone();
    bad_number["phone_number"] = json!("not a number");
    for path in [
        "/account/3pid/msisdn/requestToken",
        "/register/msisdn/requestToken",
    ] {
        assert_eq!(
            post(&s, path, bad_number.clone()).await,
            (
                400,
                json!({"errcode": "M_INVALID_PARAM", "error": "Unable to parse phone number"})
            ),
            "{path}"
        );
    }
    let mut no_attempt = phone();
    no_attempt.as_object_mut().unwrap().remove("send_attempt");
    let (status, body) = post(&s, "/account/3pid/msisdn/requestToken", no_attempt.clone()).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_MISSING_PARAM")),
        "{body}"
    );
    assert_eq!(
        post(&s, "/register/msisdn/requestToken", no_attempt).await,
        (
            400,
            json!({"errcode": "M_MISSING_PARAM", "error": "Missing params: ['send_attempt']"})
        )
    );
    let mut id_server = phone();
    id_server["id_server"] = json!("is.example.org");
    let (status, body) = post(&s, "/account/3pid/msisdn/requestToken", id_server).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM")),
        "{body}"
    );
    let mut secret = phone();
    secret["client_secret"] = json!("a b");
    assert_eq!(
        post(&s, "/register/msisdn/requestToken", secret).await,
        (
            400,
            json!({"errcode": "M_INVALID_PARAM", "error": "Invalid client_secret parameter"})
        )
    );
    assert!(is_3pid_allowed_args(&s).await.is_empty());
}

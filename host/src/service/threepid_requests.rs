//! The client's third-party identifier requests that need a validation session: the four
//! `requestToken` endpoints and `POST /account/3pid/add` / `/bind` (client-server spec v1.12
//! §"Adding Account Administrative Contact Information", §"Registration"), checked in
//! Synapse's order so each refusal is the one Synapse gives. modhost sends no email and has
//! no msisdn delegate, so no validation session ever exists and each request ends in an
//! error, after `is_3pid_allowed` where Synapse asks it.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::error::{MatrixError, MatrixResult};
use crate::service::threepids::{missing_params, phone_number_to_msisdn};
use crate::state::AppState;

/// The type of one field of a request body, as Synapse's pydantic models type it.
#[derive(Clone, Copy)]
pub enum Field {
    /// A string.
    Str,
    /// An integer (not a boolean, not a float).
    Int,
    /// A client secret: 1 to 255 characters, at least one of `[0-9a-zA-Z.=_-]`.
    Secret,
    /// `email` or `msisdn`.
    Medium,
    /// An ISO 3166-1 alpha-2 country code (two capital letters somewhere in the string).
    Country,
    /// A JSON object (the `auth` dict of interactive auth).
    Object,
}

impl Field {
    /// What is wrong with `v` for this type, if anything.
    fn problem(self, v: &Value) -> Option<&'static str> {
        let s = v.as_str();
        let ok = match self {
            Field::Str => s.is_some(),
            Field::Int => v.is_i64() || v.is_u64(),
            Field::Secret => s.is_some_and(|s| {
                (1..=255).contains(&s.chars().count())
                    && s.chars()
                        .any(|c| c.is_ascii_alphanumeric() || ".=_-".contains(c))
            }),
            Field::Medium => matches!(s, Some("email" | "msisdn")),
            Field::Country => s.is_some_and(|s| {
                s.as_bytes()
                    .windows(2)
                    .any(|w| w.iter().all(u8::is_ascii_uppercase))
            }),
            Field::Object => v.is_object(),
        };
        (!ok).then_some(match self {
            Field::Str => "Input should be a valid string",
            Field::Int => "Input should be a valid integer",
            Field::Secret => "Invalid client_secret parameter",
            Field::Medium => "Input should be 'email' or 'msisdn'",
            Field::Country => "Input should be a two-letter country code",
            Field::Object => "Input should be an object",
        })
    }
}

/// Check `body` as Synapse's `parse_and_validate_json_object_from_request` does: every
/// `required` field present with its type, every `optional` one absent, null or typed. One
/// missing field answers 400 `M_MISSING_PARAM`; any other problem (or several) 400
/// `M_BAD_JSON`; the message names each field.
pub fn check_body(
    body: &Map<String, Value>,
    required: &[(&str, Field)],
    optional: &[(&str, Field)],
) -> MatrixResult<()> {
    let mut problems: Vec<(bool, String)> = Vec::new();
    for (key, field) in required {
        match body.get(*key) {
            None => problems.push((true, format!("{key}: Field required"))),
            Some(v) => problems.extend(field.problem(v).map(|p| (false, format!("{key}: {p}")))),
        }
    }
    for (key, field) in optional {
        if let Some(v) = body.get(*key).filter(|v| !v.is_null()) {
            problems.extend(field.problem(v).map(|p| (false, format!("{key}: {p}"))));
        }
    }
    let errcode = match &problems[..] {
        [] => return Ok(()),
        [(true, _)] => "M_MISSING_PARAM",
        _ => "M_BAD_JSON",
    };
    let message: Vec<String> = problems.into_iter().map(|(_, m)| m).collect();
    Err(MatrixError::new(
        StatusCode::BAD_REQUEST,
        errcode,
        message.join("; "),
    ))
}

/// The common fields of a `requestToken` body (Synapse's `ThreepidRequestTokenBody`), then
/// `extra`; 400 `M_INVALID_PARAM` for an `id_server` without `id_access_token`.
fn check_token_body(body: &Map<String, Value>, extra: &[(&str, Field)]) -> MatrixResult<()> {
    let mut required = vec![
        ("client_secret", Field::Secret),
        ("send_attempt", Field::Int),
    ];
    required.extend_from_slice(extra);
    let optional = [
        ("id_server", Field::Str),
        ("id_access_token", Field::Str),
        ("next_link", Field::Str),
    ];
    check_body(body, &required, &optional)?;
    let given = |k: &str| body.get(k).is_some_and(|v| !v.is_null());
    if given("id_server") && !given("id_access_token") {
        return Err(MatrixError::invalid_param(
            "Value error, id_access_token is required if an id_server is supplied.",
        ));
    }
    Ok(())
}

fn text<'a>(body: &'a Map<String, Value>, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Which `requestToken` endpoint.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TokenRequest {
    /// `POST /account/3pid/email/requestToken`.
    AccountEmail,
    /// `POST /account/3pid/msisdn/requestToken`.
    AccountMsisdn,
    /// `POST /register/email/requestToken`.
    RegisterEmail,
    /// `POST /register/msisdn/requestToken`.
    RegisterMsisdn,
}

/// 400 `M_THREEPID_AUTH_FAILED` "No validated 3pid session found": what `/account/3pid/add`
/// (after interactive auth) and `/account/3pid` answer, since no session is ever validated.
pub fn no_validated_session() -> MatrixError {
    MatrixError::new(
        StatusCode::BAD_REQUEST,
        "M_THREEPID_AUTH_FAILED",
        "No validated 3pid session found",
    )
}

impl AppState {
    /// The error `which` answers for `body`, after Synapse's checks in Synapse's order:
    /// - email (both): 400 `M_THREEPID_MEDIUM_NOT_SUPPORTED` "Adding an email to your account
    ///   is disabled on this server" (account) or `M_UNKNOWN` "Email-based registration has
    ///   been disabled on this server" (registration), before the body is read, as Synapse
    ///   without an email configuration (so `is_3pid_allowed` is not asked);
    /// - msisdn: body errors (400), the phone number (400 `M_INVALID_PARAM`), then
    ///   `is_3pid_allowed(msisdn, number, registration)` (403 `M_THREEPID_DENIED`), a number
    ///   already bound (400 `M_THREEPID_IN_USE`), and last the missing msisdn delegate (400).
    pub async fn request_token_refusal(
        &self,
        which: TokenRequest,
        body: &Map<String, Value>,
    ) -> MatrixError {
        match self.request_token_checks(which, body).await {
            Err(e) => e,
            Ok(()) => match which {
                TokenRequest::AccountEmail => MatrixError::new(
                    StatusCode::BAD_REQUEST,
                    "M_THREEPID_MEDIUM_NOT_SUPPORTED",
                    "Adding an email to your account is disabled on this server",
                ),
                TokenRequest::RegisterEmail => MatrixError::new(
                    StatusCode::BAD_REQUEST,
                    "M_UNKNOWN",
                    "Email-based registration has been disabled on this server",
                ),
                TokenRequest::AccountMsisdn => MatrixError::new(
                    StatusCode::BAD_REQUEST,
                    "M_THREEPID_MEDIUM_NOT_SUPPORTED",
                    "Adding phone numbers to user account is not supported by this homeserver",
                ),
                TokenRequest::RegisterMsisdn => MatrixError::new(
                    StatusCode::BAD_REQUEST,
                    "M_UNKNOWN",
                    "Registration by phone number is not supported on this homeserver",
                ),
            },
        }
    }

    /// The msisdn checks before the final refusal (none for email).
    async fn request_token_checks(
        &self,
        which: TokenRequest,
        body: &Map<String, Value>,
    ) -> MatrixResult<()> {
        let registration = which == TokenRequest::RegisterMsisdn;
        match which {
            TokenRequest::AccountEmail | TokenRequest::RegisterEmail => return Ok(()),
            TokenRequest::AccountMsisdn => check_token_body(
                body,
                &[("country", Field::Country), ("phone_number", Field::Str)],
            )?,
            TokenRequest::RegisterMsisdn => {
                let keys = ["client_secret", "country", "phone_number", "send_attempt"];
                let missing: Vec<&str> = keys
                    .into_iter()
                    .filter(|k| !body.contains_key(*k))
                    .collect();
                if !missing.is_empty() {
                    return Err(missing_params(&missing));
                }
                check_client_secret(body.get("client_secret"))?;
            }
        }
        let msisdn = phone_number_to_msisdn(text(body, "country"), text(body, "phone_number"))?;
        if !self
            .check_3pid_allowed("msisdn", &msisdn, registration)
            .await?
        {
            return Err(MatrixError::new(
                StatusCode::FORBIDDEN,
                "M_THREEPID_DENIED",
                if registration {
                    "Phone numbers are not authorized to register on this server"
                } else {
                    "Account phone numbers are not authorized on this server"
                },
            ));
        }
        if !registration && text(body, "next_link").starts_with("file:") {
            return Err(MatrixError::invalid_param(
                "'next_link' domain not included in whitelist, or not http(s)",
            ));
        }
        if self
            .store
            .user_by_threepid("msisdn", &msisdn)
            .await?
            .is_some()
        {
            return Err(MatrixError::new(
                StatusCode::BAD_REQUEST,
                "M_THREEPID_IN_USE",
                if registration {
                    "Phone number is already in use"
                } else {
                    "MSISDN is already in use"
                },
            ));
        }
        Ok(())
    }
}

/// Synapse's `assert_valid_client_secret`: 1 to 255 characters of `[0-9a-zA-Z.=_-]`, else
/// 400 `M_INVALID_PARAM` "Invalid client_secret parameter".
pub fn check_client_secret(secret: Option<&Value>) -> MatrixResult<()> {
    let valid = secret.and_then(Value::as_str).is_some_and(|s| {
        (1..=255).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".=_-".contains(c))
    });
    if valid {
        Ok(())
    } else {
        Err(MatrixError::invalid_param(
            "Invalid client_secret parameter",
        ))
    }
}

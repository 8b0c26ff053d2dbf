//! The second factor (issue #11): enrolment under `/users/me/mfa/*`, the login step at
//! `/auth/mfa`. The rules are in `crate::service` (`mfa`, `mfa_login`).

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::domain::ClientInfo;
use crate::http::dto::{TokenResponse, Transport};
use crate::http::dto_mfa::{
    DisableTotpRequest, EnrolTotpRequest, MfaLoginRequest, RecoveryCodesResponse, TotpCodeRequest,
    TotpEnrolmentResponse,
};
use crate::http::extract::EnrollingUser;
use crate::http::json::JsonObject;
use crate::http::problem::Problem;
use crate::http::routes::auth::token_answer;
use crate::service::{AuthState, COOKIE_MFA_PREFIX, CurrentUser, Error, MfaAnswer, Result};

/// A body with secrets in it, never cached.
fn secret_json(body: impl serde::Serialize) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// Start TOTP enrolment: a new secret, its `otpauth://` URI and a QR code. The factor stays
/// pending (logins do not ask for it) until confirmed; enrolling again replaces a pending one.
/// The secret is shown only here. **Required role:** any signed-in user (also a restricted
/// token of AUTHGATE_REQUIRE_MFA_ROLES).
#[utoipa::path(post, path = "/users/me/mfa/totp", tag = "users", security(("oauth2" = []), ("bearer" = [])), request_body = EnrolTotpRequest,
    responses((status = 200, body = TotpEnrolmentResponse), (status = 401, body = Problem, description = "wrong current password"),
              (status = 409, body = Problem, description = "two-factor is already on"),
              (status = 429, body = Problem, description = "too many password attempts; see Retry-After")))]
pub async fn enrol_totp(
    State(auth): State<AuthState>,
    EnrollingUser(user): EnrollingUser,
    client: ClientInfo,
    JsonObject(req): JsonObject<EnrolTotpRequest>,
) -> Result<Response> {
    let enrolment = auth
        .begin_totp_enrolment(user.id, &req.current_password, &client)
        .await?;
    Ok(secret_json(TotpEnrolmentResponse::from(enrolment)))
}

/// Confirm enrolment with the first code: the factor is on from now, and the answer holds ten
/// recovery codes, shown only here. Every other session ends; the caller's counts as having
/// passed the second factor (the answer carries its new access token). The code used here
/// cannot sign in. **Required role:** any signed-in user (also a restricted token).
#[utoipa::path(post, path = "/users/me/mfa/totp/confirm", tag = "users", security(("oauth2" = []), ("bearer" = [])), request_body = TotpCodeRequest,
    responses((status = 200, body = RecoveryCodesResponse), (status = 401, body = Problem, description = "`invalid_otp`: wrong or reused code"),
              (status = 404, body = Problem, description = "no pending enrolment"),
              (status = 429, body = Problem, description = "second factor locked after failed codes; see Retry-After")))]
pub async fn confirm_totp(
    State(auth): State<AuthState>,
    EnrollingUser(user): EnrollingUser,
    client: ClientInfo,
    JsonObject(req): JsonObject<TotpCodeRequest>,
) -> Result<Response> {
    let confirmed = auth
        .confirm_totp(user.id, user.session_id, &req.code, &client)
        .await?;
    Ok(secret_json(RecoveryCodesResponse::from(confirmed)))
}

/// Ten new recovery codes for a current authenticator code; the old ones stop working.
/// **Required role:** any signed-in user.
#[utoipa::path(post, path = "/users/me/mfa/recovery-codes", tag = "users", security(("oauth2" = []), ("bearer" = [])), request_body = TotpCodeRequest,
    responses((status = 200, body = RecoveryCodesResponse), (status = 401, body = Problem, description = "`invalid_otp`: wrong or reused code"),
              (status = 403, body = Problem, description = "`mfa_enrolment_required`: a restricted token"),
              (status = 404, body = Problem, description = "two-factor is off"),
              (status = 429, body = Problem, description = "second factor locked after failed codes; see Retry-After")))]
pub async fn regenerate_recovery_codes(
    State(auth): State<AuthState>,
    user: CurrentUser,
    client: ClientInfo,
    JsonObject(req): JsonObject<TotpCodeRequest>,
) -> Result<Response> {
    let codes = auth
        .regenerate_recovery_codes(user.id, &req.code, &client)
        .await?;
    Ok(secret_json(RecoveryCodesResponse {
        recovery_codes: codes,
        access_token: None,
        expires_in: None,
    }))
}

/// Turn two-factor off: the current password and an authenticator code (or a recovery
/// code). The recovery codes die with it; the owner is mailed. **Required role:** any
/// signed-in user.
#[utoipa::path(delete, path = "/users/me/mfa/totp", tag = "users", security(("oauth2" = []), ("bearer" = [])), request_body = DisableTotpRequest,
    responses((status = 204), (status = 401, body = Problem, description = "wrong current password (`invalid_credentials`) or code (`invalid_otp`)"),
              (status = 403, body = Problem, description = "`mfa_enrolment_required`: a restricted token"),
              (status = 404, body = Problem, description = "two-factor is off"),
              (status = 429, body = Problem, description = "too many attempts; see Retry-After")))]
pub async fn disable_totp(
    State(auth): State<AuthState>,
    user: CurrentUser,
    client: ClientInfo,
    JsonObject(req): JsonObject<DisableTotpRequest>,
) -> Result<StatusCode> {
    auth.disable_totp(user.id, &req.current_password, &req.code, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The second step of a login: the `mfa_token` of the `mfa_required` answer and a code from
/// the authenticator app (`code`), a recovery code (`recovery_code`), or a passkey's answer
/// (`passkey`, see `POST /auth/mfa/passkey/start`). The answer is the usual token pair, with
/// `amr: ["pwd","otp"]` (a passkey: `["pwd","hwk"]`) and `aal: 2` in the access token. An
/// `mfa_token` takes 5 answers in its 5 minutes. A login with `"transport": "cookie"` ends
/// here the same way: the refresh token in the cookie, not in the answer.
/// **Required role:** none.
#[utoipa::path(post, path = "/auth/mfa", tag = "auth", request_body = MfaLoginRequest,
    responses((status = 200, body = TokenResponse, description = "the tokens; for a cookie login without `refresh_token`, and with `Set-Cookie` for the refresh and CSRF cookies"),
              (status = 401, body = Problem, description = "`invalid_otp`: wrong or reused code; `invalid_passkey`: the passkey did not verify; `invalid_mfa_token`: sign in with the password again"),
              (status = 429, body = Problem, description = "second factor locked after failed codes, or rate limit; see Retry-After")))]
pub async fn mfa_login(
    State(auth): State<AuthState>,
    client: ClientInfo,
    OriginalUri(uri): OriginalUri,
    JsonObject(req): JsonObject<MfaLoginRequest>,
) -> Result<Response> {
    let answer = match (&req.code, &req.recovery_code, &req.passkey) {
        (Some(code), None, None) => MfaAnswer::Otp(code),
        (None, Some(code), None) => MfaAnswer::RecoveryCode(code),
        (None, None, Some(p)) => MfaAnswer::Passkey {
            ceremony_id: p.ceremony_id,
            credential: &p.credential,
        },
        _ => {
            return Err(Error::field(
                "code",
                "send exactly one of code (from the authenticator app), recovery_code or passkey",
            ));
        }
    };
    let tokens = auth.complete_mfa(&req.mfa_token, answer, client).await?;
    // The token was accepted, so its prefix is the one the login set (the hash covers it).
    let transport = if req.mfa_token.trim().starts_with(COOKIE_MFA_PREFIX) {
        Transport::Cookie
    } else {
        Transport::Body
    };
    token_answer(&auth, tokens, transport, uri.path())
}

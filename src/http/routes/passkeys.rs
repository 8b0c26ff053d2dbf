//! Passkeys (WebAuthn, issue #13): registering and managing them under `/users/me/passkeys`,
//! the username-less sign-in at `/auth/passkey/*`, and the second-factor step's passkey
//! challenge at `/auth/mfa/passkey/start`. The rules are in `crate::service` (`passkeys`).
//!
//! Every ceremony is two calls: `…/start` answers a `ceremony_id` and the `options` to pass
//! (base64url fields decoded to bytes) to `navigator.credentials.create` or `.get`; `…/finish`
//! takes the `ceremony_id` and the credential the browser returned (`PublicKeyCredential`
//! as JSON, binary fields base64url, as `PublicKeyCredential.toJSON()` writes it). A ceremony
//! lives 5 minutes and is finished once.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::ClientInfo;
use crate::http::dto::TokenResponse;
use crate::http::json::JsonObject;
use crate::http::problem::Problem;
use crate::http::routes::auth::no_store;
use crate::service::{AuthState, CurrentUser, Error, PasskeyCeremony, PasskeyInfo, Result};

/// A ceremony begun.
#[derive(Serialize, ToSchema)]
pub struct CeremonyResponse {
    /// Send it back with the finish.
    pub ceremony_id: Uuid,
    /// For `navigator.credentials.create` / `.get`: `{"publicKey": {…}}` with binary fields
    /// (challenge, user id, credential ids) in base64url.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    /// Seconds the ceremony lives.
    pub expires_in: i64,
}

impl From<PasskeyCeremony> for CeremonyResponse {
    fn from(c: PasskeyCeremony) -> Self {
        Self {
            ceremony_id: c.ceremony_id,
            options: c.options,
            expires_in: 300,
        }
    }
}

fn no_store_json(body: impl Serialize, status: StatusCode) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// One of the user's passkeys.
#[derive(Serialize, ToSchema)]
pub struct PasskeyBody {
    pub id: Uuid,
    pub name: String,
    /// The WebAuthn credential id, base64url.
    pub credential_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last sign-in or second factor with it.
    pub last_used_at: Option<i64>,
    /// The authenticator's signature counter (0 for the many that keep none).
    pub sign_count: i64,
    /// The passkey may be synced between devices.
    pub backup_eligible: bool,
    /// The passkey is synced (backed up).
    pub backup_state: bool,
}

impl From<PasskeyInfo> for PasskeyBody {
    fn from(p: PasskeyInfo) -> Self {
        Self {
            id: p.id,
            name: p.name,
            credential_id: p.credential_id,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            sign_count: p.sign_count,
            backup_eligible: p.backup_eligible,
            backup_state: p.backup_state,
        }
    }
}

/// `GET /users/me/passkeys`.
#[derive(Serialize, ToSchema)]
pub struct PasskeyList {
    pub items: Vec<PasskeyBody>,
}

/// `POST /users/me/passkeys/register/start`.
#[derive(Deserialize, ToSchema, Default)]
pub struct RegisterStartRequest {
    /// Required unless the caller's token passed a second factor (`aal` 2: a passkey or TOTP
    /// sign-in): so a stolen access token alone cannot add the thief's passkey.
    pub current_password: Option<String>,
}

/// `POST /users/me/passkeys/register/finish`.
#[derive(Deserialize, ToSchema)]
pub struct RegisterFinishRequest {
    pub ceremony_id: Uuid,
    /// What `navigator.credentials.create` returned, as JSON (binary fields base64url).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// A name for it (1 to 64 characters); default `Passkey`.
    #[schema(min_length = 1, max_length = 64)]
    pub name: Option<String>,
}

/// `PATCH /users/me/passkeys/{id}`.
#[derive(Deserialize, ToSchema)]
pub struct RenamePasskeyRequest {
    /// 1 to 64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
}

/// `POST /auth/passkey/finish`.
#[derive(Deserialize, ToSchema)]
pub struct PasskeySigninRequest {
    pub ceremony_id: Uuid,
    /// What `navigator.credentials.get` returned, as JSON (binary fields base64url).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// Keep the session for the remember-me lifetime.
    #[serde(default)]
    pub remember_me: bool,
}

/// `POST /auth/mfa/passkey/start`.
#[derive(Deserialize, ToSchema)]
pub struct MfaPasskeyStartRequest {
    /// The `mfa_token` of the login's `mfa_required` answer.
    pub mfa_token: String,
}

/// Start adding a passkey: the options for `navigator.credentials.create` (the user's own
/// passkeys excluded). With `current_password` unless the token is `aal` 2. **Required
/// role:** any signed-in user.
#[utoipa::path(post, path = "/users/me/passkeys/register/start", tag = "passkeys", security(("oauth2" = []), ("bearer" = [])),
    request_body = RegisterStartRequest,
    responses((status = 200, body = CeremonyResponse),
              (status = 401, body = Problem, description = "no valid token, or a wrong current password"),
              (status = 403, body = Problem, description = "passkeys are off: AUTHGATE_PUBLIC_URL has no host name; or `mfa_enrolment_required`"),
              (status = 422, body = Problem, description = "`current_password` missing, or the account has 20 passkeys"),
              (status = 429, body = Problem, description = "too many password attempts; see Retry-After")))]
pub async fn register_start(
    State(auth): State<AuthState>,
    user: CurrentUser,
    client: ClientInfo,
    JsonObject(req): JsonObject<RegisterStartRequest>,
) -> Result<Response> {
    let ceremony = auth
        .begin_passkey_registration(&user, req.current_password.as_deref(), &client)
        .await?;
    Ok(no_store_json(
        CeremonyResponse::from(ceremony),
        StatusCode::OK,
    ))
}

/// Finish adding a passkey with what `navigator.credentials.create` returned. **Required
/// role:** any signed-in user (the one who started the ceremony, in the same session).
#[utoipa::path(post, path = "/users/me/passkeys/register/finish", tag = "passkeys", security(("oauth2" = []), ("bearer" = [])),
    request_body = RegisterFinishRequest,
    responses((status = 201, body = PasskeyBody),
              (status = 400, body = Problem, description = "`credential` is not a WebAuthn registration response"),
              (status = 401, body = Problem, description = "`invalid_passkey`: the ceremony is unknown, used, expired or another session's, or the credential does not verify (origin, RP id, challenge, user verification)"),
              (status = 403, body = Problem, description = "passkeys are off, or `mfa_enrolment_required`"),
              (status = 409, body = Problem, description = "this passkey is registered already"),
              (status = 422, body = Problem, description = "a bad name, or the account has 20 passkeys")))]
pub async fn register_finish(
    State(auth): State<AuthState>,
    user: CurrentUser,
    client: ClientInfo,
    JsonObject(req): JsonObject<RegisterFinishRequest>,
) -> Result<Response> {
    let passkey = auth
        .finish_passkey_registration(
            user.id,
            user.session_id,
            req.ceremony_id,
            &req.credential,
            req.name.as_deref(),
            &client,
        )
        .await?;
    Ok(no_store_json(
        PasskeyBody::from(passkey),
        StatusCode::CREATED,
    ))
}

/// The caller's passkeys, oldest first. **Required role:** any signed-in user.
#[utoipa::path(get, path = "/users/me/passkeys", tag = "passkeys", security(("oauth2" = []), ("bearer" = [])),
    responses((status = 200, body = PasskeyList), (status = 401, body = Problem),
              (status = 403, body = Problem, description = "`mfa_enrolment_required`")))]
pub async fn list(State(auth): State<AuthState>, user: CurrentUser) -> Result<Json<PasskeyList>> {
    let items = auth
        .passkeys(user.id)
        .await?
        .into_iter()
        .map(PasskeyBody::from)
        .collect();
    Ok(Json(PasskeyList { items }))
}

fn passkey_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| Error::NotFound("passkey"))
}

/// Rename one of the caller's passkeys. **Required role:** any signed-in user (own passkeys).
#[utoipa::path(patch, path = "/users/me/passkeys/{id}", tag = "passkeys", security(("oauth2" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "passkey id")), request_body = RenamePasskeyRequest,
    responses((status = 200, body = PasskeyBody), (status = 401, body = Problem),
              (status = 403, body = Problem, description = "`mfa_enrolment_required`"),
              (status = 404, body = Problem, description = "no such passkey of yours"),
              (status = 422, body = Problem, description = "a bad name")))]
pub async fn rename(
    State(auth): State<AuthState>,
    user: CurrentUser,
    Path(id): Path<String>,
    JsonObject(req): JsonObject<RenamePasskeyRequest>,
) -> Result<Json<PasskeyBody>> {
    let id = passkey_id(&id)?;
    let passkey = auth.rename_passkey(user.id, id, &req.name).await?;
    Ok(Json(passkey.into()))
}

/// Remove one of the caller's passkeys. **Required role:** any signed-in user (own passkeys).
#[utoipa::path(delete, path = "/users/me/passkeys/{id}", tag = "passkeys", security(("oauth2" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "passkey id")),
    responses((status = 204), (status = 401, body = Problem),
              (status = 403, body = Problem, description = "`mfa_enrolment_required`"),
              (status = 404, body = Problem, description = "no such passkey of yours")))]
pub async fn remove(
    State(auth): State<AuthState>,
    user: CurrentUser,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = passkey_id(&id)?;
    auth.delete_passkey(user.id, id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start a sign-in with a passkey, no username: the options for `navigator.credentials.get`
/// (any discoverable passkey of this site). Counts against the per-IP login limit.
/// **Required role:** none.
#[utoipa::path(post, path = "/auth/passkey/start", tag = "passkeys",
    responses((status = 200, body = CeremonyResponse),
              (status = 403, body = Problem, description = "passkeys are off: AUTHGATE_PUBLIC_URL has no host name"),
              (status = 429, body = Problem, description = "rate limit; see Retry-After")))]
pub async fn signin_start(State(auth): State<AuthState>, client: ClientInfo) -> Result<Response> {
    let ceremony = auth.start_passkey_signin(&client).await?;
    Ok(no_store_json(
        CeremonyResponse::from(ceremony),
        StatusCode::OK,
    ))
}

/// Finish a passkey sign-in: the usual token pair, with `amr: ["hwk","user"]` and `aal: 2`
/// (a passkey verifies its user, so no second factor is asked). **Required role:** none.
#[utoipa::path(post, path = "/auth/passkey/finish", tag = "passkeys", request_body = PasskeySigninRequest,
    responses((status = 200, body = TokenResponse),
              (status = 400, body = Problem, description = "`credential` is not a WebAuthn assertion"),
              (status = 401, body = Problem, description = "`invalid_passkey`: unknown passkey, a ceremony unknown, used or expired, or an assertion that does not verify"),
              (status = 403, body = Problem, description = "the account is deactivated, or its address is unverified while AUTHGATE_REQUIRE_VERIFIED_EMAIL is on; or passkeys are off"),
              (status = 429, body = Problem, description = "rate limit; see Retry-After")))]
pub async fn signin_finish(
    State(auth): State<AuthState>,
    client: ClientInfo,
    JsonObject(req): JsonObject<PasskeySigninRequest>,
) -> Result<Response> {
    let tokens = auth
        .finish_passkey_signin(req.ceremony_id, &req.credential, req.remember_me, client)
        .await?;
    Ok(no_store(tokens))
}

/// Answer the login's second step with a passkey instead of a code: the options for
/// `navigator.credentials.get` (the account's passkeys). Then send `mfa_token` and
/// `passkey: {ceremony_id, credential}` to `POST /auth/mfa`. Counts as one of the
/// `mfa_token`'s attempts. **Required role:** none.
#[utoipa::path(post, path = "/auth/mfa/passkey/start", tag = "passkeys", request_body = MfaPasskeyStartRequest,
    responses((status = 200, body = CeremonyResponse),
              (status = 401, body = Problem, description = "`invalid_mfa_token`: sign in with the password again"),
              (status = 403, body = Problem, description = "passkeys are off"),
              (status = 404, body = Problem, description = "the account has no passkey"),
              (status = 429, body = Problem, description = "rate limit; see Retry-After")))]
pub async fn mfa_start(
    State(auth): State<AuthState>,
    client: ClientInfo,
    JsonObject(req): JsonObject<MfaPasskeyStartRequest>,
) -> Result<Response> {
    let ceremony = auth.start_mfa_passkey(&req.mfa_token, &client).await?;
    Ok(no_store_json(
        CeremonyResponse::from(ceremony),
        StatusCode::OK,
    ))
}

//! The first tutorial's API (fullstackbook-jwt-fastapi), served by a host app on top of authgate,
//! so that tutorial's Next.js frontend works against it unchanged.
//!
//! Run: `cargo run --release --example tutorial_app` (same settings as the server: AUTHGATE_BIND,
//! DATABASE_URL, AUTHGATE_CORS_ORIGINS=http://localhost:3000 for the frontend, …).
//!
//! It shows the library in use: the whole authgate API mounted under `/authgate`, the
//! tutorial's sign-up and sign-in built on `AuthState::register` / `AuthState::login`, and its
//! role-guarded test routes protected with the `CurrentUser` and `RequireRole` extractors.

use std::net::SocketAddr;

use authgate::{
    Admin, AppJson, AuthState, ClientInfo, CurrentUser, Error, Housekeeping, Moderator,
    RequireRole, ServerLayers, Settings, UserRole, apply_server_layers,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// `POST /api/auth/signup` body (the tutorial's `UserIn`).
#[derive(Deserialize)]
struct SignUp {
    username: String,
    email: String,
    password: String,
}

/// The tutorial's `UserRead`.
#[derive(Serialize)]
struct UserRead {
    username: String,
    email: String,
}

/// `POST /api/auth/signin` body (the tutorial's `SignInRequest`).
#[derive(Deserialize)]
struct SignIn {
    username: String,
    password: String,
}

/// The tutorial's `TokenJson`.
#[derive(Serialize)]
struct TokenJson {
    token: String,
    token_type: &'static str,
}

/// The tutorial's `Token`.
#[derive(Serialize)]
struct Token {
    access_token: String,
    token_type: &'static str,
}

/// FastAPI's `OAuth2PasswordRequestForm`: `grant_type` is optional but must be "password" if sent.
#[derive(Deserialize)]
struct PasswordForm {
    grant_type: Option<String>,
    username: String,
    password: String,
}

async fn signup(
    State(auth): State<AuthState>,
    client: ClientInfo,
    AppJson(req): AppJson<SignUp>,
) -> Result<Json<UserRead>, Error> {
    let user = auth
        .register(&req.email, req.password, Some(&req.username), &client)
        .await?;
    Ok(Json(UserRead {
        username: user.username.unwrap_or_default(),
        email: user.email,
    }))
}

async fn signin(
    State(auth): State<AuthState>,
    client: ClientInfo,
    AppJson(req): AppJson<SignIn>,
) -> Result<Json<TokenJson>, Error> {
    let tokens = auth
        .login(&req.username, &req.password, false, client)
        .await
        .map_err(hide_inactive)?;
    Ok(Json(TokenJson {
        token: tokens.access_token,
        token_type: "bearer",
    }))
}

async fn token(
    State(auth): State<AuthState>,
    client: ClientInfo,
    body: Bytes,
) -> Result<Json<Token>, Error> {
    let form: PasswordForm = serde_urlencoded::from_bytes(&body).map_err(|e| {
        Error::field(
            "body",
            format!("expected form fields username and password: {e}"),
        )
    })?;
    if form.grant_type.as_deref().is_some_and(|g| g != "password") {
        return Err(Error::field("grant_type", "must be \"password\""));
    }
    let tokens = auth
        .login(&form.username, &form.password, false, client)
        .await
        .map_err(hide_inactive)?;
    Ok(Json(Token {
        access_token: tokens.access_token,
        token_type: "bearer",
    }))
}

/// The tutorial answers 401 for any failed sign-in.
fn hide_inactive(e: Error) -> Error {
    match e {
        Error::Deactivated => Error::InvalidCredentials,
        other => other,
    }
}

async fn profile(
    State(auth): State<AuthState>,
    user: CurrentUser,
) -> Result<Json<UserRead>, Error> {
    let me = auth.user(user.id).await?;
    Ok(Json(UserRead {
        username: me.username.unwrap_or_default(),
        email: me.email,
    }))
}

async fn all_content() -> Json<&'static str> {
    Json("public content")
}

async fn user_content(_: RequireRole<UserRole>) -> Json<&'static str> {
    Json("user content")
}

async fn moderator_content(_: RequireRole<Moderator>) -> Json<&'static str> {
    Json("moderator content")
}

async fn admin_content(_: RequireRole<Admin>) -> Json<&'static str> {
    Json("admin content")
}

/// The host app: the tutorial's routes plus all of authgate under `/authgate`.
pub fn app(auth: AuthState) -> Router {
    Router::new()
        .route("/api/auth/signup", post(signup))
        .route("/api/auth/signin", post(signin))
        .route("/api/auth/token", post(token))
        .route("/api/auth/users/me", get(profile))
        .route("/api/test/profile", get(profile))
        .route("/api/test/all", get(all_content))
        .route("/api/test/user", get(user_content))
        .route("/api/test/mod", get(moderator_content))
        .route("/api/test/admin", get(admin_content))
        .nest("/authgate", authgate::router())
        .with_state(auth)
}

/// The host app with the same middleware as the authgate server (CORS from settings included),
/// and its housekeeping: revocations made by the CLI or another instance reach this process
/// only while the handle is kept.
pub async fn build(settings: &Settings) -> anyhow::Result<(Router, Housekeeping)> {
    let auth = AuthState::from_settings(settings).await?;
    let housekeeping = auth.start_housekeeping();
    let layers = ServerLayers::from_settings(settings);
    Ok((apply_server_layers(app(auth), &layers), housekeeping))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let settings = Settings::from_args(std::env::args().skip(1))?;
    authgate::init_tracing(settings.log_format);
    let (router, _housekeeping) = build(&settings).await?;
    let listener = tokio::net::TcpListener::bind(settings.bind).await?;
    println!(
        "tutorial app listening on http://{}",
        listener.local_addr()?
    );
    // The connect info is the client address; without it authgate's routes refuse to serve
    // (no per-IP limit could apply).
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

//! The HTTP API: routes (documented with OpenAPI as they are declared), the docs UI, and the
//! middleware a standalone server wraps them in.

pub(crate) mod client_ip;
pub(crate) mod cookies;
pub(crate) mod dto;
pub(crate) mod dto_mfa;
mod extract;
mod json;
mod middleware;
mod oauth;
mod openapi;
mod pages;
mod problem;
mod routes;

use axum::Router;
use axum::extract::FromRef;
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::{Config, SwaggerUi};

pub use crate::service::CurrentUser;
pub(crate) use cookies::cookie_security;
pub use extract::{
    Admin, Moderator, RequireMfa, RequireRole, RoleLayer, RoleMarker, UserRole, require_mfa,
    require_role,
};
pub use json::AppJson;
pub use middleware::{ServerLayers, apply_server_layers};

use crate::service::AuthState;
use routes::{admin, auth, feed, meta, mfa, passkeys, recovery, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "authgate", description = "JWT authentication server: registration, OAuth2 password login, rotating refresh tokens, revocation, roles."),
    modifiers(&SecuritySchemes),
    components(schemas(crate::service::ErrorCode, problem::Problem, oauth::OAuthError)),
    tags((name = "auth", description = "Sign-up, sign-in, tokens, sign-out"),
         (name = "users", description = "The signed-in user's own account"),
         (name = "passkeys", description = "Passkeys (WebAuthn): adding and managing them, signing in with one, a passkey as the second factor"),
         (name = "admin", description = "User and role management"),
         (name = "discovery", description = "Keys and metadata for verifying our tokens"),
         (name = "health", description = "Liveness and readiness"),
         (name = "pages", description = "Hosted HTML pages: sign-in, sign-up, account, and the links authgate mails (no JavaScript needed but for passkeys)"))
)]
struct ApiDoc;

/// Declares the two ways to send a token: the OAuth2 password flow (what Swagger UI's Authorize
/// button uses, against `/auth/token`) and a plain bearer JWT.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                "/auth/token",
                Scopes::new(),
            ))])),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        // What services verifying tokens elsewhere present to read the revocation feed.
        components.add_security_scheme(
            "verifier",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("authgate verifier credential (agv_…)")
                    .description(Some("created by `authgate verifier create NAME`"))
                    .build(),
            ),
        );
    }
}

fn api<S>() -> OpenApiRouter<S>
where
    AuthState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::register))
        .routes(routes!(auth::token))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::logout_all))
        .routes(routes!(mfa::mfa_login))
        .routes(routes!(recovery::forgot_password))
        .routes(routes!(recovery::reset_password))
        .routes(routes!(recovery::request_verification))
        .routes(routes!(recovery::verify_email))
        .routes(routes!(recovery::change_email))
        .routes(routes!(users::me, users::update_me))
        .routes(routes!(users::change_password))
        .routes(routes!(users::sessions))
        .routes(routes!(users::delete_session))
        .routes(routes!(mfa::enrol_totp, mfa::disable_totp))
        .routes(routes!(mfa::confirm_totp))
        .routes(routes!(mfa::regenerate_recovery_codes))
        .routes(routes!(passkeys::register_start))
        .routes(routes!(passkeys::register_finish))
        .routes(routes!(passkeys::list))
        .routes(routes!(passkeys::rename, passkeys::remove))
        .routes(routes!(passkeys::signin_start))
        .routes(routes!(passkeys::signin_finish))
        .routes(routes!(passkeys::mfa_start))
        .routes(routes!(admin::list_users))
        .routes(routes!(
            admin::get_user,
            admin::update_user,
            admin::delete_user
        ))
        .routes(routes!(admin::unlock_user))
        .routes(routes!(admin::reset_mfa))
        .routes(routes!(admin::send_reset))
        .routes(routes!(admin::user_sessions))
        .routes(routes!(admin::revoke_user_session))
        .routes(routes!(admin::audit_log))
        .routes(routes!(admin::list_roles, admin::create_role))
        .routes(routes!(feed::revocations))
        .routes(routes!(feed::revocation_stream))
        .routes(routes!(meta::jwks))
        .routes(routes!(meta::authorization_server_metadata))
        .routes(routes!(meta::openid_configuration))
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::readyz))
        .routes(routes!(
            pages::recovery::reset_password_page,
            pages::recovery::reset_password_submit
        ))
        .routes(routes!(
            pages::recovery::verify_email_page,
            pages::recovery::verify_email_submit
        ))
        .routes(routes!(
            pages::signin::signin_page,
            pages::signin::signin_submit
        ))
        .routes(routes!(pages::signin::signin_mfa_submit))
        .routes(routes!(pages::passkeys::signin_start))
        .routes(routes!(pages::passkeys::signin_finish))
        .routes(routes!(pages::passkeys::mfa_start))
        .routes(routes!(pages::passkeys::mfa_finish))
        .routes(routes!(pages::passkeys::script))
        .routes(routes!(pages::signin::signout))
        .routes(routes!(
            pages::signup::signup_page,
            pages::signup::signup_submit
        ))
        .routes(routes!(
            pages::signup::forgot_password_page,
            pages::signup::forgot_password_submit
        ))
        .routes(routes!(pages::account::account_page))
        .routes(routes!(pages::account::profile_submit))
        .routes(routes!(pages::account::password_submit))
        .routes(routes!(pages::account::email_submit))
        .routes(routes!(pages::account::end_device))
        .routes(routes!(pages::account::end_all_devices))
        .routes(routes!(pages::account::mfa_enrol))
        .routes(routes!(pages::account::mfa_confirm))
        .routes(routes!(pages::account::mfa_disable))
        .routes(routes!(pages::passkeys::account::register_start))
        .routes(routes!(pages::passkeys::account::register_finish))
        .routes(routes!(pages::passkeys::account::rename))
        .routes(routes!(pages::passkeys::account::remove))
        .merge(pages::admin::routes())
}

/// The whole authgate API as a router for any host state that contains an [`AuthState`].
/// Mount it with `Router::merge`, or under a prefix with `Router::nest`.
pub fn router<S>() -> Router<S>
where
    AuthState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    api::<S>()
        .split_for_parts()
        .0
        // The hosted pages' refreshed sessions set their cookies through this (see pages::session).
        .layer(axum::middleware::from_fn(pages::session::pending_cookies))
}

/// The OpenAPI document of [`router`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api::<AuthState>().split_for_parts().1;
    openapi::complete(&mut doc);
    doc
}

/// `GET /openapi.json` and the Swagger UI at `/docs`, served from the binary (no CDN).
pub fn docs<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let config = Config::new(["/openapi.json"])
        .validator_url("none")
        .persist_authorization(false);
    SwaggerUi::new("/docs")
        .url("/openapi.json", openapi())
        .config(config)
        .oauth(
            utoipa_swagger_ui::oauth::Config::new()
                .client_id("swagger-ui")
                .app_name("authgate"),
        )
        .into()
}

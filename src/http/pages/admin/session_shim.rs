//! TEMPORARY: a minimal stand-in for `crate::http::pages::session::PageSession` (helper `pages`,
//! branch `pages`), written to the interface of the pages design so the console could be built
//! and tested before the page session landed. It only *reads* a page session: the access JWT in
//! the `authgate_page_access` (or `__Host-authgate_page_access`) cookie, verified through
//! `AuthState::authenticate` like a bearer token. It does not sign in, refresh or set cookies.
//! Delete this file and point `super::PageSession` at the real extractor once `pages` is merged.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use uuid::Uuid;

use crate::service::{AuthState, CurrentUser};

/// The cookie names the page session's access token may come in.
const ACCESS_COOKIES: [&str; 2] = ["__Host-authgate_page_access", "authgate_page_access"];

/// A signed-in page user: who, which session, and a fresh CSRF token for forms.
pub struct PageSession {
    pub user: CurrentUser,
    pub session: Uuid,
    pub csrf: String,
}

/// The value of cookie `name`, if the request sent it.
fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// 303 to the sign-in page, coming back to what was asked for.
fn to_signin(parts: &Parts) -> Response {
    let asked = parts
        .uri
        .path_and_query()
        .map_or("/admin", |pq| pq.as_str());
    let location = format!(
        "/signin?return_to={}",
        utf8_percent_encode(asked, NON_ALPHANUMERIC)
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::try_from(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl<S> FromRequestParts<S> for PageSession
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = AuthState::from_ref(state);
        let token = ACCESS_COOKIES.iter().find_map(|name| cookie(parts, name));
        let Some(token) = token else {
            return Err(to_signin(parts));
        };
        let user = match auth.authenticate(token).await {
            Ok(user) if !user.must_enrol() => user,
            _ => return Err(to_signin(parts)),
        };
        let csrf = auth
            .csrf_token(user.session_id)
            .map_err(IntoResponse::into_response)?;
        Ok(Self {
            session: user.session_id,
            user,
            csrf,
        })
    }
}

//! The auth boundary: extractors that turn a bearer token into a [`CurrentUser`], generic over
//! the host app's state (anything that gives an [`AuthState`] through `FromRef`). The checks
//! themselves are `AuthState::authenticate`, in the service layer.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::domain::role;
use crate::service::{AuthState, CurrentUser, Error, TokenError};

/// The bearer token in the `Authorization` header: `None` if no credentials were sent at all.
fn bearer(parts: &Parts) -> Result<Option<&str>, Error> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    // Credentials were sent, so anything unusable here is an invalid token, not a missing one.
    let scheme_and_token = value.to_str().ok().and_then(|v| v.split_once(' '));
    match scheme_and_token {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(Error::Unauthenticated { token_sent: true }),
    }
}

/// The bearer token itself, unchecked (logout checks it its own way); 401 when none was sent.
pub(crate) struct BearerToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?.ok_or(Error::Unauthenticated { token_sent: false })?;
        Ok(Self(token.to_owned()))
    }
}

/// The caller, refusing the restricted state of AUTHGATE_REQUIRE_MFA_ROLES (403
/// `mfa_enrolment_required`): such a token reaches only the enrolment endpoints.
async fn current_user(parts: &Parts, state: &AuthState) -> Result<Option<CurrentUser>, Error> {
    match any_current_user(parts, state).await? {
        Some(user) if user.must_enrol() => Err(Error::MfaEnrolmentRequired),
        other => Ok(other),
    }
}

/// The caller, restricted state included.
async fn any_current_user(parts: &Parts, state: &AuthState) -> Result<Option<CurrentUser>, Error> {
    let Some(token) = bearer(parts)? else {
        return Ok(None);
    };
    match state.authenticate(token).await {
        Ok(user) => Ok(Some(user)),
        Err(TokenError::RevocationsStale) => Err(Error::Unavailable),
        Err(reason) => {
            tracing::debug!(%reason, "access token refused");
            Err(Error::Unauthenticated { token_sent: true })
        }
    }
}

impl<S> FromRequestParts<S> for CurrentUser
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let auth = AuthState::from_ref(state);
        current_user(parts, &auth)
            .await?
            .ok_or(Error::Unauthenticated { token_sent: false })
    }
}

/// `Option<CurrentUser>`: `None` only when no credentials were sent; a bad token is still 401.
impl<S> OptionalFromRequestParts<S> for CurrentUser
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(Some(user.clone()));
        }
        current_user(parts, &AuthState::from_ref(state)).await
    }
}

/// The caller at the endpoints a restricted token may reach (enrolment, `/users/me`).
pub(crate) struct EnrollingUser(pub CurrentUser);

impl<S> FromRequestParts<S> for EnrollingUser
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = AuthState::from_ref(state);
        any_current_user(parts, &auth)
            .await?
            .map(EnrollingUser)
            .ok_or(Error::Unauthenticated { token_sent: false })
    }
}

/// Step-up for one handler: 401 without a valid token, 403 `mfa_required` for a token whose
/// session did not pass the second factor (`aal` 1). Send the user through the login again
/// (password, then `POST /auth/mfa`).
pub struct RequireMfa(pub CurrentUser);

impl std::ops::Deref for RequireMfa {
    type Target = CurrentUser;
    fn deref(&self) -> &CurrentUser {
        &self.0
    }
}

impl<S> FromRequestParts<S> for RequireMfa
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = <CurrentUser as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        Guard::SecondFactor.check(&user)?;
        Ok(RequireMfa(user))
    }
}

/// What a [`RoleLayer`] checks.
#[derive(Clone, Copy)]
enum Guard {
    AnyRole(&'static [&'static str]),
    SecondFactor,
}

impl Guard {
    fn check(self, user: &CurrentUser) -> Result<(), Error> {
        match self {
            Guard::AnyRole(any_of) if !user.has_any_role(any_of) => {
                Err(Error::Forbidden("you do not have the role this needs"))
            }
            Guard::SecondFactor if !user.has_second_factor() => Err(Error::MfaRequired(None)),
            _ => Ok(()),
        }
    }
}

/// A role that can guard a handler through [`RequireRole`].
pub trait RoleMarker: Send + Sync + 'static {
    /// The roles that satisfy this guard (any of them).
    const ANY_OF: &'static [&'static str];
}

/// Marker: the `admin` role.
pub struct Admin;
/// Marker: `moderator` or `admin`.
pub struct Moderator;
/// Marker: `user`, `moderator` or `admin` (any signed-up account).
pub struct UserRole;

impl RoleMarker for Admin {
    const ANY_OF: &'static [&'static str] = &[role::ADMIN];
}
impl RoleMarker for Moderator {
    const ANY_OF: &'static [&'static str] = &[role::MODERATOR, role::ADMIN];
}
impl RoleMarker for UserRole {
    const ANY_OF: &'static [&'static str] = &[role::USER, role::MODERATOR, role::ADMIN];
}

/// Guards one handler: 401 without a valid token, 403 without one of `R::ANY_OF`.
pub struct RequireRole<R: RoleMarker>(pub CurrentUser, PhantomData<R>);

impl<R: RoleMarker> std::ops::Deref for RequireRole<R> {
    type Target = CurrentUser;
    fn deref(&self) -> &CurrentUser {
        &self.0
    }
}

impl<S, R> FromRequestParts<S> for RequireRole<R>
where
    AuthState: FromRef<S>,
    S: Send + Sync,
    R: RoleMarker,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = <CurrentUser as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        if user.has_any_role(R::ANY_OF) {
            Ok(RequireRole(user, PhantomData))
        } else {
            Err(Error::Forbidden("you do not have the role this needs"))
        }
    }
}

/// Guards a whole subtree: `router.route_layer(require_role(&auth, &["admin"]))`. The verified
/// [`CurrentUser`] is put in the request extensions, so handlers below extract it for free.
pub fn require_role(auth: &AuthState, any_of: &'static [&'static str]) -> RoleLayer {
    RoleLayer {
        auth: auth.clone(),
        guard: Guard::AnyRole(any_of),
    }
}

/// Step-up for a whole subtree: `router.route_layer(require_mfa(&auth))` answers 403
/// `mfa_required` for a token without the second factor, like [`RequireMfa`].
pub fn require_mfa(auth: &AuthState) -> RoleLayer {
    RoleLayer {
        auth: auth.clone(),
        guard: Guard::SecondFactor,
    }
}

/// The layer returned by [`require_role`] and [`require_mfa`].
#[derive(Clone)]
pub struct RoleLayer {
    auth: AuthState,
    guard: Guard,
}

impl<S> Layer<S> for RoleLayer {
    type Service = RoleService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RoleService {
            inner,
            auth: self.auth.clone(),
            guard: self.guard,
        }
    }
}

/// The service behind [`RoleLayer`].
#[derive(Clone)]
pub struct RoleService<S> {
    inner: S,
    auth: AuthState,
    guard: Guard,
}

impl<S> Service<Request> for RoleService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // Take the service that was polled ready; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (auth, guard) = (self.auth.clone(), self.guard);
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let user = match current_user(&parts, &auth).await {
                Ok(Some(user)) => user,
                Ok(None) => return Ok(Error::Unauthenticated { token_sent: false }.into_response()),
                Err(e) => return Ok(e.into_response()),
            };
            if let Err(e) = guard.check(&user) {
                return Ok(e.into_response());
            }
            parts.extensions.insert(user);
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}

//! The authentication of an access token: the signature and claims, then the in-memory
//! revocation list (logouts, deactivations, role changes), then a note that the session was
//! used. No database round trip: that is what makes a protected request cheap. A verify-only
//! state that follows a revocation feed consults its copy of the issuer's list instead.

use tracing::warn;
use uuid::Uuid;

use super::remote_feed::Verdict;
use super::state::AuthState;
use crate::token::{AccessClaims, TokenError};

/// The authenticated caller, from verified claims only.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The user's id (`sub`).
    pub id: Uuid,
    /// The session (`sid`).
    pub session_id: Uuid,
    /// Current roles: from the token, or newer ones if an admin changed them since.
    pub roles: Vec<String>,
    /// The verified claims, as issued.
    pub claims: AccessClaims,
}

impl CurrentUser {
    /// Does the caller have `role`?
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Did the caller pass the second factor (`aal` 2) when this token's session began?
    pub fn has_second_factor(&self) -> bool {
        self.claims.aal >= 2 && !self.claims.mfa_enrolment
    }

    /// Is this the restricted state of AUTHGATE_REQUIRE_MFA_ROLES (enrolment endpoints only)?
    pub fn must_enrol(&self) -> bool {
        self.claims.mfa_enrolment
    }

    /// Does the caller have any of `roles`?
    pub fn has_any_role(&self, roles: &[&str]) -> bool {
        roles.iter().any(|r| self.has_role(r))
    }
}

impl AuthState {
    /// Verify an access token and apply revocation. Public so host apps can authenticate
    /// tokens that do not arrive in an `Authorization` header (for example a WebSocket query).
    pub async fn authenticate(&self, token: &str) -> Result<CurrentUser, TokenError> {
        let now = self.clock().now();
        let claims = match self.verifier().verify(token, now) {
            Err(TokenError::UnknownKey) if self.refresh_remote_keys().await => {
                self.verifier().verify(token, now)?
            }
            other => other?,
        };
        let mut roles = claims.roles.clone();
        if let Ok(issuer) = self.issuer() {
            if !issuer.revocations.is_fresh() {
                return Err(TokenError::RevocationsStale);
            }
            if issuer.revocations.is_session_revoked(&claims.sid, now) {
                return Err(TokenError::Revoked);
            }
            if let Some(state) = issuer.revocations.user_state(&claims.sub, now) {
                if !state.active {
                    return Err(TokenError::Deactivated);
                }
                roles = state.roles;
            }
            if claims.mfa_enrolment {
                // The restricted state carries no roles, whatever an admin changed since.
                roles = Vec::new();
            }
            self.touch(claims.sub, claims.sid);
        } else if let Some((mirror, _)) = self.inner.remote.as_ref().and_then(|r| r.feed.as_ref()) {
            match mirror.verdict(&claims.sid, &claims.sub, now) {
                Verdict::Stale => return Err(TokenError::RevocationsStale),
                Verdict::Revoked => return Err(TokenError::Revoked),
                Verdict::Deactivated => return Err(TokenError::Deactivated),
                Verdict::Accepted(changed) => {
                    if let Some(changed) = changed {
                        roles = changed;
                    }
                }
            }
        }
        Ok(CurrentUser {
            id: claims.sub,
            session_id: claims.sid,
            roles,
            claims,
        })
    }

    /// Note that a session was used; writes at most once per `activity_interval` per session.
    pub(crate) fn touch(&self, user: Uuid, session: Uuid) {
        let Ok(issuer) = self.issuer() else { return };
        let now = self.clock().now();
        {
            let mut seen = issuer.activity.lock().unwrap_or_else(|p| p.into_inner());
            if seen
                .get(&session)
                .is_some_and(|&last| now - last < issuer.cfg.activity_interval)
            {
                return;
            }
            // Bounded: forget sessions idle past the interval once the map grows.
            if seen.len() > 100_000 {
                seen.retain(|_, last| now - *last < issuer.cfg.activity_interval);
            }
            seen.insert(session, now);
        }
        // Once written, this instance's `/users/me` shows it (the others within a minute).
        let store = issuer.store.clone();
        let auth = self.clone();
        tokio::spawn(async move {
            match store.record_activity(user, session, now).await {
                Ok(()) => auth.forget_profile_here(user),
                Err(e) => warn!(error = %e, "could not record activity"),
            }
        });
    }
}

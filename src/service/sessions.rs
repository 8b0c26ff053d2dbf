//! Sessions: opening one at login, rotating its refresh token, ending it.

use tracing::info;
use uuid::Uuid;

use super::TokenPair;
use super::audit::{Event, EventKind};
use super::error::{Error, Result};
use super::state::AuthState;
use crate::config::TokenClaim;
use crate::domain::{ClientInfo, Limit};
use crate::store::{
    NewSession, RotateOutcome, RotatedSession, Rotation, SessionEnd, SessionRecord, UserRecord,
};
use crate::token::refresh;

impl AuthState {
    /// Start a session for an authenticated user and issue its first token pair;
    /// `second_factor` when the user also passed it (the session remembers, so its refreshed
    /// tokens keep `amr: ["pwd","otp"]`).
    pub(crate) async fn open_session_with(
        &self,
        user: &UserRecord,
        remember_me: bool,
        client: ClientInfo,
        second_factor: bool,
    ) -> Result<TokenPair> {
        self.open_session_amr(user, remember_me, client, second_factor, None)
            .await
    }

    /// [`AuthState::open_session_with`], with the session's `amr` (RFC 8176, space-separated)
    /// when it is not the password's: a passkey session is also a second-factor one (`aal` 2),
    /// and its refreshed tokens keep this `amr`.
    pub(crate) async fn open_session_amr(
        &self,
        user: &UserRecord,
        remember_me: bool,
        client: ClientInfo,
        second_factor: bool,
        amr: Option<&str>,
    ) -> Result<TokenPair> {
        let issuer = self.issuer()?;
        let cfg = &issuer.cfg;
        let now = self.clock().now();
        let idle_ttl = if remember_me {
            cfg.remember_me_ttl
        } else {
            cfg.refresh_ttl
        };
        let session = NewSession {
            id: Uuid::now_v7(),
            user_id: user.id,
            created_at: now,
            expires_at: now + cfg.remember_me_ttl,
            idle_ttl,
            remember_me,
            user_agent: client.user_agent.map(|ua| ua.chars().take(256).collect()),
            ip: client.ip,
            password_hash: user.password_hash.clone(),
        };
        let token = refresh::generate();
        if !issuer
            .store
            .create_session(&session, &refresh::hash(&token))
            .await?
        {
            // The password changed or the account was deactivated while this login was checked.
            return Err(Error::InvalidCredentials);
        }
        // F7: a user's live sessions are capped; the oldest beyond the cap end now.
        let until = issuer.revocations.until(now);
        let ended = issuer
            .store
            .cap_sessions(user.id, cfg.max_sessions_per_user, now, until)
            .await?;
        issuer.revocations.sessions_revoked(&ended, now);
        if second_factor {
            issuer.store.mark_session_mfa(session.id, now).await?;
        }
        if let Some(amr) = amr {
            issuer.store.set_session_amr(session.id, amr).await?;
        }
        let refresh_expires_in = idle_ttl.min(cfg.remember_me_ttl);
        self.issue_tokens(
            user,
            session.id,
            token,
            refresh_expires_in,
            second_factor,
            amr,
        )
    }

    fn issue_tokens(
        &self,
        user: &UserRecord,
        session: Uuid,
        refresh_token: String,
        refresh_expires_in: i64,
        second_factor: bool,
        amr: Option<&str>,
    ) -> Result<TokenPair> {
        Ok(TokenPair {
            access_token: self.access_token_amr(user, session, second_factor, amr)?,
            expires_in: self.issuer()?.cfg.access_ttl,
            refresh_token,
            refresh_expires_in,
            device_token: None,
        })
    }

    /// A signed access token for `session` of `user`: `amr` and `aal` say whether the second
    /// factor was used; a member of AUTHGATE_REQUIRE_MFA_ROLES without it gets the restricted
    /// state (no roles, `mfa_enrolment`: only the enrolment endpoints accept it).
    pub(crate) fn access_token(
        &self,
        user: &UserRecord,
        session: Uuid,
        second_factor: bool,
    ) -> Result<String> {
        self.access_token_amr(user, session, second_factor, None)
    }

    /// [`AuthState::access_token`] with the session's own `amr`, if it has one.
    pub(crate) fn access_token_amr(
        &self,
        user: &UserRecord,
        session: Uuid,
        second_factor: bool,
        amr: Option<&str>,
    ) -> Result<String> {
        let issuer = self.issuer()?;
        let verifier = self.verifier();
        let now = self.clock().now();
        let restricted = !second_factor
            && user
                .roles
                .iter()
                .any(|r| issuer.mfa.require_roles.contains(r));
        let roles = if restricted {
            Vec::new()
        } else {
            user.roles.clone()
        };
        let mut claims = verifier.claims(user.id, session, roles, now, issuer.cfg.access_ttl);
        claims.email_verified = user.email_verified;
        claims.mfa_enrolment = restricted;
        // AUTHGATE_TOKEN_CLAIMS: off by default, so tokens carry no personal data unless asked.
        for claim in &issuer.cfg.token_claims {
            match claim {
                TokenClaim::Email => claims.email = Some(user.email.clone()),
                TokenClaim::Username => claims.username = user.username.clone(),
            }
        }
        if let Some(amr) = amr {
            claims.amr = amr.split_whitespace().map(str::to_owned).collect();
            claims.aal = if second_factor { 2 } else { 1 };
        } else if second_factor {
            claims.amr = vec!["pwd".to_owned(), "otp".to_owned()];
            claims.aal = 2;
        } else {
            claims.amr = vec!["pwd".to_owned()];
        }
        Ok(verifier.sign(&claims)?)
    }

    /// Exchange a refresh token for a new pair. Every use rotates; a replay of a rotated token
    /// outside the grace window revokes the whole session. Concurrent uses of one token within
    /// the grace window all succeed with the same new refresh token.
    pub async fn refresh(&self, presented: &str, client: &ClientInfo) -> Result<TokenPair> {
        let issuer = self.issuer()?;
        self.check_rate(Limit::Refresh, client).await?;
        let presented = presented.trim();
        if presented.is_empty() || presented.len() > refresh::MAX_LEN {
            return Err(Error::InvalidRefreshToken);
        }
        let now = self.clock().now();
        let child = refresh::successor(&issuer.rotation_key, presented);
        let rotation = Rotation {
            presented_hash: refresh::hash(presented),
            child_hash: refresh::hash(&child),
            now,
            revoke_until: issuer.revocations.until(now),
            grace_secs: issuer.cfg.refresh_grace,
        };
        let rotated = match issuer.store.rotate_refresh(&rotation).await? {
            RotateOutcome::Rotated(r) => r,
            RotateOutcome::Repeated(r) => {
                // Parallel tabs replay within the grace window with the browser they logged in
                // with; a replay from another user agent may be a copied token, so say so.
                let agent = client.user_agent.as_deref().map(|ua| ua.chars().take(256));
                let same_agent = match (agent, r.session.user_agent.as_deref()) {
                    (Some(ours), Some(theirs)) => ours.eq(theirs.chars()),
                    (None, None) => true,
                    _ => false,
                };
                if !same_agent {
                    let event = Event::new(EventKind::RefreshGraceReplay, client)
                        .user(r.session.user_id)
                        .detail(format!("session {} from another user agent", r.session.id));
                    self.audit(event).await;
                }
                r
            }
            RotateOutcome::ReuseDetected {
                session_id,
                user_id,
            } => {
                issuer.revocations.sessions_revoked(&[session_id], now);
                let event = Event::new(EventKind::RefreshReuseDetected, client)
                    .user(user_id)
                    .detail(format!("session {session_id} revoked"));
                self.audit(event).await;
                return Err(Error::InvalidRefreshToken);
            }
            RotateOutcome::Invalid => return Err(Error::InvalidRefreshToken),
        };
        // Roles and activation come from the database (the claim read them), so admin changes
        // always reach new tokens.
        let RotatedSession {
            session,
            user,
            mfa_at,
            amr,
        } = rotated;
        if !user.is_active {
            return Err(Error::InvalidRefreshToken);
        }
        let refresh_expires_in = session.idle_expires_at.min(session.expires_at) - now;
        let second_factor = mfa_at.is_some();
        // Only second-factor sessions can have an `amr` of their own (passkeys).
        let amr = amr.filter(|_| second_factor);
        self.issue_tokens(
            &user,
            session.id,
            child,
            refresh_expires_in,
            second_factor,
            amr.as_deref(),
        )
    }

    /// End one live session of a user (deleting a device). Its access tokens die now.
    /// `NotFound` when it is not theirs or already ended.
    pub async fn end_session(&self, user: Uuid, session: Uuid, client: &ClientInfo) -> Result<()> {
        match self.revoke_one(user, session, client).await? {
            SessionEnd::Ended => Ok(()),
            SessionEnd::AlreadyEnded | SessionEnd::Unknown => Err(Error::NotFound("session")),
        }
    }

    /// Log out the session of an access token. Its signature and claims are checked, not the
    /// revocation list: a retried logout (the first answer lost, or the session already ended
    /// here or on another instance) succeeds like the first. A session that does not exist
    /// (never did, or was deleted with its user) is `Unauthenticated`.
    pub async fn logout(&self, token: &str, client: &ClientInfo) -> Result<()> {
        let claims = self
            .verifier()
            .verify(token, self.clock().now())
            .map_err(|_| Error::Unauthenticated { token_sent: true })?;
        match self.revoke_one(claims.sub, claims.sid, client).await? {
            SessionEnd::Ended | SessionEnd::AlreadyEnded => Ok(()),
            SessionEnd::Unknown => Err(Error::Unauthenticated { token_sent: true }),
        }
    }

    /// Revoke `session` of `user` with its revocation entry, note it here, audit a logout.
    async fn revoke_one(
        &self,
        user: Uuid,
        session: Uuid,
        client: &ClientInfo,
    ) -> Result<SessionEnd> {
        let issuer = self.issuer()?;
        let now = self.clock().now();
        let until = issuer.revocations.until(now);
        let end = issuer
            .store
            .revoke_session(user, session, now, until)
            .await?;
        if end == SessionEnd::Unknown {
            return Ok(end);
        }
        issuer.revocations.sessions_revoked(&[session], now);
        if end == SessionEnd::Ended {
            let event = Event::new(EventKind::Logout, client)
                .user(user)
                .detail(format!("session {session}"));
            self.audit(event).await;
        }
        Ok(end)
    }

    /// Sign out everywhere: end every session of the user.
    pub async fn logout_all(&self, user: Uuid, client: &ClientInfo) -> Result<usize> {
        let ended = self.end_all_sessions(user, None).await?;
        let event = Event::new(EventKind::LogoutAll, client)
            .user(user)
            .detail(format!("{ended} sessions"));
        self.audit(event).await;
        Ok(ended)
    }

    /// End every session of a user except `keep`.
    pub(crate) async fn end_all_sessions(&self, user: Uuid, keep: Option<Uuid>) -> Result<usize> {
        let issuer = self.issuer()?;
        let now = self.clock().now();
        let until = issuer.revocations.until(now);
        let ended = issuer
            .store
            .revoke_user_sessions(user, keep, now, until)
            .await?;
        issuer.revocations.sessions_revoked(&ended, now);
        info!(user_id = %user, count = ended.len(), "sessions ended");
        Ok(ended.len())
    }

    /// The user's active sessions, newest first; `Unauthenticated` unless `current` (the
    /// token's session) is among them, so a token for an unknown or ended session is refused.
    pub(crate) async fn sessions(&self, user: Uuid, current: Uuid) -> Result<Vec<SessionRecord>> {
        let issuer = self.issuer()?;
        let sessions = issuer.store.list_sessions(user, self.clock().now()).await?;
        if !sessions.iter().any(|s| s.id == current) {
            return Err(Error::Unauthenticated { token_sent: true });
        }
        Ok(sessions)
    }
}

//! Account recovery and verification: reset links, verification links, the e-mail change,
//! and the notice to the owner of an address someone tried to register again.
//!
//! Nothing here sends mail: each method writes a one-time token and enqueues its mail in one
//! transaction (`crate::store::TokenStore`), and the sender (`super::outbox`) delivers later.
//! Tokens are 256 random bits stored as HMAC-SHA256 under the server's `one-time-token-key`
//! (`crate::token::one_time`); each is used by one atomic UPDATE.

use serde_json::json;
use uuid::Uuid;

use super::User;
use super::abuse::{account_key, ceiling_bucket};
use super::audit::{Event, EventKind};
use super::error::{Error, Result};
use super::state::AuthState;
use crate::domain::password::Policy;
use crate::domain::{Actor, ClientInfo, Email, Limit, Password, Rate, login_key};
use crate::hashing::Verdict;
use crate::store::{NewMail, NewOneTimeToken, NewUser, UserRecord};
use crate::token::one_time;

/// The purposes of one-time tokens, as stored.
const RESET: &str = "reset";
const VERIFY: &str = "verify";
const EMAIL_CHANGE: &str = "email_change";

/// At most one mail per account per this many seconds, whoever asks.
const MAIL_INTERVAL_SECS: i64 = 60;

/// A mail for the outbox, due now.
fn new_mail(kind: &str, to: &str, user: Uuid, context: serde_json::Value, now: i64) -> NewMail {
    NewMail {
        id: Uuid::now_v7(),
        kind: kind.to_owned(),
        recipient: to.to_owned(),
        user_id: Some(user),
        context: context.to_string(),
        created_at: now,
    }
}

impl AuthState {
    /// `POST /auth/password/forgot`: mail a reset link to the account with this address, if
    /// there is an active one. Answers the same whether or not there is, at once: the lookup
    /// and the enqueueing run after the answer. 429 beyond the client IP's recovery limit.
    pub async fn forgot_password(&self, email: &str, client: &ClientInfo) -> Result<()> {
        self.recovery_request(email, RESET, client).await
    }

    /// `POST /auth/verify-email/request`: mail a new verification link to the account with
    /// this address if it is active and unverified; otherwise as [`AuthState::forgot_password`].
    pub async fn request_verification(&self, email: &str, client: &ClientInfo) -> Result<()> {
        self.recovery_request(email, VERIFY, client).await
    }

    async fn recovery_request(
        &self,
        email: &str,
        purpose: &'static str,
        client: &ClientInfo,
    ) -> Result<()> {
        self.issuer()?;
        let email = Email::parse(email).map_err(|e| Error::field("email", e))?;
        self.check_rate(Limit::Recovery, client).await?;
        // SECURITY: the account lookup, the per-account limit and the write run after the
        // answer, so its time and content never depend on whether the account exists
        // (keycloak#26625, fastapi-users#1534). A failure there is logged, not answered.
        let state = self.clone();
        let client = client.clone();
        let login = login_key(email.as_str());
        tokio::spawn(async move {
            if let Err(e) = state.mail_link_to(&login, purpose, &client).await {
                tracing::warn!(error = %e, purpose, "could not enqueue a recovery mail");
            }
        });
        Ok(())
    }

    async fn mail_link_to(
        &self,
        login: &str,
        purpose: &'static str,
        client: &ClientInfo,
    ) -> Result<()> {
        let issuer = self.issuer()?;
        let Some(user) = issuer.store.user_by_login(login).await? else {
            return Ok(());
        };
        if !user.is_active || (purpose == VERIFY && user.email_verified) {
            return Ok(());
        }
        if !self.mail_allowed(user.id).await? {
            return Ok(());
        }
        self.issue_link(&user, purpose, &user.email, true, Vec::new())
            .await?;
        let kind = if purpose == RESET {
            EventKind::PasswordResetRequested
        } else {
            EventKind::VerificationRequested
        };
        self.audit(Event::new(kind, client).user(user.id)).await;
        Ok(())
    }

    /// Count a mail to `user` against the per-account limit; whether it may go.
    async fn mail_allowed(&self, user: Uuid) -> Result<bool> {
        let issuer = self.issuer()?;
        let rate = Rate::per(1, MAIL_INTERVAL_SECS);
        let bucket = format!("mail:{user}");
        let now_ms = self.clock().now_ms();
        Ok(issuer.store.take(&bucket, rate, now_ms).await?.is_none())
    }

    /// Issue a token of `purpose` for `user` whose link goes to `to`, voiding the user's older
    /// ones; with `send`, its mail is enqueued in the same transaction (with `extra` mails).
    /// Returns the link.
    async fn issue_link(
        &self,
        user: &UserRecord,
        purpose: &'static str,
        to: &str,
        send: bool,
        extra: Vec<NewMail>,
    ) -> Result<String> {
        let issuer = self.issuer()?;
        let rec = &issuer.recovery;
        let now = self.clock().now();
        let token = one_time::generate();
        let (ttl, link) = if purpose == RESET {
            (rec.reset_ttl, rec.links.reset(&token))
        } else {
            (rec.verify_ttl, rec.links.verify(&token))
        };
        let record = NewOneTimeToken {
            hash: one_time::hash(&issuer.token_key, &token),
            user_id: user.id,
            purpose,
            email: to.to_owned(),
            created_at: now,
            expires_at: now + ttl,
        };
        let mut mails = extra;
        if send {
            let (kind, context) = match purpose {
                RESET => (
                    "reset_password",
                    json!({"link": link, "ttl_minutes": ttl / 60}),
                ),
                VERIFY => (
                    "verify_email",
                    json!({"link": link, "ttl_hours": ttl / 3600}),
                ),
                _ => (
                    "email_change",
                    json!({"link": link, "ttl_hours": ttl / 3600, "new_email": to}),
                ),
            };
            mails.insert(0, new_mail(kind, to, user.id, context, now));
        }
        issuer.store.issue_token(&record, &mails).await?;
        Ok(link)
    }

    /// Create `new` with its verification token and mail in one transaction (registration).
    pub(crate) async fn create_with_verification(&self, new: &NewUser) -> Result<UserRecord> {
        let issuer = self.issuer()?;
        let rec = &issuer.recovery;
        let now = self.clock().now();
        let token = one_time::generate();
        let link = rec.links.verify(&token);
        let record = NewOneTimeToken {
            hash: one_time::hash(&issuer.token_key, &token),
            user_id: new.id,
            purpose: VERIFY,
            email: new.email.clone(),
            created_at: now,
            expires_at: now + rec.verify_ttl,
        };
        let context = json!({"link": link, "ttl_hours": rec.verify_ttl / 3600});
        let mail = new_mail("verify_email", &new.email, new.id, context, now);
        let user = issuer
            .store
            .create_user_with_token(new, &record, &mail)
            .await?;
        Ok(user)
    }

    /// Whether registration answers a taken address like a new one (see `register`).
    pub(crate) fn hides_taken_emails(&self) -> bool {
        self.issuer()
            .is_ok_and(|i| i.recovery.require_verified_email)
    }

    /// A registration hit an address that has an account: tell its owner (at most once a
    /// minute) instead of the client.
    pub(crate) async fn notify_taken_email(
        &self,
        new: &NewUser,
        client: &ClientInfo,
    ) -> Result<()> {
        let issuer = self.issuer()?;
        let Some(owner) = issuer.store.user_by_login(&new.email_lower).await? else {
            return Ok(());
        };
        self.audit(Event::new(EventKind::SignupWithTakenEmail, client).user(owner.id))
            .await;
        if !self.mail_allowed(owner.id).await? {
            return Ok(());
        }
        let hint = format!(
            "ask for a reset link (POST {}/auth/password/forgot, or your app's \"forgot password\")",
            issuer.recovery.public_url.trim_end_matches('/')
        );
        let now = self.clock().now();
        let mail = new_mail(
            "signup_attempt",
            &owner.email,
            owner.id,
            json!({"forgot_hint": hint}),
            now,
        );
        issuer.store.enqueue_mail(&mail).await?;
        Ok(())
    }

    /// The stored form of a presented one-time token; `InvalidOneTimeToken` for one that
    /// cannot be ours.
    fn one_time_hash(&self, token: &str) -> Result<String> {
        let token = token.trim();
        if token.is_empty() || token.len() > one_time::MAX_LEN {
            return Err(Error::InvalidOneTimeToken);
        }
        Ok(one_time::hash(&self.issuer()?.token_key, token))
    }

    /// `POST /auth/password/reset`: set a new password with a reset token. The password policy
    /// applies (422 on `new_password`, the token still unused); then every session of the
    /// user ends, their locks are lifted and every other reset token is void.
    /// `InvalidOneTimeToken` (400) for an unknown, used or expired token.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        client: ClientInfo,
    ) -> Result<(), Error> {
        let issuer = self.issuer()?;
        let hash = self.one_time_hash(token)?;
        let now = self.clock().now();
        let owner = issuer
            .store
            .token_owner(&hash, RESET, now)
            .await?
            .ok_or(Error::InvalidOneTimeToken)?;
        let user = issuer
            .store
            .user_by_id(owner.user_id)
            .await?
            .ok_or(Error::InvalidOneTimeToken)?;
        let identifiers = [user.email.as_str(), user.username.as_deref().unwrap_or("")];
        let policy = Policy {
            min_chars: issuer.cfg.min_password_length,
            identifiers: &identifiers,
        };
        let password = Password::check(new_password.to_owned(), policy)
            .map_err(|e| Error::field("new_password", e))?;
        let new_hash = issuer.hasher.hash(&password).await?;
        // One atomic use decides between two browsers with the same link.
        issuer
            .store
            .reset_password(&hash, &new_hash, self.clock().now())
            .await?
            .ok_or(Error::InvalidOneTimeToken)?;
        let ended = self.end_all_sessions(user.id, None).await?;
        let account = account_key(Some(user.id), "");
        issuer
            .store
            .clear_account_guards(&account, &ceiling_bucket(&account), user.id)
            .await?;
        let event = Event::new(EventKind::PasswordReset, &client)
            .user(user.id)
            .detail(format!("{ended} sessions ended"));
        self.audit(event).await;
        Ok(())
    }

    /// `POST /auth/verify-email`: confirm an address with a verification or e-mail change
    /// token; the user as now stored. `InvalidOneTimeToken` (400) for an unknown, used or
    /// expired token; `Conflict("email")` (409) when the new address was taken meanwhile.
    pub async fn verify_email(&self, token: &str, client: ClientInfo) -> Result<User, Error> {
        let issuer = self.issuer()?;
        let hash = self.one_time_hash(token)?;
        let now = self.clock().now();
        let (id, kind) = match issuer.store.confirm_email(&hash, VERIFY, now).await? {
            Some(id) => (id, EventKind::EmailVerified),
            None => match issuer.store.confirm_email(&hash, EMAIL_CHANGE, now).await? {
                Some(id) => (id, EventKind::EmailChanged),
                None => return Err(Error::InvalidOneTimeToken),
            },
        };
        self.profile_changed(id).await;
        self.audit(Event::new(kind, &client).user(id)).await;
        self.user(id).await
    }

    /// `POST /users/me/email`: with the current password (checked like a login), mail a
    /// confirmation link to `new_email` and a notice to the current address. The address
    /// changes only when the link is used.
    pub async fn change_email(
        &self,
        user_id: Uuid,
        new_email: &str,
        current_password: &str,
        client: ClientInfo,
    ) -> Result<()> {
        let issuer = self.issuer()?;
        let new = Email::parse(new_email).map_err(|e| Error::field("new_email", e))?;
        self.check_rate(Limit::Login, &client).await?;
        let user = issuer
            .store
            .user_by_id(user_id)
            .await?
            .ok_or(Error::Unauthenticated { token_sent: true })?;
        let account = self.pair_key(&account_key(Some(user.id), ""), &client)?;
        let locks = self.begin_attempt(&account, Some(user.id), &client).await?;
        let verdict = issuer
            .hasher
            .verify(current_password, Some(&user.password_hash))
            .await?;
        if verdict == Verdict::Mismatch {
            let detail = "wrong current password on e-mail change";
            self.attempt_failed(Some(user.id), locks, &client, detail)
                .await;
            return Err(Error::InvalidCredentials);
        }
        self.attempt_succeeded(&account).await?;
        if login_key(new.as_str()) == login_key(&user.email) {
            return Err(Error::field(
                "new_email",
                "is already the address of this account",
            ));
        }
        let now = self.clock().now();
        let context = json!({"new_email": new.as_str()});
        let notice = new_mail("email_change_notice", &user.email, user.id, context, now);
        self.issue_link(&user, EMAIL_CHANGE, new.as_str(), true, vec![notice])
            .await?;
        self.audit(Event::new(EventKind::EmailChangeRequested, &client).user(user.id))
            .await;
        Ok(())
    }

    /// `POST /admin/users/{id}/send-reset`: mail the user a reset link. 404 for an unknown user.
    pub async fn send_reset(&self, id: Uuid, actor: &Actor) -> Result<()> {
        let issuer = self.issuer()?;
        let user = issuer
            .store
            .user_by_id(id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        self.issue_link(&user, RESET, &user.email, true, Vec::new())
            .await?;
        let event = Event::new(EventKind::PasswordResetRequested, &actor.client)
            .user(id)
            .by(actor)
            .detail("mailed on an operator's request");
        self.audit(event).await;
        Ok(())
    }

    /// A reset link for the account with this login name, without mail (the CLI's
    /// `user reset-link`, for operators without SMTP). Voids the account's older reset links.
    pub async fn reset_link(&self, login: &str, actor: &Actor) -> Result<String> {
        let issuer = self.issuer()?;
        let key = login_key(login);
        if key.is_empty() || key.len() > 254 || key.contains('\0') {
            return Err(Error::NotFound("user"));
        }
        let user = issuer
            .store
            .user_by_login(&key)
            .await?
            .ok_or(Error::NotFound("user"))?;
        let link = self
            .issue_link(&user, RESET, &user.email, false, Vec::new())
            .await?;
        let event = Event::new(EventKind::PasswordResetRequested, &actor.client)
            .user(user.id)
            .by(actor)
            .detail("link printed by the CLI");
        self.audit(event).await;
        Ok(link)
    }
}

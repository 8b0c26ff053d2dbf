//! Registration, credential checks, profile and password changes.

use tracing::info;
use uuid::Uuid;

use super::abuse::account_key;
use super::audit::{Event, EventKind};
use super::error::{Error, FieldCheck, Result};
use super::state::AuthState;
use super::{TokenPair, User};
use crate::domain::password::Policy;
use crate::domain::{ClientInfo, Email, Limit, Password, Username, login_key, role};
use crate::hashing::Verdict;
use crate::store::{NewUser, UserRecord};

/// What registration answers for an address that has an account: the account it would have
/// been, never stored.
fn unsaved(new: NewUser) -> User {
    User {
        id: new.id,
        email: new.email,
        username: new.username,
        roles: new.roles,
        is_active: new.is_active,
        email_verified: false,
        created_at: new.created_at,
        last_login_at: None,
        last_activity_at: None,
    }
}

impl AuthState {
    /// The product name (AUTHGATE_PRODUCT_NAME) pages and mails are signed with.
    pub fn product_name(&self) -> &str {
        self.issuer()
            .map_or("authgate", |issuer| issuer.recovery.mailer.product_name())
    }

    /// The shortest password the policy accepts (for forms that say so up front).
    pub fn min_password_length(&self) -> usize {
        self.issuer()
            .map_or(8, |issuer| issuer.cfg.min_password_length)
    }

    /// The base URL of authgate's own pages (AUTHGATE_PUBLIC_URL, else the issuer), without a
    /// trailing slash.
    pub fn public_url(&self) -> &str {
        self.issuer().map_or("", |issuer| {
            issuer.recovery.public_url.trim_end_matches('/')
        })
    }

    /// AUTHGATE_CORS_ORIGINS, which the hosted pages trust next to [`AuthState::public_url`].
    pub fn cors_origins(&self) -> &[String] {
        self.issuer()
            .map_or(&[], |issuer| issuer.recovery.cors_origins.as_slice())
    }

    /// Seconds an access token lives and a remember-me session lasts (the pages' cookie ages).
    pub fn session_lifetimes(&self) -> (i64, i64) {
        self.issuer().map_or((0, 0), |issuer| {
            (issuer.cfg.access_ttl, issuer.cfg.remember_me_ttl)
        })
    }

    /// Create an account with the `user` role and enqueue its verification mail (in the same
    /// transaction). Input is validated field by field (422 with every problem at once); a
    /// taken username is 409, and so is a taken e-mail unless AUTHGATE_REQUIRE_VERIFIED_EMAIL
    /// is on: then the answer is the same as for a new account (a user nobody can sign in as)
    /// and the address's owner gets a mail instead. 429 beyond the client IP's limit.
    pub async fn register(
        &self,
        email: &str,
        password: String,
        username: Option<&str>,
        client: &ClientInfo,
    ) -> Result<User> {
        self.check_rate(Limit::Register, client).await?;
        let new = self
            .new_user(email, password, username, vec![role::USER.to_owned()])
            .await?;
        let user = match self.create_with_verification(&new).await {
            Ok(user) => user,
            // SECURITY: no account enumeration through registration (R23): the same 201 body,
            // after the same hashing, for an address that has an account.
            Err(Error::Conflict("email")) if self.hides_taken_emails() => {
                self.notify_taken_email(&new, client).await?;
                return Ok(unsaved(new));
            }
            Err(e) => return Err(e),
        };
        info!(user_id = %user.id, "user registered");
        let event = Event::new(EventKind::UserRegistered, client).user(user.id);
        self.audit(event).await;
        Ok(user.into())
    }

    /// Create an account with the given roles (the CLI's `user create`).
    pub async fn create_user(
        &self,
        email: &str,
        password: String,
        username: Option<&str>,
        roles: Vec<String>,
    ) -> Result<User> {
        let new = self.new_user(email, password, username, roles).await?;
        let user = self.issuer()?.store.create_user(&new).await?;
        info!(user_id = %user.id, "user registered");
        Ok(user.into())
    }

    /// Validate the fields of a new account and hash its password.
    async fn new_user(
        &self,
        email: &str,
        password: String,
        username: Option<&str>,
        roles: Vec<String>,
    ) -> Result<NewUser> {
        let issuer = self.issuer()?;
        let mut fields = FieldCheck::default();
        let identifiers = [email.trim(), username.map_or("", str::trim)];
        let email = fields.check("email", Email::parse(email));
        let username = username
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .and_then(|u| fields.check("username", Username::parse(u)));
        let policy = Policy {
            min_chars: issuer.cfg.min_password_length,
            identifiers: &identifiers,
        };
        let password = fields.check("password", Password::check(password, policy));
        fields.finish()?;
        let (Some(email), Some(password)) = (email, password) else {
            return Err(anyhow::anyhow!("a field parsed without a value").into());
        };
        let hash = issuer.hasher.hash(&password).await?;
        Ok(NewUser {
            id: Uuid::now_v7(),
            email: email.as_str().to_owned(),
            email_lower: email.lower().to_owned(),
            username: username.as_ref().map(|u| u.as_str().to_owned()),
            username_lower: username.as_ref().map(|u| u.lower().to_owned()),
            password_hash: hash,
            roles,
            is_active: true,
            email_verified: false,
            created_at: self.clock().now(),
        })
    }

    /// Check a login name (e-mail or username) and password, under the client IP's login limit
    /// and the account's lockout (by device token, or by account and address: see
    /// `super::devices`). Unknown users cost the same and answer the same as a wrong password,
    /// locks included. Upgrades legacy or weaker hashes on success.
    pub(crate) async fn check_credentials(
        &self,
        login: &str,
        password: &str,
        device_token: Option<&str>,
        client: &ClientInfo,
    ) -> Result<UserRecord> {
        let issuer = self.issuer()?;
        self.check_rate(Limit::Login, client).await?;
        let login = login_key(login);
        // SECURITY: oversized or unstorable input (NUL) is refused only after the same hashing
        // cost as any attempt.
        let login = if login.len() > 254 || login.contains('\0') {
            String::new()
        } else {
            login
        };
        let user = if login.is_empty() {
            None
        } else {
            issuer.store.user_by_login(&login).await?
        };
        let account = account_key(user.as_ref().map(|u| u.id), &login);
        let user_id = user.as_ref().map(|u| u.id);
        let attempt = self
            .begin_login(&account, user.as_ref(), device_token, client)
            .await?;
        let password = if password.chars().count() > crate::domain::password::MAX_CHARS {
            ""
        } else {
            password
        };
        let verdict = issuer
            .hasher
            .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await?;
        let user = match (verdict, user) {
            (Verdict::Mismatch, _) | (_, None) => {
                self.login_failed(&attempt, user_id, client).await?;
                return Err(Error::InvalidCredentials);
            }
            (Verdict::MatchRehash(new_hash), Some(user)) => {
                // A password change that landed since we read the hash wins: then this password is
                // no longer the user's.
                if !issuer
                    .store
                    .upgrade_password_hash(user.id, &user.password_hash, &new_hash)
                    .await?
                {
                    return Err(Error::InvalidCredentials);
                }
                info!(user_id = %user.id, "password hash upgraded to argon2id");
                UserRecord {
                    password_hash: new_hash,
                    ..user
                }
            }
            (Verdict::Match, Some(user)) => user,
        };
        self.login_succeeded(&attempt).await?;
        if !user.is_active {
            // Only someone who knows the password learns that the account is deactivated.
            return Err(Error::Deactivated);
        }
        Ok(user)
    }

    /// The password grant: check credentials, then open a session. The pair carries a new
    /// device token; see [`AuthState::login_with_device_token`].
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        remember_me: bool,
        client: ClientInfo,
    ) -> Result<TokenPair> {
        self.login_with_device_token(login, password, None, remember_me, client)
            .await
    }

    /// The password grant with the device token of an earlier login from this device, if
    /// any: an attempt with a valid one is never refused for locks that attempts from other
    /// addresses (or without a token) caused. Returns a new device token in the pair; the one
    /// presented is used up.
    pub async fn login_with_device_token(
        &self,
        login: &str,
        password: &str,
        device_token: Option<&str>,
        remember_me: bool,
        client: ClientInfo,
    ) -> Result<TokenPair> {
        self.password_login(login, password, device_token, remember_me, false, client)
            .await
    }

    /// [`AuthState::login_with_device_token`]; `cookie_transport` marks the `mfa_token` of an
    /// `mfa_required` answer, so the second step ends with the cookie too (see
    /// `COOKIE_MFA_PREFIX`).
    pub(crate) async fn password_login(
        &self,
        login: &str,
        password: &str,
        device_token: Option<&str>,
        remember_me: bool,
        cookie_transport: bool,
        client: ClientInfo,
    ) -> Result<TokenPair> {
        let user = self
            .check_credentials(login, password, device_token, &client)
            .await?;
        let issuer = self.issuer()?;
        if issuer.recovery.require_verified_email && !user.email_verified {
            // Only someone who knows the password learns this.
            return Err(Error::EmailNotVerified);
        }
        // SECURITY: with a second factor on, the password only buys an mfa_token; the session
        // opens at POST /auth/mfa. Every path that checks a password ends here (R26).
        if let Some(challenge) = self
            .mfa_challenge(&user, remember_me, cookie_transport)
            .await?
        {
            return Err(Error::MfaRequired(Some(challenge)));
        }
        self.finish_login(&user, remember_me, client, false).await
    }

    /// Open the session of a login whose factors all passed: stamp the login, issue a device
    /// token, audit.
    pub(crate) async fn finish_login(
        &self,
        user: &UserRecord,
        remember_me: bool,
        client: ClientInfo,
        second_factor: bool,
    ) -> Result<TokenPair> {
        let issuer = self.issuer()?;
        issuer
            .store
            .record_login(user.id, self.clock().now())
            .await?;
        self.forget_profile_here(user.id);
        let mut tokens = self
            .open_session_with(user, remember_me, client.clone(), second_factor)
            .await?;
        tokens.device_token = Some(self.issue_device_token(user).await?);
        let mut event = Event::new(EventKind::LoginSucceeded, &client).user(user.id);
        if second_factor {
            event = event.detail("with the second factor");
        }
        self.audit(event).await;
        Ok(tokens)
    }

    /// The user a login name (e-mail or username) belongs to, normalised exactly as
    /// `/auth/login` does (NFKC, lowercase): the CLI finds users this way.
    pub async fn find_user(&self, login: &str) -> Result<Option<User>> {
        let login = login_key(login);
        if login.is_empty() || login.len() > 254 || login.contains('\0') {
            return Ok(None);
        }
        let user = self.issuer()?.store.user_by_login(&login).await?;
        Ok(user.map(User::from))
    }

    /// A user by id.
    pub async fn user(&self, id: Uuid) -> Result<User> {
        let issuer = self.issuer()?;
        issuer
            .store
            .user_by_id(id)
            .await?
            .map(User::from)
            .ok_or(Error::NotFound("user"))
    }

    /// The caller's own account, read only while the token's session is live in the database
    /// (one query; known and not revoked): a token whose `sid` is unknown (forged with a leaked HS256 secret, say) or
    /// revoked on another instance that has not synced yet is refused here, though routes that
    /// only verify the token (`CurrentUser`) accept it until the revocation reaches memory.
    pub async fn own_account(&self, id: Uuid, session: Uuid) -> Result<User> {
        let issuer = self.issuer()?;
        issuer
            .store
            .user_with_live_session(id, session)
            .await?
            .map(User::from)
            .ok_or(Error::Unauthenticated { token_sent: true })
    }

    /// Change (or clear, with `None`) a user's username.
    pub async fn set_username(&self, id: Uuid, username: Option<&str>) -> Result<User> {
        let issuer = self.issuer()?;
        let parsed = match username.map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => Some(Username::parse(u).map_err(|e| Error::field("username", e))?),
            None => None,
        };
        let pair = parsed.as_ref().map(|u| (u.as_str(), u.lower()));
        if !issuer.store.set_username(id, pair).await? {
            return Err(Error::NotFound("user"));
        }
        self.profile_changed(id).await;
        self.user(id).await
    }

    /// Check the signed-in user's current password, as a login checks it: it counts against
    /// the client IP's limit and this address's lock of the account (the caller holds a
    /// session, so not the ceiling). `detail` goes into the audit event of a failure.
    pub(crate) async fn verify_current_password(
        &self,
        user_id: Uuid,
        current: &str,
        client: &ClientInfo,
        detail: &str,
    ) -> Result<UserRecord> {
        let issuer = self.issuer()?;
        self.check_rate(Limit::Login, client).await?;
        let user = issuer
            .store
            .user_by_id(user_id)
            .await?
            .ok_or(Error::Unauthenticated { token_sent: true })?;
        let account = self.pair_key(&account_key(Some(user.id), ""), client)?;
        let locks = self.begin_attempt(&account, Some(user.id), client).await?;
        let verdict = issuer
            .hasher
            .verify(current, Some(&user.password_hash))
            .await?;
        if verdict == Verdict::Mismatch {
            self.attempt_failed(Some(user.id), locks, client, detail)
                .await;
            return Err(Error::InvalidCredentials);
        }
        self.attempt_succeeded(&account).await?;
        Ok(user)
    }

    /// Change the password: needs the current one (checked like a login: it counts against the
    /// client IP's limit and the account's lockout), ends every other session, and returns a
    /// fresh pair for a new session of the caller.
    pub async fn change_password(
        &self,
        user_id: Uuid,
        current: &str,
        new: String,
        client: ClientInfo,
    ) -> Result<TokenPair> {
        self.change_password_from(user_id, current, new, client, false)
            .await
    }

    /// [`AuthState::change_password`] from a session that did (`second_factor`) or did not
    /// pass the second factor: the new session is at the same level, never higher.
    pub(crate) async fn change_password_from(
        &self,
        user_id: Uuid,
        current: &str,
        new: String,
        client: ClientInfo,
        second_factor: bool,
    ) -> Result<TokenPair> {
        let issuer = self.issuer()?;
        let detail = "wrong current password on password change";
        let user = self
            .verify_current_password(user_id, current, &client, detail)
            .await?;
        let identifiers = [user.email.as_str(), user.username.as_deref().unwrap_or("")];
        let policy = Policy {
            min_chars: issuer.cfg.min_password_length,
            identifiers: &identifiers,
        };
        let new = Password::check(new, policy).map_err(|e| Error::field("new_password", e))?;
        let hash = issuer.hasher.hash(&new).await?;
        issuer.store.set_password_hash(user.id, &hash).await?;
        // The caller gets a new session too: the old one's refresh token may be what leaked.
        self.end_all_sessions(user.id, None).await?;
        let event = Event::new(EventKind::PasswordChanged, &client).user(user.id);
        self.audit(event).await;
        let user = UserRecord {
            password_hash: hash,
            ..user
        };
        self.open_session_with(&user, false, client, second_factor)
            .await
    }
}

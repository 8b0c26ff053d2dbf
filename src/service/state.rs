//! `AuthState`: everything a request needs, cheap to clone, no globals.
//!
//! A full state (built by [`AuthState::build`]) issues and verifies tokens and owns the store. A
//! verify-only state (`AuthState::from_jwks_url`, in `remote`) trusts a separate authgate
//! server's JWKS: it serves the extractors only; it sees that server's revocations only when it
//! follows its revocation feed (`AuthState::from_jwks_url_with_feed`); otherwise its tokens stay
//! valid until they expire, at most the access-token lifetime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{Context, bail};
use uuid::Uuid;

use super::error::{Error, Result};
use super::remote::Remote;
use super::remote_feed::RevocationFeed;
use crate::clock::Clock;
use crate::config::{Settings, TokenClaim};
use crate::domain::LockoutPolicy;
use crate::domain::abuse::{AbusePolicy, MemoryBuckets, RepeatedEvents};
use crate::domain::{ForwardedHeader, JwtAlg};
use crate::hashing::Hasher;
use crate::mail::{Links, MailConfig, Mailer};
use crate::profiles::ProfileCache;
use crate::revocation::Revocations;
use crate::secrets::{self, Sealer};
use crate::store::Store;
use crate::token::sealed::Sealer as TotpSealer;
use crate::token::{KeyRing, Verifier, refresh};

/// Repeated refusals from one address are one audit row per this many milliseconds.
const REPEAT_WINDOW_MS: i64 = 60_000;

/// Lifetimes and limits of a running server (seconds unless noted).
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    pub alg: JwtAlg,
    pub access_ttl: i64,
    pub refresh_ttl: i64,
    pub remember_me_ttl: i64,
    pub refresh_grace: i64,
    pub leeway: i64,
    /// Minimum seconds between two `last_activity_at` writes for one session.
    pub activity_interval: i64,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub hash_concurrency: usize,
    /// Password hashes that may wait for a slot before logins get 503.
    pub hash_queue: usize,
    /// Minimum password length in characters.
    pub min_password_length: usize,
    /// Rate limits, lockout and trusted proxies.
    pub abuse: AbusePolicy,
    /// Seconds audit events are kept.
    pub audit_retention: i64,
    /// Live sessions a user may have; a new login ends the oldest beyond it.
    pub max_sessions_per_user: i64,
    /// Extra claims access tokens carry (`AUTHGATE_TOKEN_CLAIMS`).
    pub token_claims: Vec<TokenClaim>,
}

/// The shared state of authgate, generic-free so host apps can hold it in their own state and
/// hand it over with `FromRef`.
#[derive(Clone)]
pub struct AuthState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub verifier: RwLock<Arc<Verifier>>,
    pub clock: Clock,
    pub issuer: Option<Issuer>,
    pub remote: Option<Remote>,
}

/// The parts only a token-issuing authgate has (a verify-only state has none).
pub(crate) struct Issuer {
    pub store: Arc<dyn Store>,
    pub hasher: Hasher,
    pub revocations: Revocations,
    pub cfg: AuthConfig,
    pub rotation_key: Vec<u8>,
    /// Seals private keys and secrets at rest; `None` when no KEK is configured (PostgreSQL
    /// without `AUTHGATE_KEK_FILE`/`AUTHGATE_KEK`, warned about at start).
    pub sealer: Option<Arc<Sealer>>,
    /// `AUTHGATE_KEY_ROTATION` in seconds: add a new signing key when the newest is this old.
    pub key_rotation: Option<i64>,
    /// session → last time its activity was written.
    pub activity: Mutex<HashMap<Uuid, i64>>,
    /// Per-IP refresh buckets (in memory; see `super::abuse`).
    pub refresh_buckets: MemoryBuckets,
    /// What `/users/me` shows, by user (see `super::profile`).
    pub profiles: ProfileCache<Arc<super::Profile>>,
    /// Refusals held back from the audit log (see `super::audit`).
    pub repeated_events: RepeatedEvents,
    /// The key one-time tokens are stored under (HMAC-SHA256), shared by every instance.
    pub token_key: Vec<u8>,
    /// The key CSRF tokens of cookie sessions are signed with (see `super::csrf`), shared by
    /// every instance.
    pub csrf_key: Vec<u8>,
    /// Mail and the links in it (see `super::recovery`, `super::outbox`).
    pub recovery: Recovery,
    /// The second factor (see `super::mfa`).
    pub mfa: Mfa,
}

/// The second factor's settings and the key its secrets are sealed under.
pub(crate) struct Mfa {
    /// Seals TOTP secrets at rest (its key is a server secret like the rotation key).
    pub sealer: TotpSealer,
    /// The issuer authenticator apps show (AUTHGATE_ISSUER_NAME).
    pub issuer_name: String,
    /// Roles whose members must use a second factor (AUTHGATE_REQUIRE_MFA_ROLES).
    pub require_roles: Vec<String>,
}

/// The settings of the second factor that `AuthConfig` does not carry.
#[derive(Debug, Clone)]
pub(crate) struct MfaSettings {
    pub issuer_name: String,
    pub require_roles: Vec<String>,
}

impl MfaSettings {
    fn from_settings(settings: &Settings) -> Self {
        Self {
            issuer_name: settings.issuer_name.trim().to_owned(),
            require_roles: settings
                .require_mfa_roles
                .iter()
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .collect(),
        }
    }
}

/// The id of the key TOTP secrets are sealed under; a rotation adds `mfa-sealing-key-2` and
/// keeps this one for opening.
const SEALING_KEY_ID: &str = "k1";

/// Account recovery and verification: where mails go, what their links look like, how long
/// the links live.
pub(crate) struct Recovery {
    pub mailer: Mailer,
    pub links: Links,
    /// The base of authgate's own links (the sign-up notice points at it).
    pub public_url: String,
    /// AUTHGATE_CORS_ORIGINS: the browser origins the hosted pages also trust (`Origin` checks,
    /// `return_to`) and the only ones cookie refresh and logout accept requests from.
    pub cors_origins: Vec<String>,
    pub reset_ttl: i64,
    pub verify_ttl: i64,
    /// Refuse logins of unverified accounts; answer taken addresses at registration like new.
    pub require_verified_email: bool,
    /// Seconds sent mails stay in the outbox.
    pub mail_retention: i64,
}

impl Recovery {
    /// From the settings; a bad mail setting stops the start. Without AUTHGATE_PUBLIC_URL the
    /// links point at the issuer (the bind address; `Application` sets the real port).
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let public_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| settings.issuer());
        let links = Links::new(
            &public_url,
            settings.reset_url.as_deref(),
            settings.verify_url.as_deref(),
        )?;
        let mailer = Mailer::new(&MailConfig {
            smtp_url: settings.smtp_url.as_ref().map(|s| s.0.clone()),
            file_dir: settings.data_dir.join("mail"),
            from: settings.mail_from.clone(),
            product_name: settings.product_name.clone(),
            templates_dir: settings.mail_templates.clone(),
        })?;
        Ok(Self {
            mailer,
            links,
            public_url,
            cors_origins: settings.cors_origins.clone(),
            reset_ttl: settings.reset_ttl,
            verify_ttl: settings.verify_ttl,
            require_verified_email: settings.require_verified_email,
            mail_retention: settings.mail_retention,
        })
    }

    /// Defaults for a state built without settings (`AuthState::build`): mail as `.eml` files
    /// under `./data/mail`, links under the issuer, the settings' default lifetimes. Reads no
    /// environment.
    fn fallback(issuer: &str) -> anyhow::Result<Self> {
        let mailer = Mailer::new(&MailConfig {
            smtp_url: None,
            file_dir: std::path::PathBuf::from("./data/mail"),
            from: None,
            product_name: "authgate".to_owned(),
            templates_dir: None,
        })?;
        Ok(Self {
            mailer,
            links: Links::new(issuer, None, None)?,
            public_url: issuer.to_owned(),
            cors_origins: Vec::new(),
            reset_ttl: 30 * 60,
            verify_ttl: 24 * 3600,
            require_verified_email: false,
            mail_retention: 7 * 86_400,
        })
    }
}

impl AuthState {
    /// Build a full server state over a migrated store: loads (or creates) the signing keys,
    /// runs a sign-and-verify self-test, and loads the persisted revocation list.
    /// Private keys and secrets are stored in plaintext (a server built from `Settings` seals
    /// them under its key-encryption key).
    pub async fn build(
        cfg: AuthConfig,
        store: Arc<dyn Store>,
        hs256_secret: Option<&[u8]>,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let recovery = Recovery::fallback(&cfg.issuer)?;
        let mfa = MfaSettings {
            issuer_name: "authgate".to_owned(),
            require_roles: Vec::new(),
        };
        let parts = (recovery, mfa);
        Self::build_sealed(cfg, parts, store, hs256_secret, None, None, clock).await
    }

    /// As [`AuthState::build`], with recovery and two-factor settings, sealing private keys and
    /// server secrets at rest under the key-encryption key of `sealer` (and sealing any still
    /// stored in plaintext).
    pub(crate) async fn build_sealed(
        cfg: AuthConfig,
        (recovery, mfa): (Recovery, MfaSettings),
        store: Arc<dyn Store>,
        hs256_secret: Option<&[u8]>,
        sealer: Option<Sealer>,
        key_rotation: Option<i64>,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let now = clock.now();
        let sealer = sealer.map(Arc::new);
        let keys = KeyRing::load(
            store.as_ref(),
            cfg.alg,
            hs256_secret,
            sealer.as_deref(),
            now,
        )
        .await?;
        let verifier = Verifier::new(Arc::new(keys), &cfg.issuer, &cfg.audience, cfg.leeway);
        self_test(&verifier, now)?;
        let ttl = cfg.access_ttl + cfg.leeway;
        let revocations = Revocations::load(store.clone(), ttl, now).await?;
        // Server secrets: the first instance's value wins; sealed under the KEK when there is one.
        let sealer_ref = sealer.as_deref();
        let (store_ref, fresh) = (store.as_ref(), refresh::generate);
        let rotation_key =
            server_secret(store_ref, sealer_ref, "refresh-rotation-key", &fresh(), now).await?;
        let token_key =
            server_secret(store_ref, sealer_ref, "one-time-token-key", &fresh(), now).await?;
        let sealing_key =
            server_secret(store_ref, sealer_ref, "mfa-sealing-key-1", &fresh(), now).await?;
        let csrf_key = server_secret(store_ref, sealer_ref, "csrf-key", &fresh(), now).await?;
        let mfa = Mfa {
            sealer: TotpSealer::new((SEALING_KEY_ID, sealing_key.as_slice()), &[]),
            issuer_name: mfa.issuer_name,
            require_roles: mfa.require_roles,
        };
        let hasher = Hasher::new(
            cfg.argon2_memory_kib,
            cfg.argon2_iterations,
            1,
            cfg.hash_concurrency,
            cfg.hash_queue,
        )?;
        let issuer = Issuer {
            store,
            hasher,
            revocations,
            cfg,
            rotation_key,
            sealer,
            key_rotation,
            activity: Mutex::new(HashMap::new()),
            refresh_buckets: MemoryBuckets::default(),
            profiles: ProfileCache::default(),
            repeated_events: RepeatedEvents::new(REPEAT_WINDOW_MS),
            token_key,
            csrf_key,
            recovery,
            mfa,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                verifier: RwLock::new(Arc::new(verifier)),
                clock,
                issuer: Some(issuer),
                remote: None,
            }),
        })
    }

    /// Proxies whose forwarding headers are believed (none for a verify-only state).
    pub(crate) fn trusted_proxies(&self) -> (&[ipnet::IpNet], ForwardedHeader) {
        self.inner
            .issuer
            .as_ref()
            .map_or((&[], ForwardedHeader::default()), |s| {
                let abuse = &s.cfg.abuse;
                (abuse.trusted_proxies.as_slice(), abuse.forwarded_header)
            })
    }

    /// The clock (tests move it).
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The token verifier currently in force.
    pub(crate) fn verifier(&self) -> Arc<Verifier> {
        self.inner
            .verifier
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A full state for `settings`, for host apps that mount authgate into their own router:
    /// opens and migrates the configured database, loads or creates the signing keys.
    pub async fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        Self::from_settings_with_clock(settings, Clock::default()).await
    }

    /// As [`AuthState::from_settings`], with a clock the caller can move (tests).
    pub async fn from_settings_with_clock(
        settings: &Settings,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        settings.validate()?;
        let recovery = Recovery::from_settings(settings)?;
        let mfa = MfaSettings::from_settings(settings);
        let store = open_store(settings).await?;
        let secret = settings.jwt_secret.as_ref().map(|s| s.0.as_bytes());
        let sealer = sealer(settings)?;
        let rotation = settings.key_rotation.filter(|&s| s > 0);
        let parts = (recovery, mfa);
        Self::build_sealed(
            auth_config(settings),
            parts,
            store,
            secret,
            sealer,
            rotation,
            clock,
        )
        .await
    }

    /// Open the configured database and apply its migrations (`authgate migrate`).
    pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
        settings.validate()?;
        open_store(settings).await.map(drop)
    }

    /// The issuing half of the state; an error in a verify-only state.
    pub(crate) fn issuer(&self) -> Result<&Issuer> {
        self.inner.issuer.as_ref().ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "this AuthState verifies tokens only; it cannot serve the authgate API"
            ))
        })
    }

    /// A verify-only state trusting the authgate server whose JWKS is at `jwks_url`.
    /// Unknown `kid`s trigger a re-fetch (at most once a minute), so key rotation is picked up.
    /// It does not see that server's revocations: use [`AuthState::from_jwks_url_with_feed`]
    /// for that.
    pub async fn from_jwks_url(
        jwks_url: &str,
        alg: JwtAlg,
        issuer: &str,
        audience: &str,
    ) -> anyhow::Result<Self> {
        Self::remote(jwks_url, alg, issuer, audience, None).await
    }

    /// As [`AuthState::from_jwks_url`], also following the server's revocation feed: a logout,
    /// deactivation or role change there applies here within a second, and while the feed is
    /// silent for longer than its staleness, tokens are refused with 503 (fail closed) unless
    /// the feed was configured [`RevocationFeed::fail_open`]. Fails if the feed cannot be read
    /// at start (a wrong URL or credential).
    pub async fn from_jwks_url_with_feed(
        jwks_url: &str,
        alg: JwtAlg,
        issuer: &str,
        audience: &str,
        feed: RevocationFeed,
    ) -> anyhow::Result<Self> {
        Self::remote(jwks_url, alg, issuer, audience, Some(feed)).await
    }

    async fn remote(
        jwks_url: &str,
        alg: JwtAlg,
        issuer: &str,
        audience: &str,
        feed: Option<RevocationFeed>,
    ) -> anyhow::Result<Self> {
        if alg == JwtAlg::HS256 {
            bail!("HS256 keys are secret and never published; share AUTHGATE_JWT_SECRET instead");
        }
        let clock = Clock::default();
        let feed = match feed {
            Some(feed) => Some(super::remote_feed::follow(feed).await?),
            None => None,
        };
        let remote = Remote {
            jwks_url: jwks_url.to_owned(),
            alg,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            leeway: 30,
            last_fetch: Mutex::new(clock.now()),
            feed,
        };
        let verifier = remote.fetch().await?;
        Ok(Self {
            inner: Arc::new(Inner {
                verifier: RwLock::new(Arc::new(verifier)),
                clock,
                issuer: None,
                remote: Some(remote),
            }),
        })
    }

    /// Re-fetch a remote JWKS if the last fetch is over a minute old. Returns whether it did.
    pub(crate) async fn refresh_remote_keys(&self) -> bool {
        let Some(remote) = &self.inner.remote else {
            return false;
        };
        let now = self.inner.clock.now();
        {
            let mut last = remote.last_fetch.lock().unwrap_or_else(|p| p.into_inner());
            if now - *last < 60 {
                return false;
            }
            *last = now;
        }
        match remote.fetch().await {
            Ok(v) => {
                *self
                    .inner
                    .verifier
                    .write()
                    .unwrap_or_else(|p| p.into_inner()) = Arc::new(v);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not refresh the remote JWKS");
                false
            }
        }
    }
}

/// The sealer for the configured key-encryption key: `AUTHGATE_KEK`, `AUTHGATE_KEK_FILE`, or
/// for SQLite a KEK generated into the data directory. `None` for PostgreSQL without one: the
/// instances of a deployment must share the KEK, so none is made up per instance (startup
/// warns).
fn sealer(settings: &Settings) -> anyhow::Result<Option<Sealer>> {
    let kek = if let Some(kek) = &settings.kek {
        secrets::kek_from_text(&kek.0).context("AUTHGATE_KEK")?
    } else if let Some(path) = &settings.kek_file {
        secrets::kek_from_file(path).context("AUTHGATE_KEK_FILE")?
    } else if settings.uses_postgres() {
        return Ok(None);
    } else {
        secrets::kek_from_file_or_create(&settings.data_dir.join("kek"))?
    };
    let sealer = Sealer::new(&kek);
    tracing::info!(
        kek_id = sealer.id(),
        "private keys and secrets are sealed at rest"
    );
    Ok(Some(sealer))
}

/// The server secret `name` (created from `candidate` by the first instance to start), sealed
/// at rest when there is a `sealer`; a value stored in plaintext before is sealed in place.
/// Every server-side secret goes through here.
pub(crate) async fn server_secret(
    store: &dyn Store,
    sealer: Option<&Sealer>,
    name: &str,
    candidate: &str,
    now: i64,
) -> anyhow::Result<Vec<u8>> {
    let candidate = match sealer {
        Some(sealer) => sealer.seal(candidate.as_bytes())?,
        None => candidate.to_owned(),
    };
    let stored = store.secret(name, &candidate, now).await?;
    match (secrets::sealed_with(&stored), sealer) {
        (Some(_), Some(sealer)) => sealer
            .open(&stored)
            .with_context(|| format!("could not open the server secret {name}")),
        (Some(id), None) => bail!(
            "the server secret {name} is encrypted under key-encryption key {id}: set \
             AUTHGATE_KEK_FILE or AUTHGATE_KEK to it"
        ),
        (None, Some(sealer)) => {
            store
                .reseal_secret(name, &stored, &sealer.seal(stored.as_bytes())?)
                .await?;
            tracing::info!(name, "sealed a plaintext server secret under the KEK");
            Ok(stored.into_bytes())
        }
        (None, None) => Ok(stored.into_bytes()),
    }
}

/// Open the configured database and apply migrations.
async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings.database_url()?;
    let store = crate::store::connect(&url).await?;
    store
        .migrate()
        .await
        .context("applying migrations failed")?;
    Ok(store)
}

/// The lifetimes and limits a server runs with, from its settings.
fn auth_config(settings: &Settings) -> AuthConfig {
    AuthConfig {
        issuer: settings.issuer(),
        audience: settings.audience.clone(),
        alg: settings.jwt_alg,
        access_ttl: settings.access_ttl,
        refresh_ttl: settings.refresh_ttl,
        remember_me_ttl: settings.remember_me_ttl,
        refresh_grace: settings.refresh_grace,
        leeway: settings.leeway,
        activity_interval: 60,
        argon2_memory_kib: settings.argon2_memory_kib,
        argon2_iterations: settings.argon2_iterations,
        hash_concurrency: settings
            .hash_concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        hash_queue: settings.hash_queue,
        min_password_length: settings.min_password_length,
        abuse: AbusePolicy {
            login: settings.login_rate_limit.rate(),
            register: settings.register_rate_limit.rate(),
            refresh: settings.refresh_rate_limit.rate(),
            recovery: settings.recovery_rate_limit.rate(),
            lockout: (settings.lockout_threshold > 0).then_some(LockoutPolicy {
                threshold: settings.lockout_threshold,
                first_lock: settings.lockout_duration,
                max_lock: settings.lockout_max,
            }),
            account_login: settings.account_login_rate_limit.rate(),
            trusted_proxies: settings.trusted_proxies.clone(),
            forwarded_header: settings.forwarded_header,
            ipv6_prefix: settings.ipv6_prefix,
        },
        audit_retention: settings.audit_retention,
        max_sessions_per_user: settings.max_sessions_per_user,
        token_claims: settings.token_claims.clone(),
    }
}

/// Sign and verify a throwaway token, so a broken key or crypto backend stops the start.
fn self_test(verifier: &Verifier, now: i64) -> anyhow::Result<()> {
    let claims = verifier.claims(Uuid::nil(), Uuid::nil(), vec![], now, 60);
    let token = verifier.sign(&claims).context("signing self-test failed")?;
    match verifier.verify(&token, now) {
        Ok(back) if back == claims => Ok(()),
        Ok(_) => bail!("signing self-test: claims changed in a round trip"),
        Err(e) => bail!("signing self-test: could not verify our own token: {e}"),
    }
}

//! Settings: CLI flags, `AUTHGATE_*` environment variables and an optional `.env`, in that order
//! of precedence (clap reads the environment; `main` loads `.env` into it first). Validated at
//! start-up, so a bad configuration fails before the server binds.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use crate::domain::abuse::defaults;
use crate::domain::{ForwardedHeader, JwtAlg};

mod values;
pub use values::{RateLimit, Secret, check_hs256_secret, parse_duration};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// A claim access tokens may carry besides the standard ones, for verifiers that read it
/// (`AUTHGATE_TOKEN_CLAIMS=email,username`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenClaim {
    /// The account's e-mail address, as `email`.
    Email,
    /// The username (when the account has one), as `preferred_username`'s plain sibling
    /// `username`.
    Username,
}

/// Everything configurable. `--help` lists each flag with its variable and default.
#[derive(Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "AUTHGATE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Directory for the embedded SQLite database (created on first start).
    #[arg(long, env = "AUTHGATE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// PostgreSQL (`postgres://…`) or SQLite (`sqlite://…`) URL; overrides the data-dir database.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// The `iss` of issued tokens; defaults to `http://<bind>`.
    #[arg(long, env = "AUTHGATE_ISSUER")]
    pub issuer: Option<String>,
    /// The `aud` of issued tokens, and the only audience accepted.
    #[arg(long, env = "AUTHGATE_AUDIENCE", default_value = "authgate")]
    pub audience: String,
    /// Signing algorithm: EdDSA (default), ES256, RS256, or HS256 (shared secret).
    #[arg(long, env = "AUTHGATE_JWT_ALG", default_value = "EdDSA", value_enum)]
    pub jwt_alg: JwtAlg,
    /// Shared secret for HS256 (at least 32 random bytes; never a tutorial's example value).
    #[arg(long, env = "AUTHGATE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// Access-token lifetime (e.g. 15m, 900s).
    #[arg(long, env = "AUTHGATE_ACCESS_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_ttl: i64,
    /// Idle lifetime of a session without "remember me": it ends if not refreshed for this long.
    #[arg(long, env = "AUTHGATE_REFRESH_TTL", default_value = "24h", value_parser = parse_duration)]
    pub refresh_ttl: i64,
    /// Lifetime of a "remember me" session, and the absolute cap on every session.
    #[arg(long, env = "AUTHGATE_REMEMBER_ME_TTL", default_value = "30d", value_parser = parse_duration)]
    pub remember_me_ttl: i64,
    /// How long a just-rotated refresh token may be presented again (parallel tabs, retries):
    /// 0 to 60 seconds.
    #[arg(long, env = "AUTHGATE_REFRESH_GRACE", default_value = "10s", value_parser = parse_grace)]
    pub refresh_grace: i64,
    /// Allowed clock skew when checking exp/nbf/iat.
    #[arg(long, env = "AUTHGATE_LEEWAY", default_value = "30s", value_parser = parse_duration)]
    pub leeway: i64,
    /// Origins allowed by CORS, comma-separated (none by default).
    #[arg(long, env = "AUTHGATE_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Log format.
    #[arg(long, env = "AUTHGATE_LOG_FORMAT", default_value = "text", value_enum)]
    pub log_format: LogFormat,
    /// argon2id memory in KiB (minimum 19456).
    #[arg(long, env = "AUTHGATE_ARGON2_MEMORY_KIB", default_value_t = 19456)]
    pub argon2_memory_kib: u32,
    /// argon2id iterations (minimum 2).
    #[arg(long, env = "AUTHGATE_ARGON2_ITERATIONS", default_value_t = 2)]
    pub argon2_iterations: u32,
    /// Password hashes computed at once; defaults to the number of cores.
    #[arg(long, env = "AUTHGATE_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,
    /// How long a client may take to send a request's head; a keep-alive connection idle for
    /// this long is closed too.
    #[arg(long, env = "AUTHGATE_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: i64,
    /// Open connections at most; beyond, new ones wait until one closes. Defaults to what the
    /// open-file limit allows (raised to the hard limit at start), at most 10,000.
    #[arg(long, env = "AUTHGATE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "AUTHGATE_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// Largest total size of request headers accepted, in bytes (431 beyond it).
    #[arg(long, env = "AUTHGATE_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,
    /// Password hashes allowed to wait for a free hashing slot; beyond that, logins get 503.
    #[arg(long, env = "AUTHGATE_HASH_QUEUE", default_value_t = 64)]
    pub hash_queue: usize,
    /// Login attempts (token, login, password change) per client IP: `N/DURATION` or `off`.
    #[arg(long, env = "AUTHGATE_LOGIN_RATE_LIMIT", default_value = defaults::LOGIN_RATE, value_parser = RateLimit::parse)]
    pub login_rate_limit: RateLimit,
    /// Registrations per client IP: `N/DURATION` or `off`.
    #[arg(long, env = "AUTHGATE_REGISTER_RATE_LIMIT", default_value = defaults::REGISTER_RATE, value_parser = RateLimit::parse)]
    pub register_rate_limit: RateLimit,
    /// Refreshes per client IP (counted per instance, in memory): `N/DURATION` or `off`.
    #[arg(long, env = "AUTHGATE_REFRESH_RATE_LIMIT", default_value = defaults::REFRESH_RATE, value_parser = RateLimit::parse)]
    pub refresh_rate_limit: RateLimit,
    /// Consecutive failed logins that lock an account from one address, or burn a device token
    /// (0 turns every per-account limit off).
    #[arg(long, env = "AUTHGATE_LOCKOUT_THRESHOLD", default_value_t = defaults::LOCKOUT_THRESHOLD)]
    pub lockout_threshold: i64,
    /// How long the first lock lasts; each further lock doubles, up to the maximum.
    #[arg(long, env = "AUTHGATE_LOCKOUT_DURATION", default_value = defaults::LOCKOUT_DURATION, value_parser = parse_duration)]
    pub lockout_duration: i64,
    /// The longest a lock lasts.
    #[arg(long, env = "AUTHGATE_LOCKOUT_MAX", default_value = defaults::LOCKOUT_MAX, value_parser = parse_duration)]
    pub lockout_max: i64,
    /// Password attempts without a device token per account, from all addresses together:
    /// `N/DURATION` or `off`. Beyond it only a device token (from an earlier login) gets in.
    #[arg(long, env = "AUTHGATE_ACCOUNT_LOGIN_RATE_LIMIT", default_value = defaults::ACCOUNT_LOGIN_RATE, value_parser = RateLimit::parse)]
    pub account_login_rate_limit: RateLimit,
    /// Proxies (CIDRs, comma-separated) whose X-Forwarded-For / Forwarded headers are believed.
    /// Without this, the client IP is the socket's peer and those headers are ignored.
    #[arg(long, env = "AUTHGATE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The one header trusted proxies name the client in: x-forwarded-for, forwarded (RFC 7239)
    /// or x-real-ip. The others are ignored, whatever a client sends.
    #[arg(
        long,
        env = "AUTHGATE_FORWARDED_HEADER",
        default_value = "x-forwarded-for",
        value_enum
    )]
    pub forwarded_header: ForwardedHeader,
    /// IPv6 clients share each per-IP limit per network of this prefix length (a host usually
    /// owns a whole /64).
    #[arg(long, env = "AUTHGATE_IPV6_PREFIX", default_value_t = defaults::IPV6_PREFIX,
          value_parser = clap::value_parser!(u8).range(32..=128))]
    pub ipv6_prefix: u8,
    /// Minimum password length in characters (8 to 64).
    #[arg(long, env = "AUTHGATE_MIN_PASSWORD_LENGTH", default_value_t = 8)]
    pub min_password_length: usize,
    /// Send `Strict-Transport-Security` with this max-age (set it when clients reach authgate
    /// over HTTPS, e.g. behind a TLS-terminating proxy).
    #[arg(long, env = "AUTHGATE_HSTS_MAX_AGE", value_parser = parse_duration)]
    pub hsts_max_age: Option<i64>,
    /// Live sessions (devices) a user may have; a new login ends the oldest beyond this.
    #[arg(long, env = "AUTHGATE_MAX_SESSIONS_PER_USER", default_value_t = 100)]
    pub max_sessions_per_user: i64,
    /// Key-encryption key sealing private keys and server secrets at rest: 32 random bytes as
    /// 64 hex digits or base64 (e.g. `openssl rand -hex 32`). Prefer AUTHGATE_KEK_FILE.
    #[arg(long, env = "AUTHGATE_KEK", hide_env_values = true)]
    pub kek: Option<Secret>,
    /// File holding the key-encryption key (its text form, or 32 raw bytes). Default with
    /// SQLite: `<data-dir>/kek`, generated (mode 0600) on first start; with PostgreSQL, every
    /// instance needs the same one (without it, keys are stored unencrypted, with a warning).
    #[arg(long, env = "AUTHGATE_KEK_FILE", conflicts_with = "kek")]
    pub kek_file: Option<PathBuf>,
    /// Rotate the signing key when it is this old (e.g. 30d), coordinated so that one
    /// instance does it; `off` (the default) rotates only on `authgate keys rotate`.
    #[arg(long, env = "AUTHGATE_KEY_ROTATION", value_parser = parse_rotation)]
    pub key_rotation: Option<i64>,
    /// Serve Prometheus metrics at `/metrics` on this separate address (e.g. 127.0.0.1:9090);
    /// off when unset. Keep it off the public network: it has no authentication.
    #[arg(long, env = "AUTHGATE_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// How long audit-log events are kept.
    #[arg(long, env = "AUTHGATE_AUDIT_RETENTION", default_value = "90d", value_parser = parse_duration)]
    pub audit_retention: i64,
    /// SMTP server for mail: `smtps://user:pass@host:465`, `smtp://user:pass@host:587`
    /// (STARTTLS required) or `smtp+insecure://localhost:1025` (a local catcher; loopback only).
    /// Unset: mails are written as `.eml` files under `<data-dir>/mail/` and not delivered.
    #[arg(long, env = "AUTHGATE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<Secret>,
    /// The sender of every mail (`Name <address>`); required with AUTHGATE_SMTP_URL.
    #[arg(long, env = "AUTHGATE_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// The base URL of every link in mails (`https://auth.example.com`); required with
    /// AUTHGATE_SMTP_URL. Without SMTP it defaults to the server's own listen address.
    #[arg(long, env = "AUTHGATE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Where reset links point, for apps with their own page: `https://app.example/reset?token={token}`.
    /// Default: authgate's own page, `<public-url>/reset-password?token={token}`.
    #[arg(long, env = "AUTHGATE_RESET_URL")]
    pub reset_url: Option<String>,
    /// Where verification links point (`{token}` is replaced). Default:
    /// `<public-url>/verify-email?token={token}`.
    #[arg(long, env = "AUTHGATE_VERIFY_URL")]
    pub verify_url: Option<String>,
    /// A directory whose files replace the built-in mail templates of the same name.
    #[arg(long, env = "AUTHGATE_MAIL_TEMPLATES")]
    pub mail_templates: Option<PathBuf>,
    /// The product name mails are signed with.
    #[arg(long, env = "AUTHGATE_PRODUCT_NAME", default_value = "authgate")]
    pub product_name: String,
    /// Lifetime of a password reset link.
    #[arg(long, env = "AUTHGATE_RESET_TTL", default_value = "30m", value_parser = parse_duration)]
    pub reset_ttl: i64,
    /// Lifetime of an e-mail verification link.
    #[arg(long, env = "AUTHGATE_VERIFY_TTL", default_value = "24h", value_parser = parse_duration)]
    pub verify_ttl: i64,
    /// Refuse logins of accounts whose address is not verified (403 `email_not_verified`),
    /// and answer a registration with a taken address like any other (no enumeration).
    #[arg(long, env = "AUTHGATE_REQUIRE_VERIFIED_EMAIL", default_value_t = false,
          action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub require_verified_email: bool,
    /// Password-reset and verification requests per client IP: `N/DURATION` or `off`.
    #[arg(long, env = "AUTHGATE_RECOVERY_RATE_LIMIT", default_value = defaults::RECOVERY_RATE, value_parser = RateLimit::parse)]
    pub recovery_rate_limit: RateLimit,
    /// How long sent (or given-up) mails stay in the outbox.
    #[arg(long, env = "AUTHGATE_MAIL_RETENTION", default_value = "7d", value_parser = parse_duration)]
    pub mail_retention: i64,
    /// Extra claims in access tokens, comma-separated: `email`, `username` (none by default).
    /// For services whose own code reads them; every token then carries personal data, and a
    /// changed e-mail or username reaches tokens at the next refresh.
    #[arg(long, env = "AUTHGATE_TOKEN_CLAIMS", value_delimiter = ',', value_enum)]
    pub token_claims: Vec<TokenClaim>,
    /// The issuer authenticator apps show beside a TOTP account (no colon).
    #[arg(long, env = "AUTHGATE_ISSUER_NAME", default_value = "authgate")]
    pub issuer_name: String,
    /// Roles whose members must use a second factor (comma-separated; none by default). A
    /// member without one gets a restricted token that reaches only the enrolment endpoints.
    #[arg(long, env = "AUTHGATE_REQUIRE_MFA_ROLES", value_delimiter = ',')]
    pub require_mfa_roles: Vec<String>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("database", &self.database_url.as_deref().map(redact_url))
            .field("issuer", &self.issuer())
            .field("audience", &self.audience)
            .field("jwt_alg", &self.jwt_alg)
            .field("smtp", &self.smtp_url.as_ref().map(|u| redact_url(&u.0)))
            .finish_non_exhaustive()
    }
}

/// A duration that may also be zero (`0`, `0s`): no grace at all.
fn parse_grace(s: &str) -> Result<i64, String> {
    match s.trim() {
        "0" | "0s" => Ok(0),
        other => parse_duration(other),
    }
}

/// A rotation period: a duration of at least a day (a shorter one would retire keys while
/// their tokens live), or `off` (0).
fn parse_rotation(s: &str) -> Result<i64, String> {
    match s.trim() {
        "off" | "0" => Ok(0),
        other => parse_duration(other).and_then(|d| {
            if d < 86_400 {
                Err("must be at least 1d (or off)".to_owned())
            } else {
                Ok(d)
            }
        }),
    }
}

fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl Settings {
    /// Parse the settings from an iterator of arguments (no subcommand), reading the environment.
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Result<Self, clap::Error> {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            s: Settings,
        }
        use clap::Parser;
        Only::try_parse_from(std::iter::once("authgate".to_owned()).chain(args)).map(|o| o.s)
    }

    /// Settings that weaken a default on purpose; the server prints each at start-up.
    pub fn warnings(&self) -> Vec<&'static str> {
        let mut warnings = Vec::new();
        if self.login_rate_limit.0.is_none() {
            warnings.push(
                "AUTHGATE_LOGIN_RATE_LIMIT=off: nothing limits password guessing per client IP",
            );
        }
        if self.register_rate_limit.0.is_none() {
            warnings.push(
                "AUTHGATE_REGISTER_RATE_LIMIT=off: one client may create accounts without limit",
            );
        }
        if self.refresh_rate_limit.0.is_none() {
            warnings
                .push("AUTHGATE_REFRESH_RATE_LIMIT=off: refreshes are not limited per client IP");
        }
        if self.lockout_threshold > 0 && self.account_login_rate_limit.0.is_none() {
            warnings.push(
                "AUTHGATE_ACCOUNT_LOGIN_RATE_LIMIT=off: guesses from many addresses at one \
                 account are not limited",
            );
        }
        if self.recovery_rate_limit.0.is_none() {
            warnings.push(
                "AUTHGATE_RECOVERY_RATE_LIMIT=off: one client may request reset mails without limit",
            );
        }
        if self.uses_postgres() && self.kek.is_none() && self.kek_file.is_none() {
            warnings.push(
                "no AUTHGATE_KEK_FILE or AUTHGATE_KEK: private signing keys and server secrets \
                 are stored unencrypted in PostgreSQL, so a copy of the database can mint tokens",
            );
        }
        if self.uses_postgres() && self.issuer.is_none() {
            warnings.push(
                "no AUTHGATE_ISSUER with PostgreSQL: the issuer defaults to this instance's bind \
                 address, so other instances sharing the database refuse its tokens; set the \
                 same AUTHGATE_ISSUER on every instance",
            );
        }
        if self.lockout_threshold == 0 {
            warnings.push(
                "AUTHGATE_LOCKOUT_THRESHOLD=0: accounts are never locked after failed logins",
            );
        }
        warnings
    }

    /// Whether the database is PostgreSQL (else SQLite).
    pub fn uses_postgres(&self) -> bool {
        self.database_url
            .as_deref()
            .is_some_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
    }

    /// The issuer, defaulting to the bind address.
    pub fn issuer(&self) -> String {
        self.issuer
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
    }

    /// The database URL: DATABASE_URL, or SQLite in the data directory.
    pub fn database_url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        std::fs::create_dir_all(&self.data_dir).with_context(|| {
            format!(
                "could not create the data directory {}",
                self.data_dir.display()
            )
        })?;
        Ok(format!(
            "sqlite://{}?mode=rwc",
            self.data_dir.join("authgate.db").display()
        ))
    }

    /// Refuse insecure or inconsistent settings with a message that says what to change.
    pub fn validate(&self) -> anyhow::Result<()> {
        match (self.jwt_alg, &self.jwt_secret) {
            (JwtAlg::HS256, None) => bail!("AUTHGATE_JWT_ALG=HS256 needs AUTHGATE_JWT_SECRET"),
            (JwtAlg::HS256, Some(s)) => check_hs256_secret(&s.0)?,
            (_, Some(_)) => {
                bail!("AUTHGATE_JWT_SECRET is only used with AUTHGATE_JWT_ALG=HS256; unset it")
            }
            _ => {}
        }
        if self.argon2_memory_kib < 19456 || self.argon2_iterations < 2 {
            bail!("argon2id needs at least 19456 KiB and 2 iterations (OWASP minimum)");
        }
        if self.access_ttl > 3600 {
            bail!(
                "AUTHGATE_ACCESS_TTL must be at most 1h: access tokens cannot be recalled from other services"
            );
        }
        if self.refresh_ttl > self.remember_me_ttl {
            bail!("AUTHGATE_REFRESH_TTL must not exceed AUTHGATE_REMEMBER_ME_TTL");
        }
        if !(0..=60).contains(&self.refresh_grace) {
            bail!(
                "AUTHGATE_REFRESH_GRACE must be between 0 and 60s: a longer window lets a stolen \
                 refresh token be replayed unnoticed"
            );
        }
        if self.leeway > 300 {
            bail!("AUTHGATE_LEEWAY must be at most 5m");
        }
        if self.max_body_bytes < 1024 {
            bail!("AUTHGATE_MAX_BODY_BYTES must be at least 1024");
        }
        if self.max_header_bytes < 1024 {
            bail!("AUTHGATE_MAX_HEADER_BYTES must be at least 1024");
        }
        if !(8..=64).contains(&self.min_password_length) {
            bail!("AUTHGATE_MIN_PASSWORD_LENGTH must be between 8 and 64 (NIST SP 800-63B)");
        }
        if self.lockout_threshold < 0 || self.lockout_threshold > 100 {
            bail!("AUTHGATE_LOCKOUT_THRESHOLD must be between 1 and 100 (0 turns lockout off)");
        }
        let name = self.issuer_name.trim();
        if name.is_empty() || name.contains(':') || name.len() > 64 {
            bail!(
                "AUTHGATE_ISSUER_NAME must be 1 to 64 characters without a colon (authenticator apps split on it)"
            );
        }
        if !(1..=10_000).contains(&self.max_sessions_per_user) {
            bail!("AUTHGATE_MAX_SESSIONS_PER_USER must be between 1 and 10000");
        }
        if self.lockout_max < self.lockout_duration {
            bail!("AUTHGATE_LOCKOUT_MAX must not be shorter than AUTHGATE_LOCKOUT_DURATION");
        }
        if self.smtp_url.is_some() {
            if self.public_url.is_none() {
                bail!(
                    "AUTHGATE_PUBLIC_URL is required with AUTHGATE_SMTP_URL: it is the base of \
                     every link in the mails (e.g. https://auth.example.com)"
                );
            }
            if self.mail_from.is_none() {
                bail!(
                    "AUTHGATE_MAIL_FROM is required with AUTHGATE_SMTP_URL (e.g. \
                     \"Example <no-reply@example.com>\")"
                );
            }
        }
        if !(60..=86_400).contains(&self.reset_ttl) {
            bail!("AUTHGATE_RESET_TTL must be between 1m and 24h");
        }
        if !(60..=30 * 86_400).contains(&self.verify_ttl) {
            bail!("AUTHGATE_VERIFY_TTL must be between 1m and 30d");
        }
        for origin in &self.cors_origins {
            if origin == "*" {
                bail!("AUTHGATE_CORS_ORIGINS=* is not allowed: list the origins");
            }
            axum::http::HeaderValue::from_str(origin)
                .with_context(|| format!("invalid CORS origin {origin:?}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_secure_and_valid() {
        let s = Settings::from_args(Vec::<String>::new()).unwrap();
        s.validate().unwrap();
        assert_eq!(s.jwt_alg, JwtAlg::EdDSA);
        assert_eq!(s.access_ttl, 900);
        assert!(s.cors_origins.is_empty());
        assert!(s.warnings().is_empty(), "{:?}", s.warnings());
        assert!(s.login_rate_limit.0.is_some() && s.lockout_threshold > 0);
        assert!(
            s.trusted_proxies.is_empty(),
            "no proxy is trusted by default"
        );
    }

    #[test]
    fn the_refresh_grace_may_be_zero() {
        let s = Settings::from_args(["--refresh-grace", "0"].map(String::from)).unwrap();
        s.validate().unwrap();
        assert_eq!(s.refresh_grace, 0);
    }

    #[test]
    fn turning_a_protection_off_is_allowed_but_warned_about() {
        let s = Settings::from_args(
            ["--login-rate-limit", "off", "--lockout-threshold", "0"].map(String::from),
        )
        .unwrap();
        s.validate().unwrap();
        let warnings = s.warnings().join("\n");
        assert!(warnings.contains("LOGIN_RATE_LIMIT=off"), "{warnings}");
        assert!(warnings.contains("LOCKOUT_THRESHOLD=0"), "{warnings}");
    }

    #[test]
    fn insecure_settings_are_refused_with_the_reason() {
        for (args, why) in [
            (vec!["--access-ttl", "2h"], "at most 1h"),
            (vec!["--argon2-memory-kib", "4096"], "19456"),
            (vec!["--argon2-iterations", "1"], "19456"),
            (vec!["--cors-origins", "*"], "not allowed"),
            (vec!["--leeway", "10m"], "at most 5m"),
            (vec!["--refresh-grace", "2m"], "between 0 and 60s"),
            (vec!["--refresh-ttl", "60d"], "must not exceed"),
            (vec!["--min-password-length", "6"], "between 8 and 64"),
            (vec!["--lockout-duration", "1h"], "must not be shorter"),
            (vec!["--max-sessions-per-user", "0"], "between 1 and 10000"),
            (
                vec!["--smtp-url", "smtps://m.example.com"],
                "AUTHGATE_PUBLIC_URL is required",
            ),
            (
                vec![
                    "--smtp-url",
                    "smtps://m.example.com",
                    "--public-url",
                    "https://a",
                ],
                "AUTHGATE_MAIL_FROM is required",
            ),
            (vec!["--reset-ttl", "2d"], "between 1m and 24h"),
            (
                vec!["--jwt-secret", "q8Xv3LrT0pZ2mN7sKc4yWb9eHf1gJd6uAo5iRtE="],
                "only used with",
            ),
        ] {
            let s = Settings::from_args(args.iter().map(|a| a.to_string())).unwrap();
            let err = s.validate().expect_err(why).to_string();
            assert!(err.contains(why), "{args:?}: {err}");
        }
    }

    #[test]
    fn debug_never_shows_secrets_or_database_passwords() {
        let s = Settings::from_args(
            [
                "--database-url",
                "postgres://u:hunter2@db/x",
                "--smtp-url",
                "smtps://u:hunter3@mail.example.com",
                "--jwt-secret",
                "topsecretvalue",
            ]
            .map(String::from),
        )
        .unwrap();
        let shown = format!("{s:?} {:?}", s.jwt_secret);
        assert!(
            !shown.contains("hunter2")
                && !shown.contains("hunter3")
                && !shown.contains("topsecretvalue"),
            "{shown}"
        );
    }
}

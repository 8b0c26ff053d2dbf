//! Signing-key rotation with no forced logout: a new key is published (JWKS) for longer than
//! verifiers cache the JWKS before it signs; the key it replaces keeps verifying until every
//! token it signed has expired, and is then retired. `authgate keys list | rotate | retire`
//! call these methods; `AUTHGATE_KEY_ROTATION` makes every instance's housekeeping rotate on a
//! schedule, and the store's conditional insert lets exactly one of them add the key.
//!
//! Every instance rebuilds its key ring from the store ([`AuthState::sync_keys`]) when told of
//! a change (PostgreSQL `NOTIFY`), on its housekeeping timer, and when a published key's time
//! to sign has come, so all of them switch within a poll interval of `activates_at`.

use std::sync::Arc;

use super::error::{Error, Result};
use super::state::AuthState;
use crate::store::StoredKey;
use crate::token::keys::{JWKS_MAX_AGE, generate};
use crate::token::{JwtAlg, KeyRing, Verifier};

/// How long a rotated-in key is published before it signs: the JWKS `max-age` the server
/// sends, plus time for every instance and cache to have fetched it.
pub const PUBLISH_SECS: i64 = JWKS_MAX_AGE + 30;
/// Margin past a key's last possible token before it is retired automatically: instances may
/// switch to its successor up to a poll interval late.
const RETIRE_MARGIN_SECS: i64 = 60;

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Published, not signing yet.
    Pending,
    /// Signs new tokens.
    Signing,
    /// Replaced; verifies the tokens it signed until they expire.
    Verifying,
    /// Neither signs nor verifies.
    Retired,
}

impl KeyStatus {
    /// The word `authgate keys list` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Pending => "pending",
            KeyStatus::Signing => "signing",
            KeyStatus::Verifying => "verifying",
            KeyStatus::Retired => "retired",
        }
    }
}

/// One signing key, as `authgate keys list` shows it (never its private half).
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub status: KeyStatus,
    /// Unix seconds: published from.
    pub created_at: i64,
    /// Unix seconds: signs from.
    pub activates_at: i64,
    /// Unix seconds: retired at.
    pub retired_at: Option<i64>,
    /// Unix seconds: when the last token it signed expires (a replaced key), so it may retire.
    pub retire_after: Option<i64>,
}

/// The key that signs at `now` among `keys` (newest first): the newest live key whose time
/// has come (the oldest live key if none has, as `KeyRing` picks).
fn signer(keys: &[StoredKey], now: i64) -> Option<&StoredKey> {
    let live: Vec<&StoredKey> = keys.iter().filter(|k| k.retired_at.is_none()).collect();
    live.iter()
        .find(|k| k.activates_at <= now)
        .or_else(|| live.last())
        .copied()
}

impl AuthState {
    /// The signing keys of the configured algorithm, newest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        let issuer = self.issuer()?;
        let now = self.clock().now();
        let keys = issuer.store.signing_keys(issuer.cfg.alg.name()).await?;
        let signing = signer(&keys, now).map(|k| k.kid.clone());
        let token_life = issuer.cfg.access_ttl + issuer.cfg.leeway + RETIRE_MARGIN_SECS;
        Ok(keys
            .iter()
            .map(|k| {
                let status = if k.retired_at.is_some() {
                    KeyStatus::Retired
                } else if Some(&k.kid) == signing.as_ref() {
                    KeyStatus::Signing
                } else if k.activates_at > now {
                    KeyStatus::Pending
                } else {
                    KeyStatus::Verifying
                };
                let retire_after = (status == KeyStatus::Verifying)
                    .then(|| successor_since(&keys, k).map(|t| t + token_life))
                    .flatten();
                KeyInfo {
                    kid: k.kid.clone(),
                    alg: k.alg.clone(),
                    status,
                    created_at: k.created_at,
                    activates_at: k.activates_at,
                    retired_at: k.retired_at,
                    retire_after,
                }
            })
            .collect())
    }

    /// Add a new signing key: published at once, signing on every instance from
    /// [`PUBLISH_SECS`] from now. The key it replaces retires by itself once its last token
    /// has expired.
    pub async fn rotate_keys(&self) -> Result<KeyInfo> {
        let issuer = self.issuer()?;
        if issuer.cfg.alg == JwtAlg::HS256 {
            return Err(Error::field(
                "alg",
                "HS256 signs with AUTHGATE_JWT_SECRET, not a stored key: change the secret on \
                 every instance instead",
            ));
        }
        let now = self.clock().now();
        let key = self.new_key(now)?;
        issuer.store.add_signing_key_unless(&key, i64::MAX).await?;
        self.sync_keys().await;
        let info = self.list_keys().await?;
        info.into_iter()
            .find(|k| k.kid == key.kid)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("the new key is not in the store")))
    }

    /// Retire `kid`: it stops verifying on every instance. Refused for the key that signs,
    /// and, unless `force`, while tokens it signed may still be valid (forcing it refuses
    /// them: their holders must refresh).
    pub async fn retire_key(&self, kid: &str, force: bool) -> Result<()> {
        let issuer = self.issuer()?;
        let now = self.clock().now();
        let info = self.list_keys().await?;
        let key = info
            .iter()
            .find(|k| k.kid == kid && k.status != KeyStatus::Retired)
            .ok_or(Error::NotFound("key"))?;
        if key.status == KeyStatus::Signing {
            return Err(Error::field(
                "kid",
                "this key signs new tokens: run `authgate keys rotate` first",
            ));
        }
        if let Some(after) = key.retire_after.filter(|&t| t > now && !force) {
            return Err(Error::field(
                "kid",
                format!(
                    "tokens this key signed may be valid for {} s more; retire it then (it \
                     retires by itself), or pass --force to refuse them now",
                    after - now
                ),
            ));
        }
        issuer.store.retire_signing_key(kid, now).await?;
        self.sync_keys().await;
        Ok(())
    }

    /// Bring this instance's key ring in step with the store: rebuild it when a key was added
    /// or retired or has come to sign; retire replaced keys whose tokens have all expired; and
    /// with `AUTHGATE_KEY_ROTATION`, add the next key when the newest is that old.
    pub async fn sync_keys(&self) {
        if let Err(e) = self.try_sync_keys().await {
            tracing::warn!(error = %e, "could not sync the signing keys");
        }
    }

    async fn try_sync_keys(&self) -> anyhow::Result<()> {
        let Ok(issuer) = self.issuer() else {
            return Ok(());
        };
        let alg = issuer.cfg.alg;
        if alg == JwtAlg::HS256 {
            return Ok(());
        }
        let now = self.clock().now();
        let mut keys = issuer.store.signing_keys(alg.name()).await?;
        if let Some(period) = issuer.key_rotation {
            let newest = keys
                .iter()
                .filter(|k| k.retired_at.is_none())
                .map(|k| k.created_at);
            if newest.max().is_none_or(|t| t + period <= now) {
                let key = self.new_key(now)?;
                if issuer
                    .store
                    .add_signing_key_unless(&key, now - period)
                    .await?
                {
                    tracing::info!(kid = %key.kid, "scheduled key rotation: published a new key");
                }
                keys = issuer.store.signing_keys(alg.name()).await?;
            }
        }
        let token_life = issuer.cfg.access_ttl + issuer.cfg.leeway + RETIRE_MARGIN_SECS;
        let signing = signer(&keys, now).map(|k| k.kid.clone());
        for key in keys.iter().filter(|k| k.retired_at.is_none()) {
            let replaced =
                successor_since(&keys, key).filter(|_| Some(&key.kid) != signing.as_ref());
            if replaced.is_some_and(|t| t + token_life <= now)
                && issuer.store.retire_signing_key(&key.kid, now).await?
            {
                tracing::info!(kid = %key.kid, "retired a replaced signing key");
            }
        }
        let keys = issuer.store.signing_keys(alg.name()).await?;
        let current = self.verifier();
        if current.keys().is_outdated(&keys, now) {
            let ring = KeyRing::from_stored(alg, &keys, issuer.sealer.as_deref(), now)?;
            tracing::info!(kid = ?ring.signing_kid(), "key ring changed");
            let cfg = &issuer.cfg;
            let verifier = Verifier::new(Arc::new(ring), &cfg.issuer, &cfg.audience, cfg.leeway);
            *self
                .inner
                .verifier
                .write()
                .unwrap_or_else(|p| p.into_inner()) = Arc::new(verifier);
        }
        Ok(())
    }

    /// A fresh key, sealed at rest if there is a KEK, that signs from [`PUBLISH_SECS`] on.
    fn new_key(&self, now: i64) -> Result<StoredKey> {
        let issuer = self.issuer()?;
        let mut key = generate(issuer.cfg.alg, now)?;
        key.activates_at = now + PUBLISH_SECS;
        if let Some(sealer) = &issuer.sealer {
            key.private_der = crate::token::keys::seal_private(sealer, &key.private_der)?;
        }
        Ok(key)
    }
}

/// When `key` stopped signing: the `activates_at` of the first later key that has come to sign
/// since (`None` while `key` is the newest to have signed).
fn successor_since(keys: &[StoredKey], key: &StoredKey) -> Option<i64> {
    keys.iter()
        .filter(|k| k.kid != key.kid && k.activates_at > key.activates_at)
        // a key retired before it came to sign (a cancelled rotation) never replaced anything
        .filter(|k| k.retired_at.is_none_or(|r| r > k.activates_at))
        .map(|k| k.activates_at)
        .min()
}

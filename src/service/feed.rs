//! The revocation feed for verifiers elsewhere: the credentials they present (created by
//! `authgate verifier create`, stored as SHA-256 only), pages of the revocation entries in force
//! after a `seq`, and a wake-up whenever a new entry arrives, which the stream turns into events.
//!
//! An entry's `seq` is assigned in commit order (`store/sql/revocations.rs`), so a reader that
//! asks for "after n" misses nothing written before what it has seen: the same cursor serves the
//! JSON pages, the stream's `id`s and a reconnect's `Last-Event-ID`.

use super::error::{Error, Result};
use super::state::AuthState;
use crate::revocation::RevocationEvent;
use crate::store::VerifierRecord;
use crate::token::refresh;

/// What every verifier credential starts with, so a log reader (or a secret scanner) can tell it
/// from an access token.
pub const CREDENTIAL_PREFIX: &str = "agv_";
/// Longest credential we even hash (ours are 47 characters).
const MAX_CREDENTIAL_LEN: usize = 128;

/// A verifier credential as listed (never the credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierInfo {
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl From<VerifierRecord> for VerifierInfo {
    fn from(r: VerifierRecord) -> Self {
        Self {
            name: r.name,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            "name",
            "1 to 64 letters, digits, '-', '_' or '.'",
        ))
    }
}

impl AuthState {
    /// Create the verifier credential `name`; returns the credential, which is stored only as
    /// its SHA-256 and cannot be shown again.
    pub async fn create_verifier(&self, name: &str) -> Result<String> {
        check_name(name)?;
        let issuer = self.issuer()?;
        let credential = format!("{CREDENTIAL_PREFIX}{}", refresh::generate());
        let hash = refresh::hash(&credential);
        issuer
            .store
            .create_verifier(name, &hash, self.clock().now())
            .await?;
        Ok(credential)
    }

    /// Every verifier credential, revoked ones included, by name.
    pub async fn list_verifiers(&self) -> Result<Vec<VerifierInfo>> {
        let list = self.issuer()?.store.list_verifiers().await?;
        Ok(list.into_iter().map(VerifierInfo::from).collect())
    }

    /// Revoke the verifier credential `name`; its open streams end within a heartbeat.
    pub async fn revoke_verifier(&self, name: &str) -> Result<()> {
        let issuer = self.issuer()?;
        if issuer
            .store
            .revoke_verifier(name, self.clock().now())
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound("verifier"))
        }
    }

    /// The name of the unrevoked verifier whose credential this is; `Unauthenticated` otherwise.
    pub(crate) async fn authenticate_verifier(&self, credential: &str) -> Result<String> {
        let refused = Error::Unauthenticated { token_sent: true };
        // SECURITY: only the hash is looked up; the credential has 256 random bits, so a
        // timing difference in the index lookup reveals nothing usable.
        if !credential.starts_with(CREDENTIAL_PREFIX) || credential.len() > MAX_CREDENTIAL_LEN {
            return Err(refused);
        }
        let issuer = self.issuer()?;
        match issuer
            .store
            .verifier_by_hash(&refresh::hash(credential))
            .await?
        {
            Some(v) => Ok(v.name),
            None => Err(refused),
        }
    }

    /// At most `limit` feed entries after `after`, and whether more may follow at once.
    pub(crate) async fn revocation_page(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<(Vec<RevocationEvent>, bool)> {
        let issuer = self.issuer()?;
        let rows = issuer
            .store
            .revocations_page(self.clock().now(), after, limit)
            .await?;
        let more = rows.len() as i64 == limit;
        let events = rows
            .into_iter()
            .filter_map(RevocationEvent::from_record)
            .collect();
        Ok((events, more))
    }

    /// End the revocation streams this state serves (at shutdown, so that it is not held up
    /// by connections that never finish on their own).
    pub fn end_revocation_streams(&self) {
        if let Ok(issuer) = self.issuer() {
            issuer.revocations.close();
        }
    }

    /// Whether the streams should end: the server is shutting down, or this instance's
    /// revocation list is stale (the database is unreachable), so the stream could miss entries.
    pub(crate) fn revocation_stream_must_end(&self) -> bool {
        self.issuer().map_or(true, |i| {
            i.revocations.is_closing() || !i.revocations.is_fresh()
        })
    }

    /// Wakes whenever a revocation entry arrives at this instance (its own, or one a sync
    /// picked up from another).
    pub(crate) fn revocation_changes(&self) -> Result<tokio::sync::watch::Receiver<u64>> {
        Ok(self.issuer()?.revocations.subscribe())
    }
}

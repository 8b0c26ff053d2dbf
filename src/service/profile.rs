//! `GET /users/me` without a database round trip: the caller's [`Profile`] from the cache in
//! `crate::profiles`, read once and then forgotten whenever it changes.
//!
//! Every method here that changes what a profile shows calls [`AuthState::profile_changed`]
//! after the change committed: that forgets it here and writes a `profile` entry to the
//! revocation feed, which makes every other instance forget it at its next sync (housekeeping).
//! A login and the activity bookkeeping (at most once a minute per session) only forget the
//! local copy ([`AuthState::forget_profile_here`]): on the other instances `last_login_at` and
//! `last_activity_at` are at most `profiles::MAX_AGE` (a minute) old, which is the resolution
//! `last_activity_at` has anyway.
//!
//! Sessions: the first `/users/me` of a session confirms at the database that it exists and is
//! not revoked (as before the cache, so a token for a session that never existed is refused);
//! its end afterwards is the revocation list's job, as on every protected route (the extractor
//! checked it before the handler ran).

use std::sync::Arc;

use uuid::Uuid;

use super::error::{Error, Result};
use super::state::AuthState;
use super::{Profile, User};
use crate::profiles::Lookup;

impl AuthState {
    /// The profile of `user`, the caller of `/users/me` with `session`: cached, or read (with
    /// the session's existence) and cached. `Unauthenticated` when the user or the session is
    /// not in the database.
    pub async fn profile(&self, user: Uuid, session: Uuid) -> Result<Arc<Profile>> {
        let issuer = self.issuer()?;
        let known = match issuer.profiles.get(&user, &session) {
            Lookup::Hit(p) => return Ok(p),
            Lookup::SessionKnown => true,
            Lookup::Unknown => false,
        };
        // Taken before the reads: a change committed while they run makes the insert a no-op.
        let epoch = issuer.profiles.epoch();
        let record = if known {
            issuer.store.user_by_id(user).await?
        } else {
            issuer.store.user_with_live_session(user, session).await?
        };
        let record = record.ok_or(Error::Unauthenticated { token_sent: true })?;
        let profile = Arc::new(Profile {
            user: User::from(record),
            mfa: self.mfa_status(user).await?,
        });
        issuer
            .profiles
            .insert(user, session, profile.clone(), epoch);
        Ok(profile)
    }

    /// What `user`'s profile shows changed (and committed): forget it here and announce it to
    /// the other instances. An announcement that fails is logged; the other instances then
    /// show the old profile for at most `profiles::MAX_AGE`.
    pub(crate) async fn profile_changed(&self, user: Uuid) {
        let Ok(issuer) = self.issuer() else { return };
        issuer.profiles.forget(&user);
        let now = self.clock().now();
        if let Err(e) = issuer.revocations.profile_changed(user, now).await {
            tracing::warn!(error = %e, %user, "could not announce a profile change");
        }
    }

    /// Only `user`'s activity times changed (a login, the activity bookkeeping): forget the copy
    /// here, announce nothing.
    pub(crate) fn forget_profile_here(&self, user: Uuid) {
        if let Ok(issuer) = self.issuer() {
            issuer.profiles.forget(&user);
        }
    }

    /// Users another instance (or the CLI) changed, from a revocation sync: forget them here.
    pub(crate) fn profiles_changed_elsewhere(&self, users: &[Uuid]) {
        if let Ok(issuer) = self.issuer() {
            for user in users {
                issuer.profiles.forget(user);
            }
        }
    }
}

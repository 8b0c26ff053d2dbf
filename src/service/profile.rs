//! `GET /users/me` without a database round trip: the caller's [`Profile`] from the cache in
//! `crate::profiles`, read once and then forgotten whenever it changes.
//!
//! Every method here that changes what a profile shows calls [`AuthState::profile_changed`]
//! after the change committed: that forgets it here and writes a `profile` entry to the
//! revocation feed, which makes every other instance forget it at its next sync (housekeeping).
//! A login only forgets the local copy ([`AuthState::forget_profile_here`]), and the activity
//! bookkeeping (at most once a minute per session) nothing: elsewhere `last_login_at`, and
//! everywhere `last_activity_at`, are at most `profiles::MAX_AGE` (a minute) old, which is the
//! resolution `last_activity_at` has anyway.
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

impl AuthState {
    /// The profile of `user`, the caller of `/users/me` with `session`: cached, or read (with
    /// the session's existence) and cached. `Unauthenticated` when the user or the session is
    /// not in the database.
    pub async fn profile(&self, user: Uuid, session: Uuid) -> Result<Arc<Profile>> {
        let issuer = self.issuer()?;
        if let Some(p) = issuer.profiles.get(&user, &session) {
            return Ok(p);
        }
        // Taken before the reads: a change committed while they run makes the insert a no-op.
        let epoch = issuer.profiles.epoch();
        let record = issuer
            .store
            .user_with_live_session(user, session)
            .await?
            .ok_or(Error::Unauthenticated { token_sent: true })?;
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

    /// Only `user`'s activity times changed: forget the copy here, announce nothing.
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

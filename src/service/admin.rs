//! Changes made by admins and moderators, applied to the user's very next request.

use uuid::Uuid;

use super::audit::{Event, EventKind};
use super::error::{Error, Result};
use super::state::AuthState;
use super::{User, UserChanges};
use crate::domain::{Actor, RoleName, role};
use crate::revocation::UserState;
use crate::store::{RoleRecord, SessionEnd, SessionRecord, UserQuery};

impl AuthState {
    /// One page of users.
    pub(crate) async fn list_users(&self, query: &UserQuery) -> Result<Vec<User>> {
        let issuer = self.issuer()?;
        Ok(issuer
            .store
            .list_users(query)
            .await?
            .into_iter()
            .map(User::from)
            .collect())
    }

    /// Apply role and activation changes on behalf of `actor` (recorded in the audit log). A
    /// moderator (`actor.is_admin` false) may only (de)activate users who are not admins.
    /// `LastAdmin` when the change would leave no active admin (checked atomically by the store).
    /// Nobody deactivates themselves (422 on `is_active`): the API and the console alike.
    pub async fn update_user(&self, id: Uuid, changes: UserChanges, actor: &Actor) -> Result<User> {
        if actor.id == Some(id) && changes.is_active == Some(false) {
            return Err(Error::field("is_active", "you cannot deactivate yourself"));
        }
        let actor_is_admin = actor.is_admin;
        let issuer = self.issuer()?;
        let target = issuer
            .store
            .user_by_id(id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        if !actor_is_admin {
            if changes.roles.is_some() {
                return Err(Error::Forbidden("only admins can change roles"));
            }
            if target.roles.iter().any(|r| r == role::ADMIN) {
                return Err(Error::Forbidden("moderators cannot change admins"));
            }
        }
        if let Some(roles) = &changes.roles {
            let roles = self.validate_roles(roles).await?;
            issuer.store.set_roles(id, &roles).await?;
        }
        if let Some(active) = changes.is_active {
            issuer.store.set_active(id, active).await?;
            if !active {
                // Deactivation ends every session, so refresh tokens die with the access tokens.
                self.end_all_sessions(id, None).await?;
                issuer.store.delete_user_device_tokens(id).await?;
            }
        }
        let user = issuer
            .store
            .user_by_id(id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        let state = UserState {
            active: user.is_active,
            roles: user.roles.clone(),
        };
        issuer
            .revocations
            .set_user_state(id, state, self.clock().now())
            .await?;
        // The entry just written tells the other instances; this one forgets now.
        self.forget_profile_here(id);
        if changes.roles.is_some() && user.roles != target.roles {
            let detail = format!(
                "roles {} -> {}",
                target.roles.join(","),
                user.roles.join(",")
            );
            let event = Event::new(EventKind::RolesChanged, &actor.client)
                .user(id)
                .by(actor)
                .detail(detail);
            self.audit(event).await;
        }
        if user.is_active != target.is_active {
            let kind = if user.is_active {
                EventKind::UserActivated
            } else {
                EventKind::UserDeactivated
            };
            self.audit(Event::new(kind, &actor.client).user(id).by(actor))
                .await;
        }
        Ok(user.into())
    }

    async fn validate_roles(&self, roles: &[String]) -> Result<Vec<String>> {
        let known: Vec<String> = self
            .issuer()?
            .store
            .list_roles()
            .await?
            .into_iter()
            .map(|r| r.name)
            .collect();
        let mut out = Vec::new();
        for r in roles {
            let name = RoleName::parse(r)
                .map_err(|e| Error::field("roles", e))?
                .into_string();
            if !known.contains(&name) {
                return Err(Error::field(
                    "roles",
                    format!("unknown role {name:?}; create it with POST /admin/roles first"),
                ));
            }
            if !out.contains(&name) {
                out.push(name);
            }
        }
        Ok(out)
    }

    /// Delete a user on behalf of `actor` (recorded in the audit log); their tokens die at once.
    /// `LastAdmin` for the last active admin.
    pub async fn delete_user(&self, id: Uuid, actor: &Actor) -> Result<()> {
        let issuer = self.issuer()?;
        let now = self.clock().now();
        // The store refuses the last active admin; their sessions go with them (cascade), and
        // the inactive state below refuses every token they still hold.
        if !issuer.store.delete_user(id).await? {
            return Err(Error::NotFound("user"));
        }
        issuer
            .revocations
            .set_user_state(
                id,
                UserState {
                    active: false,
                    roles: vec![],
                },
                now,
            )
            .await?;
        self.forget_profile_here(id);
        let event = Event::new(EventKind::UserDeleted, &actor.client)
            .user(id)
            .by(actor);
        self.audit(event).await;
        Ok(())
    }

    /// Another user's active sessions, newest first, for an admin (`GET /admin/users/{id}/sessions`
    /// and the console). `NotFound` for an unknown user.
    pub(crate) async fn user_sessions(&self, id: Uuid) -> Result<Vec<SessionRecord>> {
        let issuer = self.issuer()?;
        if issuer.store.user_by_id(id).await?.is_none() {
            return Err(Error::NotFound("user"));
        }
        Ok(issuer.store.list_sessions(id, self.clock().now()).await?)
    }

    /// End one session of user `id` on behalf of `actor`: its refresh token dies and its access
    /// tokens are refused on their next request. Audited as a `logout` with the actor.
    /// `NotFound` when the session is not the user's or has already ended.
    pub async fn revoke_user_session(&self, id: Uuid, session: Uuid, actor: &Actor) -> Result<()> {
        let issuer = self.issuer()?;
        let now = self.clock().now();
        let until = issuer.revocations.until(now);
        match issuer.store.revoke_session(id, session, now, until).await? {
            SessionEnd::Ended => {}
            SessionEnd::AlreadyEnded | SessionEnd::Unknown => {
                return Err(Error::NotFound("session"));
            }
        }
        issuer.revocations.sessions_revoked(&[session], now);
        let event = Event::new(EventKind::Logout, &actor.client)
            .user(id)
            .by(actor)
            .detail(format!("session {session} revoked by an admin"));
        self.audit(event).await;
        Ok(())
    }

    /// All roles.
    pub(crate) async fn roles(&self) -> Result<Vec<RoleRecord>> {
        Ok(self.issuer()?.store.list_roles().await?)
    }

    /// Create a role.
    pub(crate) async fn create_role(&self, name: &str, description: &str) -> Result<RoleRecord> {
        let name = RoleName::parse(name).map_err(|e| Error::field("name", e))?;
        if description.chars().count() > 256 {
            return Err(Error::field("description", "at most 256 characters"));
        }
        let role = RoleRecord {
            name: name.into_string(),
            description: description.trim().to_owned(),
            created_at: self.clock().now(),
        };
        self.issuer()?.store.create_role(&role).await?;
        Ok(role)
    }
}

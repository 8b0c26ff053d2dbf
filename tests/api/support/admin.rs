//! Accounts for the admin tests: plain users, users with roles, deactivation.
//!
//! There is no admin before the first one: the CLI or the library makes it. These helpers use
//! the library's service API (`AuthState::update_user`), as a host app would.

use authgate::UserChanges;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::app::{TestApp, TestUser, Tokens};

impl TestApp {
    /// Apply `changes` to the user behind `access` through the library, as an admin would.
    async fn change_through_library(&self, access: &str, changes: UserChanges) -> Uuid {
        let id = Uuid::parse_str(&self.user_id(access).await).expect("uuid");
        self.state()
            .update_user(id, changes, &authgate::Actor::system())
            .await
            .expect("update user");
        id
    }

    /// Deactivate the user behind `access` through the library, as an admin would; returns their id.
    pub async fn deactivate(&self, access: &str) -> Uuid {
        let changes = UserChanges {
            roles: None,
            is_active: Some(false),
        };
        self.change_through_library(access, changes).await
    }

    /// A signed-in user with extra roles, granted directly through the library.
    pub async fn user_with_roles(&self, roles: &[&str]) -> (TestUser, Tokens) {
        let (user, tokens) = self.signed_in_user().await;
        let mut all = vec!["user".to_owned()];
        all.extend(roles.iter().map(|r| r.to_string()));
        let changes = UserChanges {
            roles: Some(all),
            is_active: None,
        };
        self.change_through_library(&tokens.access, changes).await;
        let tokens = self.login_ok(&user).await;
        (user, tokens)
    }
}

/// Register an account directly (no login) and return its id.
pub async fn register_as(app: &TestApp, email: &str, username: Option<&str>) -> String {
    let mut body = json!({"email": email, "password": "correct horse battery"});
    if let Some(u) = username {
        body["username"] = json!(u);
    }
    let resp = app.post("/auth/register", None, body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "register {email}");
    let user: Value = resp.json().await.unwrap();
    user["id"].as_str().unwrap().to_owned()
}

/// Register and sign in a fresh plain user; returns (user, tokens, id).
pub async fn plain_user(app: &TestApp) -> (TestUser, Tokens, String) {
    let (user, tokens) = app.signed_in_user().await;
    let id = app.user_id(&tokens.access).await;
    (user, tokens, id)
}

pub async fn patch_user(app: &TestApp, token: &str, id: &str, body: Value) -> Response {
    app.request(
        Method::PATCH,
        &format!("/admin/users/{id}"),
        Some(token),
        Some(body),
    )
    .await
}

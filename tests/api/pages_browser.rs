//! A small cookie-jar client for the hosted pages' tests (`pages_signin.rs`, `pages_account.rs`):
//! it keeps cookies as a browser does (Max-Age=0 deletes; `Secure` ignored, the tests speak
//! plain http), sends an `Origin` only when a test asks, and never follows redirects.

use std::collections::BTreeMap;

use reqwest::{Response, StatusCode};

use crate::support::*;

/// One browser: its cookies and the server it talks to.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub jar: BTreeMap<String, String>,
    /// Every `Set-Cookie` seen, as sent (tests check the attributes).
    pub set_cookies: Vec<String>,
}

/// A page's answer: status, headers, body.
pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The value of attribute `name` (`data-csrf`, say) of the first element that has one.
    pub fn attr(&self, name: &str) -> String {
        let needle = format!(r#"{name}=""#);
        let start = self
            .body
            .find(&needle)
            .unwrap_or_else(|| panic!("no {name} in:\n{}", self.body))
            + needle.len();
        let end = self.body[start..].find('"').expect("closing quote");
        html_unescape(&self.body[start..start + end])
    }

    pub fn location(&self) -> Option<String> {
        self.headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// The value of the hidden input `name` in the first form that has one.
    pub fn hidden(&self, name: &str) -> String {
        let needle = format!(r#"name="{name}" value=""#);
        let start = self
            .body
            .find(&needle)
            .unwrap_or_else(|| panic!("no input {name} in:\n{}", self.body))
            + needle.len();
        let end = self.body[start..].find('"').expect("closing quote");
        html_unescape(&self.body[start..start + end])
    }
}

fn html_unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            jar: BTreeMap::new(),
            set_cookies: Vec::new(),
        }
    }

    /// The value of cookie `name` (with or without the `__Host-` prefix).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar
            .get(name)
            .or_else(|| self.jar.get(&format!("__Host-{name}")))
            .map(String::as_str)
    }

    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn take(&mut self, resp: Response) -> Page {
        for value in resp.headers().get_all("set-cookie") {
            let raw = value.to_str().unwrap().to_owned();
            let (pair, attrs) = raw.split_once(';').unwrap_or((&raw, ""));
            let (name, val) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.jar.remove(name.trim());
            } else {
                self.jar
                    .insert(name.trim().to_owned(), val.trim().to_owned());
            }
            self.set_cookies.push(raw);
        }
        Page {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let resp = self
            .app
            .client
            .get(self.app.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.take(resp).await
    }

    /// POST a form, with `Origin: origin` when given.
    pub async fn post_from(
        &mut self,
        path: &str,
        pairs: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Page {
        let mut req = self
            .app
            .client
            .post(self.app.url(path))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs));
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        let resp = req.send().await.unwrap();
        self.take(resp).await
    }

    /// POST JSON as the pages' scripts do: same-origin `Origin`, the CSRF token in `X-CSRF-Token`.
    pub async fn post_json(&mut self, path: &str, csrf: &str, body: &serde_json::Value) -> Page {
        let resp = self
            .app
            .client
            .post(self.app.url(path))
            .header("cookie", self.cookie_header())
            .header("origin", &self.app.address)
            .header("x-csrf-token", csrf)
            .json(body)
            .send()
            .await
            .unwrap();
        self.take(resp).await
    }

    pub async fn post(&mut self, path: &str, pairs: &[(&str, &str)]) -> Page {
        let origin = self.app.address.clone();
        self.post_from(path, pairs, Some(&origin)).await
    }

    /// GET `page`, then post its form to `action` with the page's CSRF token added.
    pub async fn submit(&mut self, page: &str, action: &str, pairs: &[(&str, &str)]) -> Page {
        let shown = self.get(page).await;
        assert_eq!(shown.status, StatusCode::OK, "{page}: {}", shown.body);
        let csrf = shown.hidden("csrf_token");
        let mut all = vec![("csrf_token", csrf.as_str())];
        all.extend_from_slice(pairs);
        self.post(action, &all).await
    }

    /// Sign in through /signin with the password (no second factor); expects the 303.
    pub async fn sign_in(&mut self, user: &TestUser) -> Page {
        let page = self
            .submit(
                "/signin",
                "/signin",
                &[("login", &user.email), ("password", &user.password)],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        page
    }

    /// The access token the page session holds (to use it on the API as the same session).
    pub fn access_token(&self) -> String {
        self.cookie("authgate_page_access")
            .expect("access cookie")
            .to_owned()
    }
}

/// A user registered over the API (not signed in anywhere).
pub async fn registered(app: &TestApp) -> TestUser {
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
    user
}

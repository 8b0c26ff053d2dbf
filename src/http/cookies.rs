//! Cookies of browser sessions: how secure the deployment lets them be, building `Set-Cookie`
//! values, reading the `Cookie` header, and the `Origin` check of cookie requests. Written for
//! every cookie session (the SPA refresh cookie of `/auth/*`, and the hosted pages).
//!
//! Plain header building rather than `axum-extra`'s `cookie` feature: the cookies here are a
//! few fixed names with base64url/UUID values (no escaping needed), so a `format!` is all the
//! `cookie` crate would do for us, without its extra dependencies.
//!
//! SECURITY: the prefixes. `__Host-` requires `Path=/`, so it cannot go on a cookie scoped to
//! `/auth/refresh` and `/auth/logout`. We keep the path scope for the refresh token (a secret
//! the rest of the site, and a host app's own routes, never see) with `__Secure-` (only a
//! secure origin can set it), and give the CSRF cookie `__Host-` at `Path=/`. A sibling
//! subdomain could still toss a `__Secure-` refresh cookie for its own session at us, but
//! never a `__Host-` CSRF cookie, and the CSRF token is bound to the session the refresh
//! cookie names: a tossed session fails the CSRF check. In plain-http development (public URL
//! `http://localhost…` / `http://127.0.0.1…`) browsers refuse prefixed and `Secure` cookies, so
//! the names are the bare `authgate_refresh` / `authgate_csrf` and `Secure` is dropped.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::service::AuthState;

/// How secure the cookies of this deployment are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CookieSecurity {
    /// Send `Secure` (false only for plain-http development on this machine).
    pub secure: bool,
    /// Use the `__Host-` / `__Secure-` name prefixes (browsers accept them only with `Secure`).
    pub host_prefix: bool,
}

/// The cookie security of the deployment behind `auth`: from its AUTHGATE_PUBLIC_URL, or the
/// URL it falls back to (the embedded default is plain http on localhost). A verify-only
/// state, which issues no cookies, counts as secure.
pub(crate) fn cookie_security(auth: &AuthState) -> CookieSecurity {
    security_for(auth.public_url())
}

/// The cookie security for a public URL: relaxed only for `http://localhost…`,
/// `http://127.0.0.1…` and `http://[::1]…`; every other URL, plain http included, gets
/// `Secure` cookies (secure by default: a proxy terminating TLS is the likely setup).
pub(crate) fn security_for(public_url: &str) -> CookieSecurity {
    let lower = public_url.trim().to_ascii_lowercase();
    let local = lower.strip_prefix("http://").is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let host = if host.starts_with('[') {
            host.split_once(']').map_or(host, |(h, _)| &h[1..])
        } else {
            host.split(':').next().unwrap_or_default()
        };
        host == "localhost" || host.ends_with(".localhost") || host == "127.0.0.1" || host == "::1"
    });
    CookieSecurity {
        secure: !local,
        host_prefix: !local,
    }
}

impl CookieSecurity {
    /// `base` with `__Host-` (a cookie at `Path=/`) or `__Secure-` (a path-scoped one) where
    /// the deployment allows prefixes.
    pub fn name(self, base: &str, path_scoped: bool) -> String {
        match (self.host_prefix, path_scoped) {
            (false, _) => base.to_owned(),
            (true, false) => format!("__Host-{base}"),
            (true, true) => format!("__Secure-{base}"),
        }
    }
}

/// `SameSite` of a cookie.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // `Lax` is for the hosted pages' session cookies (see pages-design).
pub(crate) enum SameSite {
    Strict,
    Lax,
}

/// One `Set-Cookie`.
#[derive(Debug, Clone)]
pub(crate) struct SetCookie<'a> {
    pub name: &'a str,
    pub value: &'a str,
    pub path: &'a str,
    /// Seconds; `None` for a cookie that ends with the browser session.
    pub max_age: Option<i64>,
    /// Not readable by the page's scripts.
    pub http_only: bool,
    pub same_site: SameSite,
}

impl SetCookie<'_> {
    /// The header value, with `Secure` as `security` says. `None` if a part is not a valid
    /// header value (our names, paths and values never are).
    pub fn header(&self, security: CookieSecurity) -> Option<HeaderValue> {
        let mut s = format!("{}={}; Path={}", self.name, self.value, self.path);
        if let Some(age) = self.max_age {
            s.push_str(&format!("; Max-Age={}", age.max(0)));
        }
        if self.http_only {
            s.push_str("; HttpOnly");
        }
        if security.secure {
            s.push_str("; Secure");
        }
        s.push_str(match self.same_site {
            SameSite::Strict => "; SameSite=Strict",
            SameSite::Lax => "; SameSite=Lax",
        });
        HeaderValue::try_from(s).ok()
    }

    /// The same cookie, expired (an empty value, `Max-Age=0`).
    pub fn expired(self) -> Self {
        SetCookie {
            value: "",
            max_age: Some(0),
            ..self
        }
    }
}

/// The value of the first cookie called `name` in the request's `Cookie` headers.
pub(crate) fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
}

/// Whether the request carries exactly one `Origin` header and it is one of `allowed`
/// (compared as ASCII case-insensitive, a trailing '/' ignored). `Origin: null` never passes.
pub(crate) fn origin_listed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let (Some(origin), None) = (origins.next(), origins.next()) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim().trim_end_matches('/');
    allowed
        .iter()
        .any(|a| a.trim().trim_end_matches('/').eq_ignore_ascii_case(origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_on_this_machine_relaxes_the_cookies() {
        for local in [
            "http://localhost",
            "http://localhost:8080/",
            "http://127.0.0.1:3000",
            "HTTP://LOCALHOST",
            "http://[::1]:8080",
            "http://app.localhost",
        ] {
            assert!(!security_for(local).secure, "{local}");
            assert!(!security_for(local).host_prefix, "{local}");
        }
        for remote in [
            "https://localhost",
            "https://auth.example.com",
            "http://auth.example.com",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example",
            "http://localhost@evil.example",
            "",
        ] {
            assert!(security_for(remote).secure, "{remote}");
            assert!(security_for(remote).host_prefix, "{remote}");
        }
    }

    #[test]
    fn names_are_prefixed_by_scope() {
        let secure = security_for("https://a.example");
        let dev = security_for("http://localhost");
        assert_eq!(secure.name("x", false), "__Host-x");
        assert_eq!(secure.name("x", true), "__Secure-x");
        assert_eq!(dev.name("x", true), "x");
    }

    #[test]
    fn set_cookie_has_the_attributes() {
        let c = SetCookie {
            name: "__Host-a",
            value: "v",
            path: "/",
            max_age: Some(60),
            http_only: true,
            same_site: SameSite::Strict,
        };
        let secure = security_for("https://a.example");
        assert_eq!(
            c.header(secure).unwrap(),
            "__Host-a=v; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Strict"
        );
        assert_eq!(
            c.expired()
                .header(security_for("http://localhost"))
                .unwrap(),
            "__Host-a=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
        );
    }

    #[test]
    fn cookies_and_origins_are_read_strictly() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        h.append(header::COOKIE, HeaderValue::from_static("c=3"));
        assert_eq!(read_cookie(&h, "b"), Some("2"));
        assert_eq!(read_cookie(&h, "c"), Some("3"));
        assert_eq!(read_cookie(&h, "d"), None);
        let allowed = vec!["https://app.example".to_owned()];
        assert!(!origin_listed(&h, &allowed), "no Origin");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://APP.example"),
        );
        assert!(origin_listed(&h, &allowed));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://app.example.evil"),
        );
        assert!(!origin_listed(&h, &allowed));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!origin_listed(&h, &allowed));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://app.example"),
        );
        h.append(
            header::ORIGIN,
            HeaderValue::from_static("https://app.example"),
        );
        assert!(!origin_listed(&h, &allowed), "two Origins");
    }
}

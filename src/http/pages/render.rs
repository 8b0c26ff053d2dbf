//! Rendering the hosted pages: the compiled-in templates, the common layout, and the headers
//! every page carries (a strict CSP, `no-store`, no referrer to other sites).
//!
//! The stylesheet is inline and allowed by its hash. A page that needs JavaScript (the passkey
//! parts) is rendered with [`render_with_scripts`]: its CSP then allows scripts carrying the
//! response's fresh nonce (`{{ nonce }}` in the templates) and nothing else.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use minijinja::{Environment, Value, context};
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use crate::service::{AuthState, Error};

pub(crate) const CSS: &str = concat!(include_str!("pages.css"), include_str!("admin/admin.css"));

/// Every template: `(name, source)`. Helpers adding pages add their lines here (the console's
/// under `admin/`).
const SOURCES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("errors.html", include_str!("templates/errors.html")),
    (
        "reset_password.html",
        include_str!("templates/reset_password.html"),
    ),
    (
        "verify_email.html",
        include_str!("templates/verify_email.html"),
    ),
    ("outcome.html", include_str!("templates/outcome.html")),
    ("signin.html", include_str!("templates/signin.html")),
    ("signin_mfa.html", include_str!("templates/signin_mfa.html")),
    (
        "signin_passkey.html",
        include_str!("templates/signin_passkey.html"),
    ),
    ("signup.html", include_str!("templates/signup.html")),
    (
        "forgot_password.html",
        include_str!("templates/forgot_password.html"),
    ),
    ("account.html", include_str!("templates/account.html")),
    (
        "account_passkeys.html",
        include_str!("templates/account_passkeys.html"),
    ),
    (
        "account_mfa.html",
        include_str!("templates/account_mfa.html"),
    ),
    ("admin/nav.html", include_str!("templates/admin/nav.html")),
    (
        "admin/users.html",
        include_str!("templates/admin/users.html"),
    ),
    ("admin/user.html", include_str!("templates/admin/user.html")),
    (
        "admin/audit.html",
        include_str!("templates/admin/audit.html"),
    ),
    (
        "admin/message.html",
        include_str!("templates/admin/message.html"),
    ),
];

/// The templates, compiled once. Names ending in `.html` are auto-escaped. One that does not
/// parse is left out, and rendering it answers a logged 500; the unit test below parses and
/// renders every one.
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in SOURCES {
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "a built-in page template does not parse");
        }
    }
    env
});

static STYLE_HASH: LazyLock<String> =
    LazyLock::new(|| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(CSS)));

/// The CSP of a page: only the inline stylesheet (by hash), forms posting here, no framing;
/// with `nonce`, also scripts carrying it and `fetch` to this origin.
pub(crate) fn csp(nonce: Option<&str>) -> HeaderValue {
    let hash = STYLE_HASH.as_str();
    let scripts = match nonce {
        Some(n) => format!("script-src 'nonce-{n}'; connect-src 'self'; "),
        None => String::new(),
    };
    let csp = format!(
        "default-src 'none'; {scripts}style-src 'sha256-{hash}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    // Base64 is ASCII, so this holds; were it not, the page would go out unstyled, not unsafe.
    HeaderValue::try_from(csp).unwrap_or(HeaderValue::from_static(
        "default-src 'none'; frame-ancestors 'none'",
    ))
}

/// A page without scripts.
pub(crate) fn render(status: StatusCode, template: &str, ctx: Value) -> Response {
    render_inner(status, template, ctx, None)
}

/// A page whose scripts (`<script nonce="{{ nonce }}" …>`) may run: a fresh nonce per response.
pub(crate) fn render_with_scripts(status: StatusCode, template: &str, ctx: Value) -> Response {
    let mut bytes = [0u8; 18];
    rand::thread_rng().fill_bytes(&mut bytes);
    let nonce = base64::engine::general_purpose::STANDARD.encode(bytes);
    render_inner(status, template, ctx, Some(nonce))
}

fn render_inner(status: StatusCode, template: &str, ctx: Value, nonce: Option<String>) -> Response {
    let ctx = context! { css => CSS, nonce => nonce.clone().unwrap_or_default(), ..ctx };
    let html = TEMPLATES.get_template(template).and_then(|t| t.render(ctx));
    let html = match html {
        Ok(html) => html,
        Err(e) => {
            return Error::Internal(anyhow::anyhow!("page template {template}: {e}"))
                .into_response();
        }
    };
    let mut response = (status, Html(html)).into_response();
    headers(&mut response, nonce.as_deref());
    response
}

/// The headers every page response carries, redirects included.
pub(crate) fn headers(response: &mut Response, nonce: Option<&str>) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp(nonce));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Not `no-referrer`: with it, browsers send `Origin: null` on form posts, which the
    // Origin check must refuse. `same-origin` still tells other sites nothing.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// A one-message page (`kind` is `success` or `error`); `code` is the stable error code shown
/// with an error (`csrf_failed`, …), if any.
pub(crate) fn outcome(
    auth: &AuthState,
    status: StatusCode,
    kind: &str,
    title: &str,
    message: &str,
) -> Response {
    outcome_with_code(auth, status, kind, title, message, None)
}

pub(crate) fn outcome_with_code(
    auth: &AuthState,
    status: StatusCode,
    kind: &str,
    title: &str,
    message: &str,
    code: Option<&str>,
) -> Response {
    render(
        status,
        "outcome.html",
        context! { product => auth.product_name(), kind, title, message, code },
    )
}

/// The 303 every page answer that moves on uses, with the pages' headers.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::try_from(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    headers(&mut response, None);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_template_parses_and_renders() {
        for (name, source) in SOURCES {
            let mut env = Environment::new();
            if let Err(e) = env.add_template(name, source) {
                panic!("{name} does not parse: {e}");
            }
        }
        for (name, _) in SOURCES {
            if matches!(*name, "base.html" | "errors.html")
                || name.ends_with("_passkey.html")
                || name.ends_with("_passkeys.html")
                || name.starts_with("admin/")
            {
                continue;
            }
            let ctx = context! {
                product => "authgate", css => CSS, token => "t", errors => vec!["e"],
                min_length => 8, kind => "success", title => "T", message => "M",
                csrf => "c", user => context! { email => "a@b.c", roles => vec!["user"] },
                devices => Vec::<String>::new(), section => "", stage => "confirm",
                mfa => context! { totp => false, recovery_codes_left => 0 },
                mfa_token => "m", login => "l", email => "", username => "",
            };
            let html = TEMPLATES
                .get_template(name)
                .and_then(|t| t.render(ctx))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(html.starts_with("<!doctype html>"), "{name}");
        }
    }

    #[test]
    fn the_csp_allows_exactly_the_inline_stylesheet() {
        let csp = csp(None);
        let csp = csp.to_str().unwrap_or_default();
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(CSS));
        assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
        assert!(
            !csp.contains("script-src") && !csp.contains("unsafe"),
            "{csp}"
        );
        let with = super::csp(Some("abc"));
        assert!(
            with.to_str()
                .unwrap_or_default()
                .contains("script-src 'nonce-abc'")
        );
    }
}

//! Rendering for the console: its templates (compiled in, on the pages' `base.html`), its
//! stylesheet (the pages' own plus the console's, allowed by hash), headers and the error page.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use minijinja::{Environment, Value, context};
use sha2::{Digest, Sha256};

use crate::service::{AuthState, Error};

/// The pages' stylesheet, then the console's (wider main, tables, inline forms).
static CSS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{}\n{}",
        include_str!("../pages.css"),
        include_str!("admin.css")
    )
});

/// The console's CSP: its inline stylesheet by hash, forms posting here, nothing else at all.
static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(CSS.as_bytes()));
    let csp = format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    HeaderValue::try_from(csp).unwrap_or(HeaderValue::from_static(
        "default-src 'none'; frame-ancestors 'none'",
    ))
});

/// A unix time as `2026-12-02 04:53:10 UTC` (the console shows every time in UTC).
fn when(secs: Option<i64>) -> String {
    secs.and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_else(|| "never".to_owned())
}

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.add_filter("when", |v: Option<i64>| when(v));
    for (name, source) in [
        ("base.html", include_str!("../templates/base.html")),
        (
            "admin/nav.html",
            include_str!("../templates/admin/nav.html"),
        ),
        (
            "admin/users.html",
            include_str!("../templates/admin/users.html"),
        ),
        (
            "admin/user.html",
            include_str!("../templates/admin/user.html"),
        ),
        (
            "admin/audit.html",
            include_str!("../templates/admin/audit.html"),
        ),
        (
            "admin/message.html",
            include_str!("../templates/admin/message.html"),
        ),
    ] {
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "an admin console template does not parse");
        }
    }
    env
});

/// Render `template` with the console's headers.
pub(super) fn render(auth: &AuthState, status: StatusCode, template: &str, ctx: Value) -> Response {
    let ctx = context! { css => CSS.as_str(), product => auth.product_name(), ..ctx };
    let html = TEMPLATES.get_template(template).and_then(|t| t.render(ctx));
    let html = match html {
        Ok(html) => html,
        Err(e) => {
            return Error::Internal(anyhow::anyhow!("console template {template}: {e}"))
                .into_response();
        }
    };
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, CSP.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// The page for a refused or failed request: its status, the error's words and stable code.
/// A fault of the server stays a logged problem+json 500.
pub(super) fn error_page(auth: &AuthState, nav: Value, err: Error) -> Response {
    let status = err.status();
    if status.is_server_error() && !matches!(err, Error::Unavailable | Error::Overloaded) {
        return err.into_response();
    }
    let retry_after = err.retry_after();
    let code = serde_json::to_value(err.code())
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let message = match &err {
        Error::Validation(fields) => fields
            .values()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" "),
        Error::Forbidden(why) => format!("You may not do this: {why}."),
        other => format!("{other}."),
    };
    let title = match status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Refused",
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => "Please check the request",
        _ => "Please try again",
    };
    let mut response = render(
        auth,
        status,
        "admin/message.html",
        context! { nav, title, message, code },
    );
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_console_template_parses() {
        for name in [
            "admin/users.html",
            "admin/user.html",
            "admin/audit.html",
            "admin/message.html",
        ] {
            assert!(TEMPLATES.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(when(Some(0)), "1970-01-01 00:00:00 UTC");
        assert_eq!(when(None), "never");
    }

    #[test]
    fn the_csp_allows_exactly_the_inline_stylesheet() {
        let csp = CSP.to_str().unwrap_or_default();
        assert!(csp.contains("style-src 'sha256-"), "{csp}");
        assert!(
            !csp.contains("script-src") && !csp.contains("unsafe"),
            "{csp}"
        );
    }
}

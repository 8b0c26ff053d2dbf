//! Rendering for the console: its templates are the pages' own (`templates/admin/`, in
//! `super::super::render`'s list, on the common `base.html`), its styles are appended to the
//! pages' stylesheet (`admin.css`, scoped to `main.console`), and its error page.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Value, context};

use super::PageSession;
use crate::http::pages::render;
use crate::service::{AuthState, Error};

/// A unix time as `2026-12-02 04:53:10 UTC` (the console shows every time in UTC).
pub(super) fn when(secs: Option<i64>) -> String {
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

/// Render a console `template` in the pages' layout, signed in as `session`.
pub(super) fn render(
    auth: &AuthState,
    session: &PageSession,
    status: StatusCode,
    template: &str,
    ctx: Value,
) -> Response {
    render::render(
        status,
        template,
        context! {
            product => auth.product_name(),
            signed_in => true,
            csrf => session.csrf.clone(),
            ..ctx
        },
    )
}

/// The page for a refused or failed request: its status, the error's words and stable code.
/// A fault of the server stays a logged problem+json 500.
pub(super) fn error_page(
    auth: &AuthState,
    session: &PageSession,
    nav: Value,
    err: Error,
) -> Response {
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
        session,
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
    fn times_are_shown_in_utc() {
        assert_eq!(when(Some(0)), "1970-01-01 00:00:00 UTC");
        assert_eq!(when(None), "never");
    }
}

//! Finishes the OpenAPI document the route annotations produce, so that it says what the server
//! really answers. Handlers document what is particular to them (their 403, 404, 409, 429);
//! what every route of a kind can answer is added here once, from the operation itself, so a
//! new route cannot forget it:
//!
//! - every error body is `application/problem+json` (RFC 9457), except the token endpoint's
//!   RFC 6749 errors, which are `application/json`;
//! - a route with a security requirement can answer 401 (with `WWW-Authenticate: Bearer`), 403
//!   (at least `mfa_enrolment_required`, a restricted token of AUTHGATE_REQUIRE_MFA_ROLES) and
//!   503 (the revocation list or the database is unreachable);
//! - a route with a JSON body can answer 400 (not JSON), 413 (too large), 415 (not
//!   `application/json`), 422 (the wrong shape) and 503 (the database is unreachable).

use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Object, Type};
use utoipa::openapi::{Content, Header, OpenApi, Ref, RefOr};

const PROBLEM: &str = "application/problem+json";
const JSON: &str = "application/json";
/// The one operation whose errors are RFC 6749 §5.2 bodies, not problem details.
const TOKEN_ENDPOINT: &str = "/auth/token";

/// Complete `doc` in place (see the module documentation).
pub(crate) fn complete(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in operations.into_iter().flatten() {
            if path.ends_with(TOKEN_ENDPOINT) {
                complete_token_endpoint(op);
            } else {
                complete_operation(op);
            }
        }
    }
}

fn complete_operation(op: &mut Operation) {
    let bearer = op
        .security
        .as_ref()
        .is_some_and(|reqs| reqs.iter().any(|r| *r != Default::default()));
    let json_body = op.request_body.as_ref().is_some_and(|body| match body {
        RefOr::T(body) => body.content.contains_key(JSON),
        RefOr::Ref(_) => false,
    });
    let responses = &mut op.responses.responses;
    if bearer {
        let unauthenticated = "missing, malformed, expired or revoked access token";
        responses
            .entry("401".into())
            .or_insert_with(|| problem(unauthenticated).into());
        if let Some(RefOr::T(r)) = responses.get_mut("401") {
            r.headers.insert(
                "WWW-Authenticate".into(),
                header("`Bearer`, with `error=\"invalid_token\"` when a token was sent").into(),
            );
        }
        // With AUTHGATE_REQUIRE_MFA_ROLES, a restricted token reaches only the enrolment
        // endpoints; everywhere else it is 403 `mfa_enrolment_required`.
        responses.entry("403".into()).or_insert_with(|| {
            problem("`mfa_enrolment_required`: a restricted token (AUTHGATE_REQUIRE_MFA_ROLES) before enrolment").into()
        });
    }
    if json_body {
        for (status, description) in [
            ("400", "the body is not JSON"),
            ("413", "the body is larger than AUTHGATE_MAX_BODY_BYTES"),
            (
                "415",
                "the body is not sent as `Content-Type: application/json`",
            ),
            (
                "422",
                "the body does not have the fields this operation needs",
            ),
        ] {
            responses
                .entry(status.into())
                .or_insert_with(|| problem(description).into());
        }
    }
    if bearer || json_body {
        responses.entry("503".into()).or_insert_with(|| {
            problem("the database or the revocation list is unreachable; see Retry-After").into()
        });
    }
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let error = status.starts_with('4') || status.starts_with('5');
        if let Some(content) = error.then(|| response.content.shift_remove(JSON)).flatten() {
            response.content.insert(PROBLEM.into(), content);
        }
        if status == "429" || status == "503" {
            response
                .headers
                .entry("Retry-After".into())
                .or_insert_with(|| header("seconds to wait before retrying").into());
        }
    }
}

/// The token endpoint answers a body over the limit in RFC 6749 form too.
fn complete_token_endpoint(op: &mut Operation) {
    op.responses
        .responses
        .entry("413".into())
        .or_insert_with(|| {
            ResponseBuilder::new()
                .description("`invalid_request`: the body is larger than AUTHGATE_MAX_BODY_BYTES")
                .content(
                    JSON,
                    Content::new(Some(Ref::from_schema_name("OAuthError"))),
                )
                .build()
                .into()
        });
}

fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM,
            Content::new(Some(Ref::from_schema_name("Problem"))),
        )
        .build()
}

fn header(description: &str) -> Header {
    let mut header = Header::new(Object::with_type(Type::String));
    header.description = Some(description.into());
    header
}

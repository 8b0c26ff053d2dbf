//! Request bodies: a JSON extractor whose rejections are our problem+json errors (400 malformed,
//! 413 too large, 415 wrong content type, 422 wrong shape), and client info for the device list.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::domain::ClientInfo;
use crate::http::client_ip::client_ip;
use crate::service::AuthState;
use crate::service::Error;

/// `Json<T>` with rejections mapped to [`Error`].
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(AppJson(value)),
            Err(rejection) => Err(json_error(&rejection)),
        }
    }
}

fn json_error(rejection: &JsonRejection) -> Error {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Error::UnsupportedMediaType(
            "expected a JSON body with Content-Type: application/json".into(),
        ),
        StatusCode::UNPROCESSABLE_ENTITY => Error::field("body", rejection.body_text()),
        _ => Error::BadRequest(rejection.body_text()),
    }
}

/// Longest user agent kept (on sessions and in the audit log).
const MAX_USER_AGENT_CHARS: usize = 256;

impl<S> FromRequestParts<S> for ClientInfo
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    /// Fails closed without the socket's peer address: a host app served without
    /// `into_make_service_with_connect_info` would otherwise have no per-IP limit at all.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
        let auth = AuthState::from_ref(state);
        // The socket's peer; forwarding headers count only when that peer is a trusted proxy.
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Err(Error::Internal(anyhow::anyhow!(
                "no client address, so no per-IP limit could apply: serve the router with \
                 `into_make_service_with_connect_info::<SocketAddr>()` (see the README's library \
                 section)"
            )));
        };
        let (trusted, header) = auth.trusted_proxies();
        let addr = client_ip(peer.ip(), &parts.headers, trusted, header);
        Ok(ClientInfo {
            user_agent,
            ip: Some(addr.to_string()),
            addr: Some(addr),
        })
    }
}

/// [`AppJson`] for the API's own request bodies, which are all JSON objects. serde would read a
/// struct from a JSON array too (field by field, in order), so `[null, null]` would pass as a
/// patch that changes nothing; here anything but an object is refused as 422.
pub(crate) struct JsonObject<T>(pub T);

impl<S, T> FromRequest<S> for JsonObject<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let AppJson(ObjectOnly(value)) = AppJson::<ObjectOnly<T>>::from_request(req, state).await?;
        Ok(JsonObject(value))
    }
}

/// `T`, deserialised only from a JSON object: serde's derived structs also accept an array of
/// their fields, which is not what the API documents. Going through the object's own map keeps
/// `T`'s checks, duplicate members included (`{"email": .., "email": ..}` is refused).
struct ObjectOnly<T>(T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(Visitor(std::marker::PhantomData))
            .map(ObjectOnly)
    }
}

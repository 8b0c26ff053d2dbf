//! A minimal HTTP/1.1 client: one keep-alive connection, one request at a time. hyper's
//! connection API directly, so the load generator spends as little of the shared CPU as it can
//! and each task owns exactly one connection (no pool deciding for it).

use std::net::SocketAddr;

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub struct Conn {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, sender: None }
    }

    async fn connect(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("connecting to {}", self.addr))?;
            stream.set_nodelay(true)?;
            let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            self.sender = Some(sender);
        }
        self.sender.as_mut().context("no connection")
    }

    /// Send one request and read the whole answer. A transport error drops the connection;
    /// the next request opens a new one.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        json: Option<Bytes>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let body = json.map(|b| ("application/json", b));
        self.send_typed(method, path, bearer, body).await
    }

    /// [`Conn::send`] with a body of any content type (a peer's form-encoded login).
    pub async fn send_typed(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<(&'static str, Bytes)>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let result = self.try_send(method, path, bearer, body).await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    async fn try_send(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<(&'static str, Bytes)>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let sender = self.connect().await?;
        sender.ready().await?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, "127.0.0.1");
        if let Some(token) = bearer {
            req = req.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some((content_type, bytes)) => {
                req = req.header(CONTENT_TYPE, content_type);
                Full::new(bytes)
            }
            None => Full::new(Bytes::new()),
        };
        let response = sender.send_request(req.body(body)?).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    pub async fn get(
        &mut self,
        path: &str,
        bearer: Option<&str>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        self.send(Method::GET, path, bearer, None).await
    }

    pub async fn post_json(
        &mut self,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let bytes = Bytes::from(serde_json::to_vec(body)?);
        self.send(Method::POST, path, None, Some(bytes)).await
    }
}

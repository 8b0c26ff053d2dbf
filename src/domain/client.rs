//! Who is asking: the client a request came from, and the actor an audited change is made by.

use std::net::IpAddr;

use uuid::Uuid;

/// Where a request came from: recorded on the session for the device list and in the audit
/// log, and the key of the per-IP rate limits.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    /// `addr` as text, as stored.
    pub ip: Option<String>,
    /// The client address (the HTTP layer works it out from the socket and trusted proxies);
    /// `None` outside HTTP (CLI, tests), where no per-IP limit applies.
    pub addr: Option<IpAddr>,
}

impl ClientInfo {
    /// A client at `addr`, for host apps and tests that call the service directly.
    pub fn from_addr(addr: IpAddr) -> Self {
        Self {
            user_agent: None,
            ip: Some(addr.to_string()),
            addr: Some(addr),
        }
    }
}

/// Which header a trusted proxy names the client in. Only that one is read: nginx, HAProxy and
/// AWS ALB append to `X-Forwarded-For` and pass a client's own `Forwarded` through untouched,
/// so reading whichever is present would let the client choose its address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For`, read right to left (nginx, HAProxy, AWS ALB, most others).
    #[default]
    #[value(name = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…`, read right to left.
    #[value(name = "forwarded")]
    Forwarded,
    /// `X-Real-IP`: one address, set by the proxy (nginx's `real_ip` style).
    #[value(name = "x-real-ip")]
    XRealIp,
}

/// Who makes an administrative change and from where: the acting account (an admin or a
/// moderator) and its client. The CLI acts as [`Actor::system`].
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// The acting account; `None` for the operator at the command line.
    pub id: Option<Uuid>,
    /// Admins may change roles and admins; moderators may only (de)activate other users.
    pub is_admin: bool,
    pub client: ClientInfo,
}

impl Actor {
    /// The operator at the command line: an admin with no account and no IP.
    pub fn system() -> Self {
        Self {
            id: None,
            is_admin: true,
            client: ClientInfo::default(),
        }
    }
}

//! A real SMTP server for the tests, and reading the mails it received.
//!
//! One receiver per test binary, on its own thread and runtime (each test has its own runtime,
//! which ends with the test), listening on a loopback port. Servers under test reach it with
//! `smtp+insecure://127.0.0.1:<port>` ([`WITH_MAIL`]) and speak SMTP over TCP to it as to any
//! server. Tests use fresh random addresses, so filtering by recipient keeps them apart.
//! Recipients starting `tempfail-` are refused once with 451 (a transient error) at RCPT, so
//! the first attempt to each fails and a retry succeeds; recipients starting `permfail-` are
//! refused with 550 (a permanent error) every time.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Put this in a test's extra flags for a server that sends its mail to [`INBOX`].
pub const WITH_MAIL: &str = "--with-test-smtp";

/// One received message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    /// The message as sent (headers and MIME body).
    pub raw: String,
}

/// The receiver's port and everything it received.
pub struct Inbox {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

pub static INBOX: LazyLock<Inbox> = LazyLock::new(|| {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the SMTP receiver");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let shared = mails.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let refused = Arc::new(Mutex::new(HashSet::new()));
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(session(socket, shared.clone(), refused.clone()));
            }
        });
    });
    Inbox { port, mails }
});

/// One SMTP conversation (RFC 5321, the commands lettre sends).
async fn session(
    socket: TcpStream,
    mails: Arc<Mutex<Vec<Mail>>>,
    refused: Arc<Mutex<HashSet<String>>>,
) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let mut to = Vec::new();
    let _ = write.write_all(b"220 test-receiver ESMTP\r\n").await;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let upper = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-test-receiver\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("MAIL FROM:") || upper.starts_with("RSET") {
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            let addr = line.trim_end()[8..]
                .trim()
                .trim_matches(|c| c == '<' || c == '>')
                .to_owned();
            if addr.starts_with("permfail-") {
                b"550 5.1.1 no such user\r\n"
            } else if addr.starts_with("tempfail-") && refused.lock().unwrap().insert(addr.clone())
            {
                b"451 4.3.0 try again later\r\n"
            } else {
                to.push(addr);
                b"250 OK\r\n"
            }
        } else if upper == "DATA" {
            let _ = write.write_all(b"354 go ahead\r\n").await;
            let mut raw = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" {
                    break;
                }
                // Undo dot-stuffing.
                raw.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            mails.lock().unwrap().push(Mail {
                to: std::mem::take(&mut to),
                raw,
            });
            b"250 OK queued\r\n"
        } else if upper.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else if upper.starts_with("NOOP") || upper.starts_with("HELO") {
            b"250 OK\r\n"
        } else {
            b"502 not implemented\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

impl Inbox {
    /// Every mail to `to` so far.
    pub fn to(&self, to: &str) -> Vec<Mail> {
        let mails = self.mails.lock().unwrap();
        mails
            .iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .cloned()
            .collect()
    }

    /// Wait (up to 15 s) until `to` has received `n` mails; returns them, oldest first.
    pub async fn wait_for(&self, to: &str, n: usize) -> Vec<Mail> {
        let start = Instant::now();
        loop {
            let got = self.to(to);
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "{to} got {} of {n} mails",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The decoded text of every part of a raw message (quoted-printable and base64 undone, as a
/// mail client shows it), the subject first.
pub fn mail_text(raw: &str) -> String {
    let parsed = mailparse::parse_mail(raw.as_bytes()).expect("a MIME message");
    let mut out = parsed
        .headers
        .iter()
        .find(|h| h.get_key_ref().eq_ignore_ascii_case("subject"))
        .map(|h| h.get_value())
        .unwrap_or_default();
    fn walk(part: &mailparse::ParsedMail<'_>, out: &mut String) {
        if part.subparts.is_empty() {
            out.push('\n');
            out.push_str(&part.get_body().expect("a decodable body"));
        }
        for sub in &part.subparts {
            walk(sub, out);
        }
    }
    walk(&parsed, &mut out);
    out
}

/// The `token` of the first link in a mail whose path ends with `path` (`/reset-password`).
pub fn token_in(mail: &Mail, path: &str) -> String {
    let text = mail_text(&mail.raw);
    let marker = format!("{path}?token=");
    let start = text
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker} link in:\n{text}"))
        + marker.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

impl super::app::TestApp {
    /// `POST /auth/password/forgot`.
    pub async fn forgot(&self, email: &str) -> reqwest::Response {
        self.post(
            "/auth/password/forgot",
            None,
            serde_json::json!({"email": email}),
        )
        .await
    }

    /// `POST /auth/password/reset`.
    pub async fn reset_password(&self, token: &str, new_password: &str) -> reqwest::Response {
        self.post(
            "/auth/password/reset",
            None,
            serde_json::json!({"token": token, "new_password": new_password}),
        )
        .await
    }

    /// `POST /auth/verify-email`.
    pub async fn verify_email(&self, token: &str) -> reqwest::Response {
        self.post(
            "/auth/verify-email",
            None,
            serde_json::json!({"token": token}),
        )
        .await
    }
}

/// The mails to `to` whose text contains `needle`, once there are `n` of them (up to 15 s).
pub async fn wait_for_mails_with(to: &str, needle: &str, n: usize) -> Vec<Mail> {
    let start = Instant::now();
    loop {
        let got: Vec<Mail> = INBOX
            .to(to)
            .into_iter()
            .filter(|m| mail_text(&m.raw).contains(needle))
            .collect();
        if got.len() >= n {
            return got;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{to} got {} of {n} mails with {needle:?}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The token of the `n`-th (1-based) reset mail to `to`, once it has arrived.
pub async fn reset_token(to: &str, n: usize) -> String {
    let mails = wait_for_mails_with(to, "/reset-password?token=", n).await;
    token_in(&mails[n - 1], "/reset-password")
}

/// The token of the `n`-th verification mail to `to`, once it has arrived.
pub async fn verify_token(to: &str, n: usize) -> String {
    let mails = wait_for_mails_with(to, "/verify-email?token=", n).await;
    token_in(&mails[n - 1], "/verify-email")
}

/// Give the background work of a request (lookup, enqueue, and the sender's next rounds: it
/// looks every second) time to happen, for tests that check a mail does NOT come.
pub async fn settle() {
    tokio::time::sleep(Duration::from_secs(4)).await;
}

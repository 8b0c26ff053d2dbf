//! How mail leaves: SMTP (`smtps://` with implicit TLS, `smtp://` with STARTTLS required,
//! `smtp+insecure://` in plain text to a loopback catcher only), or `.eml` files.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::SendError;

/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where mails go.
pub enum Transport {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// `scheme://host:port`, without credentials.
        shown: String,
    },
    /// The embedded default: each mail is written to this directory as an `.eml` file.
    Files(PathBuf),
}

impl Transport {
    /// Parse `AUTHGATE_SMTP_URL`; anything but the three schemes, or plain text to a host that
    /// is not loopback, is refused with what to write instead.
    pub fn smtp(raw: &str) -> anyhow::Result<Self> {
        let url = url::Url::parse(raw).context(
            "AUTHGATE_SMTP_URL is not a URL (smtps://user:pass@host:465, smtp://user:pass@host:587 \
             or smtp+insecure://localhost:1025)",
        )?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .context("AUTHGATE_SMTP_URL has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let (builder, port) = match url.scheme() {
            "smtps" => (AsyncSmtpTransport::<Tokio1Executor>::relay(&host)?, 465),
            "smtp" => (
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)?,
                587,
            ),
            "smtp+insecure" => {
                if !is_loopback(&host) {
                    bail!(
                        "AUTHGATE_SMTP_URL: smtp+insecure:// sends passwords and links in plain \
                         text, so it is only allowed to a loopback host (a local mail catcher), \
                         not {host:?}; use smtps:// or smtp:// (STARTTLS) for a real server"
                    );
                }
                (
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
                    25,
                )
            }
            other => bail!(
                "AUTHGATE_SMTP_URL: unsupported scheme {other:?}; use smtps:// (TLS), smtp:// \
                 (STARTTLS required) or smtp+insecure:// (loopback only)"
            ),
        };
        let port = url.port().unwrap_or(port);
        let mut builder = builder.port(port).timeout(Some(SMTP_TIMEOUT));
        if !url.username().is_empty() {
            let decode = |s: &str| {
                percent_decode(s).context("AUTHGATE_SMTP_URL: bad percent-encoding in credentials")
            };
            let user = decode(url.username())?;
            let password = decode(url.password().unwrap_or_default())?;
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Self::Smtp {
            transport: builder.build(),
            shown: format!("{}://{host}:{port}", url.scheme()),
        })
    }

    /// `.eml` files under `dir` (created when the first mail is written).
    pub fn files(dir: PathBuf) -> Self {
        Self::Files(dir)
    }

    /// For the start-up log.
    pub fn describe(&self) -> String {
        match self {
            Self::Smtp { shown, .. } => format!("SMTP {shown}"),
            Self::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    /// Send one message.
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Self::Smtp { transport, .. } => match transport.send(message).await {
                Ok(_) => Ok(()),
                Err(e) => Err(SendError {
                    permanent: e.is_permanent(),
                    message: format!("SMTP: {e}"),
                }),
            },
            Self::Files(dir) => write_file(dir, &message).await,
        }
    }
}

async fn write_file(dir: &std::path::Path, message: &Message) -> Result<(), SendError> {
    let transient = |e: std::io::Error| SendError {
        permanent: false,
        message: format!("could not write the mail file in {}: {e}", dir.display()),
    };
    tokio::fs::create_dir_all(dir).await.map_err(transient)?;
    let name = format!(
        "{}-{}.eml",
        time::OffsetDateTime::now_utc().unix_timestamp(),
        uuid::Uuid::new_v4().simple()
    );
    let path = dir.join(name);
    tokio::fs::write(&path, message.formatted())
        .await
        .map_err(transient)?;
    // The path, not the content: the content holds the link.
    tracing::info!(path = %path.display(), "mail written to a file (not delivered: no AUTHGATE_SMTP_URL)");
    Ok(())
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn percent_decode(s: &str) -> anyhow::Result<String> {
    Ok(percent_encoding::percent_decode_str(s)
        .decode_utf8()?
        .into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    // lettre's pool runs on the tokio runtime, so building an SMTP transport needs one.
    #[tokio::test]
    async fn smtp_urls_are_refused_unless_encrypted_or_loopback() {
        for ok in [
            "smtps://u:p@mail.example.com",
            "smtp://u:p%40x@mail.example.com:587",
            "smtp+insecure://localhost:1025",
            "smtp+insecure://127.0.0.1:1025",
            "smtp+insecure://[::1]:1025",
        ] {
            assert!(Transport::smtp(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("smtp+insecure://mail.example.com:25", "loopback"),
            ("http://mail.example.com", "unsupported scheme"),
            ("not a url", "not a URL"),
        ] {
            let e = Transport::smtp(bad).err().expect(bad).to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[tokio::test]
    async fn credentials_are_percent_decoded_and_never_shown() {
        assert_eq!(percent_decode("p%40ss+w").unwrap(), "p@ss+w");
        assert!(percent_decode("%ff").is_err());
        let t = Transport::smtp("smtps://user:hunter2@mail.example.com").unwrap();
        assert_eq!(t.describe(), "SMTP smtps://mail.example.com:465");
    }
}

//! E-mail: the transport (SMTP with lettre over rustls, or `.eml` files in the data directory,
//! the embedded default), the templates (minijinja, compiled in, overridable from a
//! directory) and the links mails carry. The service enqueues mails in the outbox; its sender
//! task hands each to [`Mailer::send`]. Nothing here knows the store.

mod templates;
mod transport;

use std::path::PathBuf;

use anyhow::{Context, bail};
use lettre::message::{Mailbox, MultiPart};

pub use templates::Templates;
pub use transport::Transport;

/// Why a mail was not sent.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// Retrying cannot help (the server refused the recipient, a template is broken).
    pub permanent: bool,
    /// Secret-free: for the log and the outbox row.
    pub message: String,
}

impl SendError {
    fn permanent(message: impl Into<String>) -> Self {
        Self {
            permanent: true,
            message: message.into(),
        }
    }
}

/// What a mailer is built from (the mail settings, resolved).
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `AUTHGATE_SMTP_URL`; `None` for `.eml` files under `file_dir`.
    pub smtp_url: Option<String>,
    pub file_dir: PathBuf,
    /// `AUTHGATE_MAIL_FROM`; `None`: `<product name> <no-reply@localhost>`.
    pub from: Option<String>,
    pub product_name: String,
    pub templates_dir: Option<PathBuf>,
}

/// Renders and sends mails.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    templates: Templates,
    product_name: String,
}

impl Mailer {
    /// Build the transport and load the templates; a bad URL, address or template directory
    /// stops the start with the setting to fix.
    pub fn new(cfg: &MailConfig) -> anyhow::Result<Self> {
        let transport = match &cfg.smtp_url {
            Some(url) => Transport::smtp(url)?,
            None => Transport::files(cfg.file_dir.clone()),
        };
        let from: Mailbox = match &cfg.from {
            Some(from) => from
                .parse()
                .with_context(|| format!("AUTHGATE_MAIL_FROM {from:?} is not a mail address"))?,
            None => Mailbox::new(
                Some(cfg.product_name.trim().to_owned()),
                "no-reply@localhost".parse()?,
            ),
        };
        let templates = Templates::load(cfg.templates_dir.as_deref())?;
        if cfg.product_name.trim().is_empty() {
            bail!("AUTHGATE_PRODUCT_NAME must not be empty");
        }
        Ok(Self {
            transport,
            from,
            templates,
            product_name: cfg.product_name.clone(),
        })
    }

    /// The product name mails (and authgate's pages) are signed with.
    pub fn product_name(&self) -> &str {
        &self.product_name
    }

    /// Where mail goes, for the start-up log (never a password).
    pub fn describe(&self) -> String {
        self.transport.describe()
    }

    /// Whether mail is really delivered (SMTP), or only written to files.
    pub fn delivers(&self) -> bool {
        matches!(self.transport, Transport::Smtp { .. })
    }

    /// Render the template `kind` with `context` (the product name added) and send it to `to`.
    pub async fn send(
        &self,
        kind: &str,
        to: &str,
        context: &serde_json::Value,
    ) -> Result<(), SendError> {
        let to: Mailbox = to
            .parse()
            .map_err(|_| SendError::permanent("the recipient is not a mail address"))?;
        let mut context = context.clone();
        if let Some(map) = context.as_object_mut() {
            map.insert("product".into(), self.product_name.clone().into());
        }
        let rendered = self
            .templates
            .render(kind, &context)
            .map_err(|e| SendError::permanent(format!("template {kind}: {e}")))?;
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| SendError::permanent(format!("could not build the message: {e}")))?;
        self.transport.send(message).await
    }
}

/// Where the links in mails point: `{token}` in each is replaced by the token.
#[derive(Debug, Clone)]
pub struct Links {
    pub reset: String,
    pub verify: String,
}

impl Links {
    /// The settings' templates, or authgate's own pages under `public_url`.
    pub fn new(
        public_url: &str,
        reset: Option<&str>,
        verify: Option<&str>,
    ) -> anyhow::Result<Self> {
        let base = public_url.trim_end_matches('/');
        let links = Self {
            reset: reset.map_or_else(
                || format!("{base}/reset-password?token={{token}}"),
                str::to_owned,
            ),
            verify: verify.map_or_else(
                || format!("{base}/verify-email?token={{token}}"),
                str::to_owned,
            ),
        };
        for (name, link) in [
            ("AUTHGATE_RESET_URL", &links.reset),
            ("AUTHGATE_VERIFY_URL", &links.verify),
        ] {
            if !link.contains("{token}") {
                bail!("{name} must contain {{token}}, where the one-time token goes");
            }
            url::Url::parse(&link.replace("{token}", "t"))
                .with_context(|| format!("{name} (or AUTHGATE_PUBLIC_URL) is not a URL"))?;
        }
        Ok(links)
    }

    /// The reset link carrying `token`.
    pub fn reset(&self, token: &str) -> String {
        self.reset.replace("{token}", token)
    }

    /// The verification link carrying `token`.
    pub fn verify(&self, token: &str) -> String {
        self.verify.replace("{token}", token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_sender_is_the_product_name_and_a_bad_one_is_refused() {
        let mut cfg = MailConfig {
            smtp_url: None,
            file_dir: PathBuf::from("unused"),
            from: None,
            product_name: "Acme, Inc.".into(),
            templates_dir: None,
        };
        let mailer = Mailer::new(&cfg).unwrap();
        assert_eq!(mailer.from.name.as_deref(), Some("Acme, Inc."));
        assert!(!mailer.delivers());
        cfg.from = Some("not an address".into());
        let e = Mailer::new(&cfg).err().unwrap().to_string();
        assert!(e.contains("AUTHGATE_MAIL_FROM"), "{e}");
    }

    #[test]
    fn links_default_to_authgate_pages_and_need_a_token_placeholder() {
        let l = Links::new("http://127.0.0.1:8080/", None, None).unwrap();
        assert_eq!(
            l.reset("abc"),
            "http://127.0.0.1:8080/reset-password?token=abc"
        );
        assert_eq!(
            l.verify("abc"),
            "http://127.0.0.1:8080/verify-email?token=abc"
        );
        let l = Links::new(
            "http://x",
            Some("https://app.example/reset?t={token}"),
            None,
        )
        .unwrap();
        assert_eq!(l.reset("abc"), "https://app.example/reset?t=abc");
        let e = Links::new("http://x", Some("https://app.example/reset"), None).unwrap_err();
        assert!(e.to_string().contains("{token}"), "{e}");
    }
}

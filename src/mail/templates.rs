//! Mail templates: a subject, a plain-text and an HTML body per kind of mail, compiled into the
//! binary and each overridable by a file of the same name in `AUTHGATE_MAIL_TEMPLATES`.
//! minijinja, so overrides need no rebuild; `.html` templates escape every value, and an
//! unknown variable is an error, not an empty string. Every template is rendered once with
//! sample values at start-up, so a broken override stops the start instead of a mail.

use std::path::Path;

use anyhow::Context;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::json;

/// The kinds of mail, and the values each template may use besides `product`.
pub const KINDS: &[(&str, &[&str])] = &[
    ("reset_password", &["link", "ttl_minutes"]),
    ("verify_email", &["link", "ttl_hours"]),
    ("email_change", &["link", "ttl_hours", "new_email"]),
    ("email_change_notice", &["new_email"]),
    ("signup_attempt", &["forgot_hint"]),
    ("mfa_enabled", &[]),
    ("mfa_disabled", &[]),
    ("recovery_code_used", &["left"]),
];

/// The compiled-in templates, by file name.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "reset_password.subject.txt",
        include_str!("templates/reset_password.subject.txt"),
    ),
    (
        "reset_password.txt",
        include_str!("templates/reset_password.txt"),
    ),
    (
        "reset_password.html",
        include_str!("templates/reset_password.html"),
    ),
    (
        "verify_email.subject.txt",
        include_str!("templates/verify_email.subject.txt"),
    ),
    (
        "verify_email.txt",
        include_str!("templates/verify_email.txt"),
    ),
    (
        "verify_email.html",
        include_str!("templates/verify_email.html"),
    ),
    (
        "email_change.subject.txt",
        include_str!("templates/email_change.subject.txt"),
    ),
    (
        "email_change.txt",
        include_str!("templates/email_change.txt"),
    ),
    (
        "email_change.html",
        include_str!("templates/email_change.html"),
    ),
    (
        "email_change_notice.subject.txt",
        include_str!("templates/email_change_notice.subject.txt"),
    ),
    (
        "email_change_notice.txt",
        include_str!("templates/email_change_notice.txt"),
    ),
    (
        "email_change_notice.html",
        include_str!("templates/email_change_notice.html"),
    ),
    (
        "signup_attempt.subject.txt",
        include_str!("templates/signup_attempt.subject.txt"),
    ),
    (
        "signup_attempt.txt",
        include_str!("templates/signup_attempt.txt"),
    ),
    (
        "signup_attempt.html",
        include_str!("templates/signup_attempt.html"),
    ),
    (
        "mfa_enabled.subject.txt",
        include_str!("templates/mfa_enabled.subject.txt"),
    ),
    ("mfa_enabled.txt", include_str!("templates/mfa_enabled.txt")),
    (
        "mfa_enabled.html",
        include_str!("templates/mfa_enabled.html"),
    ),
    (
        "mfa_disabled.subject.txt",
        include_str!("templates/mfa_disabled.subject.txt"),
    ),
    (
        "mfa_disabled.txt",
        include_str!("templates/mfa_disabled.txt"),
    ),
    (
        "mfa_disabled.html",
        include_str!("templates/mfa_disabled.html"),
    ),
    (
        "recovery_code_used.subject.txt",
        include_str!("templates/recovery_code_used.subject.txt"),
    ),
    (
        "recovery_code_used.txt",
        include_str!("templates/recovery_code_used.txt"),
    ),
    (
        "recovery_code_used.html",
        include_str!("templates/recovery_code_used.html"),
    ),
];

/// A rendered mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The loaded templates.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The built-in templates, each replaced by `dir/<name>` where that file exists.
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(dir) = dir.filter(|d| !d.is_dir()) {
            anyhow::bail!(
                "AUTHGATE_MAIL_TEMPLATES: {} is not a directory",
                dir.display()
            );
        }
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source) in BUILT_IN {
            let source = match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
                Some(path) => std::fs::read_to_string(&path).with_context(|| {
                    format!("AUTHGATE_MAIL_TEMPLATES: could not read {}", path.display())
                })?,
                None => (*source).to_owned(),
            };
            env.add_template_owned(*name, source)
                .with_context(|| format!("mail template {name} does not compile"))?;
        }
        let templates = Self { env };
        for (kind, vars) in KINDS {
            let mut sample = json!({"product": "authgate"});
            for var in *vars {
                sample[*var] = json!("sample");
            }
            templates
                .render(kind, &sample)
                .with_context(|| format!("mail template {kind} does not render"))?;
        }
        Ok(templates)
    }

    /// Render the three parts of `kind`.
    pub fn render(&self, kind: &str, context: &serde_json::Value) -> anyhow::Result<Rendered> {
        let part = |suffix: &str| -> anyhow::Result<String> {
            let name = format!("{kind}.{suffix}");
            let template = self
                .env
                .get_template(&name)
                .with_context(|| format!("no mail template {name}"))?;
            Ok(template.render(context)?)
        };
        Ok(Rendered {
            // A subject is one line, whatever the template's whitespace.
            subject: part("subject.txt")?
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            text: part("txt")?,
            html: part("html")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_values_and_text_carries_the_link() {
        let t = Templates::load(None).unwrap();
        let ctx =
            json!({"product": "Acme <b>", "link": "https://x/r?token=a&b", "ttl_minutes": 30});
        let r = t.render("reset_password", &ctx).unwrap();
        assert!(r.text.contains("https://x/r?token=a&b"), "{}", r.text);
        // minijinja escapes `/` too (`&#x2f;`): still the same URL to a browser or mail client.
        assert!(
            r.html.contains("r?token=a&amp;b") && !r.html.contains("a&b"),
            "{}",
            r.html
        );
        assert!(
            r.html.contains("Acme &lt;b&gt;") && !r.html.contains("<b>"),
            "{}",
            r.html
        );
        assert!(r.subject.contains("Acme <b>") && !r.subject.contains('\n'));
    }

    #[test]
    fn a_directory_overrides_single_templates_and_a_broken_one_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("reset_password.subject.txt"),
            "Reset for {{ product }}",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let ctx = json!({"product": "Acme", "link": "l", "ttl_minutes": 30});
        assert_eq!(
            t.render("reset_password", &ctx).unwrap().subject,
            "Reset for Acme"
        );
        std::fs::write(dir.path().join("verify_email.txt"), "{{ nope }}").unwrap();
        let e = Templates::load(Some(dir.path())).err().unwrap();
        assert!(format!("{e:#}").contains("verify_email"), "{e:#}");
    }
}

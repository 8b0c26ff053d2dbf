//! Moving accounts in and out: `authgate import tutorial | jsonl` and `authgate export jsonl`.
//!
//! Every source becomes a stream of [`Account`]s, checked by the same domain parsers as a
//! registration (`Email`, `Username`) and written a batch per transaction by
//! [`ImportStore`](crate::store::ImportStore). Accounts are keyed by e-mail: one that authgate
//! already has is left exactly as it is, so a second run changes nothing. The [`ImportReport`]
//! names every row that was skipped or changed and why. Hashes are kept as they are (bcrypt
//! is upgraded to argon2id at the next login); an account without a usable one is stored with
//! [`NO_PASSWORD`], which never logs in, and must reset its password.

mod checks;
mod report;

use std::io::BufRead;

use super::error::Result;
use super::state::AuthState;
use crate::domain::role;
use crate::hashing::NO_PASSWORD;
use crate::store::UserQuery;
use crate::store::tutorial::{TutorialSource, TutorialUser};
use checks::{BATCH, Importer};
pub use report::{Account, AccountLine, ImportProgress, ImportReport, NoteKind};

/// Tutorial role names → authgate's.
fn tutorial_role(name: &str) -> Option<&'static str> {
    match name {
        "ROLE_USER" => Some(role::USER),
        "ROLE_MODERATOR" => Some(role::MODERATOR),
        "ROLE_ADMIN" => Some(role::ADMIN),
        _ => None,
    }
}

impl AuthState {
    /// Import the users of a seed-000 tutorial database at `url` (PostgreSQL), roles mapped
    /// `ROLE_USER`→`user`, `ROLE_MODERATOR`→`moderator`, `ROLE_ADMIN`→`admin`.
    pub async fn import_tutorial(
        &self,
        url: &str,
        dry_run: bool,
        progress: &mut dyn ImportProgress,
    ) -> Result<ImportReport> {
        let mut source = TutorialSource::open(url).await?;
        progress.total(source.count().await?);
        let mut run = Importer::new(self, dry_run).await?;
        let mut after = i64::MIN;
        loop {
            let page = source.page(after, BATCH as i64).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for user in page {
                run.push(tutorial_account(user)).await?;
            }
            run.flush().await?;
            progress.advance(run.progressed());
        }
        Ok(run.finish("tutorial").await)
    }

    /// Import JSON lines (one `AccountLine` a line; blank lines ignored) from `input`.
    pub async fn import_jsonl(
        &self,
        input: impl BufRead,
        dry_run: bool,
        progress: &mut dyn ImportProgress,
    ) -> Result<ImportReport> {
        let mut run = Importer::new(self, dry_run).await?;
        for (i, line) in input.lines().enumerate() {
            let source = format!("line {}", i + 1);
            let line = line.map_err(|e| anyhow::anyhow!("could not read {source}: {e}"))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<AccountLine>(&line) {
                Ok(line) => run.push(Account { source, line }).await?,
                Err(e) => run.skip_unreadable(source, &e),
            }
            if run.report.read - run.reported >= BATCH as u64 {
                progress.advance(run.progressed());
            }
        }
        run.flush().await?;
        progress.advance(run.progressed());
        Ok(run.finish("jsonl").await)
    }

    /// Every account, in creation order, as `AccountLine`s handed to `sink`; returns how many.
    /// An account without a usable password is exported without `password_hash`.
    pub async fn export_accounts(
        &self,
        sink: &mut dyn FnMut(&AccountLine) -> std::io::Result<()>,
    ) -> Result<u64> {
        let store = &self.issuer()?.store;
        let mut query = UserQuery {
            limit: BATCH as i64,
            ..UserQuery::default()
        };
        let mut n = 0;
        loop {
            let page = store.list_users(&query).await?;
            let Some(last) = page.last() else {
                return Ok(n);
            };
            query.after = Some(last.id);
            for u in page {
                let created = time::OffsetDateTime::from_unix_timestamp(u.created_at)
                    .ok()
                    .and_then(|t| {
                        t.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    });
                let line = AccountLine {
                    email: u.email,
                    username: u.username,
                    password_hash: Some(u.password_hash).filter(|h| h != NO_PASSWORD),
                    roles: u.roles,
                    email_verified: u.email_verified,
                    is_active: u.is_active,
                    created_at: created.map(serde_json::Value::String),
                };
                sink(&line).map_err(|e| anyhow::anyhow!("could not write the export: {e}"))?;
                n += 1;
            }
        }
    }
}

/// A tutorial row as an [`Account`]; roles the tutorial has and authgate does not keep their
/// tutorial name, so the report names them.
fn tutorial_account(user: TutorialUser) -> Account {
    let roles = user
        .roles
        .iter()
        .map(|r| tutorial_role(r).map_or_else(|| r.clone(), str::to_owned))
        .collect();
    Account {
        source: format!("users.id {}", user.id),
        line: AccountLine {
            email: user.email.unwrap_or_default(),
            username: user.username,
            password_hash: user.password,
            roles,
            email_verified: false,
            is_active: true,
            created_at: None,
        },
    }
}

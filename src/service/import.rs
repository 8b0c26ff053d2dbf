//! Moving accounts in and out: `authgate import tutorial | jsonl` and `authgate export jsonl`.
//!
//! Every source becomes a stream of [`Account`]s, checked by the same domain parsers as a
//! registration (`Email`, `Username`) and written a batch per transaction by
//! [`ImportStore`](crate::store::ImportStore). Accounts are keyed by e-mail: one that authgate
//! already has is left exactly as it is, so a second run changes nothing. The [`ImportReport`]
//! names every row that was skipped or changed and why. Hashes are kept as they are (bcrypt
//! is upgraded to argon2id at the next login); an account without a usable one is stored with
//! [`NO_PASSWORD`], which never logs in, and must reset its password.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::BufRead;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::audit::{Event, EventKind};
use super::error::Result;
use super::state::AuthState;
use crate::domain::{Actor, Email, Username, role};
use crate::hashing::{Hasher, NO_PASSWORD};
use crate::store::tutorial::{TutorialSource, TutorialUser};
use crate::store::{Imported, NewUser, UserQuery};

/// Accounts written per transaction.
pub const BATCH: usize = 1000;

/// One account in the JSON-lines format of `import jsonl` / `export jsonl`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccountLine {
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A PHC string (`$argon2id$…`) or bcrypt (`$2b$…`); absent: the account must reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default = "yes")]
    pub is_active: bool,
    /// RFC 3339 on export; RFC 3339 or unix seconds on import; absent: the time of the import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<serde_json::Value>,
}

fn yes() -> bool {
    true
}

/// An account to import, from any source, before any check.
#[derive(Debug, Clone)]
pub struct Account {
    /// Where it came from, for the report (`users.id 7`, `line 12`).
    pub source: String,
    pub line: AccountLine,
}

/// What the report says about one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteKind {
    /// Not imported.
    Skipped,
    /// Imported, but not exactly as given.
    Changed,
}

/// One row the report names.
#[derive(Debug, Clone)]
pub struct Note {
    pub source: String,
    /// The e-mail as given (empty when there was none).
    pub email: String,
    pub kind: NoteKind,
    pub reason: String,
}

/// What an import did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub dry_run: bool,
    /// Rows read from the source.
    pub read: u64,
    /// Accounts created.
    pub created: u64,
    /// Rows whose account authgate already had: left untouched.
    pub existing: u64,
    /// Rows not imported (each has a `Skipped` note).
    pub skipped: u64,
    /// Accounts created without a usable password: they must reset it before they can log in.
    pub must_reset: u64,
    /// Every skipped or changed row, in source order.
    pub notes: Vec<Note>,
}

/// Told how far an import has got (the CLI draws a progress bar from it).
pub trait ImportProgress {
    /// The number of rows the source has, once known.
    fn total(&mut self, rows: u64);
    /// `rows` more rows are done.
    fn advance(&mut self, rows: u64);
}

/// No progress reporting.
impl ImportProgress for () {
    fn total(&mut self, _: u64) {}
    fn advance(&mut self, _: u64) {}
}

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

    /// Import JSON lines (one [`AccountLine`] a line; blank lines ignored) from `input`.
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

    /// Every account, in creation order, as [`AccountLine`]s handed to `sink`; returns how many.
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

/// A checked account waiting for its batch, with what the report will say if it is created.
struct Pending {
    user: NewUser,
    source: String,
    changes: Vec<String>,
    must_reset: bool,
}

/// One import run: the checks that span the whole source (addresses and usernames seen), the
/// batch being filled, and the report.
struct Importer<'a> {
    state: &'a AuthState,
    hasher: &'a Hasher,
    dry_run: bool,
    now: i64,
    roles: HashSet<String>,
    /// Each e-mail key seen → the row that had it first.
    emails: HashMap<String, String>,
    usernames: HashSet<String>,
    pending: Vec<Pending>,
    report: ImportReport,
    /// Rows already counted as progress.
    reported: u64,
}

impl<'a> Importer<'a> {
    async fn new(state: &'a AuthState, dry_run: bool) -> Result<Self> {
        let issuer = state.issuer()?;
        let roles = issuer.store.list_roles().await?;
        Ok(Self {
            state,
            hasher: &issuer.hasher,
            dry_run,
            now: state.clock().now(),
            roles: roles.into_iter().map(|r| r.name).collect(),
            emails: HashMap::new(),
            usernames: HashSet::new(),
            pending: Vec::with_capacity(BATCH),
            report: ImportReport {
                dry_run,
                ..ImportReport::default()
            },
            reported: 0,
        })
    }

    fn note(&mut self, source: String, email: &str, kind: NoteKind, reason: String) {
        if kind == NoteKind::Skipped {
            self.report.skipped += 1;
        }
        let email = email.to_owned();
        self.report.notes.push(Note {
            source,
            email,
            kind,
            reason,
        });
    }

    /// A line that is not an account: skipped. Only the kind of error and its column are
    /// reported: serde's message can quote the value, and a value can be a hash.
    fn skip_unreadable(&mut self, source: String, e: &serde_json::Error) {
        self.report.read += 1;
        let msg = e.to_string();
        let reason = if msg.starts_with("missing field") {
            msg.split(" at line").next().unwrap_or(&msg).to_owned()
        } else {
            format!("not a JSON account (error at column {})", e.column())
        };
        self.note(source, "", NoteKind::Skipped, reason);
    }

    /// Check one account and queue it for the batch (or note why it is skipped).
    async fn push(&mut self, account: Account) -> Result<()> {
        self.report.read += 1;
        let Account { source, line } = account;
        let email = match Email::parse(&line.email) {
            Ok(e) => e,
            Err(why) => {
                self.note(
                    source,
                    &line.email,
                    NoteKind::Skipped,
                    format!("invalid e-mail: {why}"),
                );
                return Ok(());
            }
        };
        if let Some(first) = self.emails.get(email.lower()) {
            let reason = format!("the same address as {first} once normalised");
            self.note(source, &line.email, NoteKind::Skipped, reason);
            return Ok(());
        }
        self.emails.insert(email.lower().to_owned(), source.clone());
        let mut changes = Vec::new();
        let username = self.username(line.username.as_deref(), &mut changes);
        let roles = self.roles(&line.roles, &mut changes);
        let (password_hash, must_reset) =
            self.password(line.password_hash.as_deref(), &mut changes);
        let created_at = self.created_at(line.created_at.as_ref(), &mut changes);
        let user = NewUser {
            id: Uuid::now_v7(),
            email: email.as_str().to_owned(),
            email_lower: email.lower().to_owned(),
            username: username.as_ref().map(|u| u.as_str().to_owned()),
            username_lower: username.as_ref().map(|u| u.lower().to_owned()),
            password_hash,
            roles,
            is_active: line.is_active,
            email_verified: line.email_verified,
            created_at,
        };
        self.pending.push(Pending {
            user,
            source,
            changes,
            must_reset,
        });
        if self.pending.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    fn username(&mut self, given: Option<&str>, changes: &mut Vec<String>) -> Option<Username> {
        let given = given.map(str::trim).filter(|u| !u.is_empty())?;
        match Username::parse(given) {
            Err(why) => {
                changes.push(format!("imported without its username {given:?}: {why}"));
                None
            }
            Ok(u) if !self.usernames.insert(u.lower().to_owned()) => {
                changes.push(format!(
                    "imported without its username {given:?}: an earlier row has it"
                ));
                None
            }
            Ok(u) => Some(u),
        }
    }

    fn roles(&self, given: &[String], changes: &mut Vec<String>) -> Vec<String> {
        let mut roles = BTreeSet::new();
        for r in given {
            if self.roles.contains(r.as_str()) {
                roles.insert(r.clone());
            } else {
                changes.push(format!("role {r:?} is unknown to authgate; not given"));
            }
        }
        roles.into_iter().collect()
    }

    /// The hash to store, and whether the account must reset its password.
    fn password(&self, given: Option<&str>, changes: &mut Vec<String>) -> (String, bool) {
        let Some(hash) = given.filter(|h| !h.is_empty()) else {
            changes.push("no password: imported, must reset its password".into());
            return (NO_PASSWORD.to_owned(), true);
        };
        match self.hasher.check_stored(hash) {
            Ok(()) => (hash.to_owned(), false),
            Err(why) => {
                // SECURITY: the value is never repeated: it may be a plaintext password.
                changes.push(format!(
                    "password is {why}: imported, must reset its password"
                ));
                (NO_PASSWORD.to_owned(), true)
            }
        }
    }

    fn created_at(&self, given: Option<&serde_json::Value>, changes: &mut Vec<String>) -> i64 {
        use time::format_description::well_known::Rfc3339;
        let parsed = match given {
            None | Some(serde_json::Value::Null) => return self.now,
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => time::OffsetDateTime::parse(s, &Rfc3339)
                .ok()
                .map(|t| t.unix_timestamp()),
            Some(_) => None,
        };
        parsed.unwrap_or_else(|| {
            changes.push("created_at is not RFC 3339 or unix seconds: set to now".into());
            self.now
        })
    }

    /// Rows read since the last call.
    fn progressed(&mut self) -> u64 {
        let n = self.report.read - self.reported;
        self.reported = self.report.read;
        n
    }

    /// Write the queued batch in one transaction.
    async fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch: Vec<Pending> = std::mem::take(&mut self.pending);
        let users: Vec<NewUser> = batch.iter().map(|p| p.user.clone()).collect();
        let store = &self.state.issuer()?.store;
        let outcomes = store.import_users(&users, self.dry_run).await?;
        for (p, outcome) in batch.into_iter().zip(outcomes) {
            let mut changes = p.changes;
            match outcome {
                Imported::Exists => {
                    // Left as it is, so none of the row's changes happened.
                    self.report.existing += 1;
                    continue;
                }
                Imported::WithoutUsername => changes.push(
                    "imported without its username: another account in authgate has it".into(),
                ),
                Imported::Created => {}
            }
            self.report.created += 1;
            self.report.must_reset += u64::from(p.must_reset);
            for reason in changes {
                let note = (p.source.clone(), p.user.email.clone());
                self.note(note.0, &note.1, NoteKind::Changed, reason);
            }
        }
        Ok(())
    }

    /// The report, its notes in source order; a real run is audited with its counts.
    async fn finish(mut self, source: &str) -> ImportReport {
        self.report.notes.sort_by_key(|n| source_order(&n.source));
        let r = &self.report;
        if !r.dry_run {
            let actor = Actor::system();
            let detail = format!(
                "source={source} read={} created={} existing={} skipped={} must_reset={}",
                r.read, r.created, r.existing, r.skipped, r.must_reset
            );
            let event = Event::new(EventKind::UsersImported, &actor.client)
                .by(&actor)
                .detail(detail);
            self.state.audit(event).await;
        }
        self.report
    }
}

/// Sort key for report notes: the number in `users.id 7` / `line 12`.
fn source_order(source: &str) -> i64 {
    source
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(i64::MAX)
}

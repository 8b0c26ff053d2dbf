//! One import run: every account checked by the registration parsers, the checks that span
//! the whole source (addresses and usernames seen), the batch being filled, and the report.

use std::collections::{BTreeSet, HashMap, HashSet};

use uuid::Uuid;

use super::report::{Account, ImportReport, Note, NoteKind};
use crate::domain::{Actor, Email, Username};
use crate::hashing::{Hasher, NO_PASSWORD};
use crate::service::audit::{Event, EventKind};
use crate::service::error::Result;
use crate::service::state::AuthState;
use crate::store::{Imported, NewUser};

/// Accounts written per transaction.
pub const BATCH: usize = 1000;

/// A checked account waiting for its batch, with what the report will say if it is created.
pub(super) struct Pending {
    user: NewUser,
    source: String,
    changes: Vec<String>,
    must_reset: bool,
}

/// One import run: the checks that span the whole source (addresses and usernames seen), the
/// batch being filled, and the report.
pub(super) struct Importer<'a> {
    state: &'a AuthState,
    hasher: &'a Hasher,
    dry_run: bool,
    now: i64,
    roles: HashSet<String>,
    /// Each e-mail key seen → the row that had it first.
    emails: HashMap<String, String>,
    usernames: HashSet<String>,
    pub(super) pending: Vec<Pending>,
    pub(super) report: ImportReport,
    /// Rows already counted as progress.
    pub(super) reported: u64,
}

impl<'a> Importer<'a> {
    pub(super) async fn new(state: &'a AuthState, dry_run: bool) -> Result<Self> {
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
    pub(super) fn skip_unreadable(&mut self, source: String, e: &serde_json::Error) {
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
    pub(super) async fn push(&mut self, account: Account) -> Result<()> {
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
    pub(super) fn progressed(&mut self) -> u64 {
        let n = self.report.read - self.reported;
        self.reported = self.report.read;
        n
    }

    /// Write the queued batch in one transaction.
    pub(super) async fn flush(&mut self) -> Result<()> {
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
    pub(super) async fn finish(mut self, source: &str) -> ImportReport {
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

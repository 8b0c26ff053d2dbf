//! What an import reads and answers: the JSON-lines account, the report and its notes, and
//! the progress hook.

use serde::{Deserialize, Serialize};

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

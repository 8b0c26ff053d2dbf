//! `authgate import tutorial | jsonl` and `authgate export jsonl`: moving accounts in and out.
//! The work is `AuthState::import_*` / `export_accounts`; here are the files, the progress bar
//! (only when stderr is a terminal) and the printed report.

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Settings;
use crate::service::{AuthState, ImportProgress, ImportReport, NoteKind};

/// Where accounts are imported from.
#[derive(Subcommand)]
pub enum ImportCommand {
    /// The users of a tutorial app's PostgreSQL database (seed 000's schema: users, roles,
    /// users_to_roles; passlib bcrypt hashes). Roles ROLE_USER, ROLE_MODERATOR, ROLE_ADMIN
    /// become user, moderator, admin.
    Tutorial {
        /// The tutorial's database, postgres://…; from AUTHGATE_IMPORT_FROM keeps its password
        /// out of the process list.
        #[arg(long = "from", env = "AUTHGATE_IMPORT_FROM", hide_env_values = true)]
        from: String,
        /// Check and report everything, write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        settings: Settings,
    },
    /// One JSON account a line: email, username, password_hash (PHC or bcrypt; absent: the
    /// account must reset its password), roles, email_verified, is_active, created_at.
    Jsonl {
        file: PathBuf,
        /// Check and report everything, write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        settings: Settings,
    },
}

/// Where accounts are exported to.
#[derive(Subcommand)]
pub enum ExportCommand {
    /// Every account as one JSON line (the format `import jsonl` reads), password hashes
    /// included: the file is created readable by its owner only, and never overwritten.
    Jsonl {
        file: PathBuf,
        #[command(flatten)]
        settings: Settings,
    },
}

impl ImportCommand {
    /// The command's settings.
    pub fn settings(&self) -> &Settings {
        match self {
            Self::Tutorial { settings, .. } | Self::Jsonl { settings, .. } => settings,
        }
    }
}

impl ExportCommand {
    /// The command's settings.
    pub fn settings(&self) -> &Settings {
        match self {
            Self::Jsonl { settings, .. } => settings,
        }
    }
}

/// Run an import and print its report.
pub async fn import(cmd: ImportCommand) -> anyhow::Result<()> {
    let mut bar = Bar::new();
    let report = match cmd {
        ImportCommand::Tutorial {
            from,
            dry_run,
            settings,
        } => {
            let state = AuthState::from_settings(&settings).await?;
            state
                .import_tutorial(&from, dry_run, &mut bar)
                .await
                .map_err(super::describe)?
        }
        ImportCommand::Jsonl {
            file,
            dry_run,
            settings,
        } => {
            let input = open(&file)?;
            bar.total(count_lines(&file)?);
            let state = AuthState::from_settings(&settings).await?;
            state
                .import_jsonl(input, dry_run, &mut bar)
                .await
                .map_err(super::describe)?
        }
    };
    bar.finish();
    print_report(&report)
}

/// Run an export.
pub async fn export(cmd: ExportCommand) -> anyhow::Result<()> {
    let ExportCommand::Jsonl { file, settings } = cmd;
    let state = AuthState::from_settings(&settings).await?;
    let mut out = BufWriter::new(create_private(&file)?);
    let n = state
        .export_accounts(&mut |line| {
            serde_json::to_writer(&mut out, line)?;
            out.write_all(b"\n")
        })
        .await
        .map_err(super::describe)?;
    out.flush()
        .with_context(|| format!("could not write {}", file.display()))?;
    println!("exported {n} accounts to {}", file.display());
    Ok(())
}

fn open(file: &Path) -> anyhow::Result<BufReader<File>> {
    let f = File::open(file).with_context(|| format!("could not open {}", file.display()))?;
    Ok(BufReader::new(f))
}

/// Lines in `file`, for the progress bar's length.
fn count_lines(file: &Path) -> anyhow::Result<u64> {
    let mut input = open(file)?;
    let mut buf = [0u8; 64 * 1024];
    let mut lines = 0;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

/// A new file only its owner can read: an export holds password hashes.
fn create_private(file: &Path) -> anyhow::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(file).with_context(|| {
        format!(
            "could not create {} (an export never overwrites a file)",
            file.display()
        )
    })
}

/// The report: every skipped or changed row, then the totals.
fn print_report(r: &ImportReport) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for note in &r.notes {
        let kind = match note.kind {
            NoteKind::Skipped => "skipped",
            NoteKind::Changed => "changed",
        };
        let who = if note.email.is_empty() {
            String::new()
        } else {
            format!(" <{}>", note.email)
        };
        writeln!(out, "{}{who}: {kind}: {}", note.source, note.reason)?;
    }
    let verb = if r.dry_run {
        "would import"
    } else {
        "imported"
    };
    writeln!(
        out,
        "read {} rows: {verb} {} ({} must reset their password), {} already in authgate \
         (left as they are), {} skipped",
        r.read, r.created, r.must_reset, r.existing, r.skipped
    )?;
    if r.dry_run {
        writeln!(out, "dry run: nothing was written")?;
    }
    Ok(())
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::new(0);
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} rows ({per_sec}, {eta} left)")
        {
            bar.set_style(style);
        }
        Self(Some(bar))
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl ImportProgress for Bar {
    fn total(&mut self, rows: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(rows);
        }
    }

    fn advance(&mut self, rows: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(rows);
        }
    }
}

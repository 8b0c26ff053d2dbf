//! Migrations embedded in the binary, one directory per SQL dialect.
//!
//! Built by hand rather than with `sqlx::migrate!` so that sqlx's proc-macro crate (which would
//! compile SQLite's C code a second time) stays out of the build.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// `(version, description, sql)` for each backend, in order.
const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "abuse",
        include_str!("../../migrations/sqlite/0002_abuse.sql"),
    ),
    (
        3,
        "device tokens",
        include_str!("../../migrations/sqlite/0003_device_tokens.sql"),
    ),
    (
        4,
        "revocation seq",
        include_str!("../../migrations/sqlite/0004_revocation_seq.sql"),
    ),
    (
        5,
        "email verified",
        include_str!("../../migrations/sqlite/0005_email_verified.sql"),
    ),
    (
        6,
        "recovery",
        include_str!("../../migrations/sqlite/0006_recovery.sql"),
    ),
    (
        7,
        "mfa",
        include_str!("../../migrations/sqlite/0007_mfa.sql"),
    ),
    (
        8,
        "verifiers",
        include_str!("../../migrations/sqlite/0008_verifiers.sql"),
    ),
    (
        9,
        "key rotation",
        include_str!("../../migrations/sqlite/0009_key_rotation.sql"),
    ),
    (
        10,
        "passkeys",
        include_str!("../../migrations/sqlite/0010_passkeys.sql"),
    ),
    (
        11,
        "scale",
        include_str!("../../migrations/sqlite/0011_scale.sql"),
    ),
    (
        12,
        "user search",
        include_str!("../../migrations/sqlite/0012_user_search.sql"),
    ),
    (
        13,
        "refresh rotation",
        include_str!("../../migrations/sqlite/0013_refresh_rotation.sql"),
    ),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "abuse",
        include_str!("../../migrations/postgres/0002_abuse.sql"),
    ),
    (
        3,
        "device tokens",
        include_str!("../../migrations/postgres/0003_device_tokens.sql"),
    ),
    (
        4,
        "revocation seq",
        include_str!("../../migrations/postgres/0004_revocation_seq.sql"),
    ),
    (
        5,
        "email verified",
        include_str!("../../migrations/postgres/0005_email_verified.sql"),
    ),
    (
        6,
        "recovery",
        include_str!("../../migrations/postgres/0006_recovery.sql"),
    ),
    (
        7,
        "mfa",
        include_str!("../../migrations/postgres/0007_mfa.sql"),
    ),
    (
        8,
        "verifiers",
        include_str!("../../migrations/postgres/0008_verifiers.sql"),
    ),
    (
        9,
        "key rotation",
        include_str!("../../migrations/postgres/0009_key_rotation.sql"),
    ),
    (
        10,
        "passkeys",
        include_str!("../../migrations/postgres/0010_passkeys.sql"),
    ),
    (
        11,
        "scale",
        include_str!("../../migrations/postgres/0011_scale.sql"),
    ),
    (
        12,
        "user search",
        include_str!("../../migrations/postgres/0012_user_search.sql"),
    ),
    (
        13,
        "refresh rotation",
        include_str!("../../migrations/postgres/0013_refresh_rotation.sql"),
    ),
];

fn migrator(list: &[(i64, &'static str, &'static str)]) -> Migrator {
    let migrations = list
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// The SQLite migrator.
pub(crate) fn sqlite() -> Migrator {
    migrator(SQLITE)
}

/// The PostgreSQL migrator.
pub(crate) fn postgres() -> Migrator {
    migrator(POSTGRES)
}

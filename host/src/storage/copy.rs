//! Copying an SQLite database into PostgreSQL (`modhost migrate-db`).
//!
//! Both databases are first brought to this binary's schema by their own migrations, so
//! they hold the same tables with the same columns. Every table is then copied in batches
//! inside ONE PostgreSQL transaction (a failed or refused copy leaves the target as it
//! was), reading the source from one SQLite snapshot. The copy is generic: column names
//! come from the source, values are bound by the type they hold. It is idempotent: rows of
//! keyed tables are upserted on the target's primary key (or its unique key), tables with
//! no key (the search index, whose `tsvector` PostgreSQL derives itself) are emptied and
//! refilled, and identity sequences are moved past every copied number.
//!
//! A rerun must never undo what a server did on the target since the last copy (a changed
//! password rolled back to the source's): the upsert only touches a row whose values
//! differ, counts those, and the copy is rolled back when any table has one.

use std::path::Path;

use futures_util::TryStreamExt;
use sqlx::any::{AnyArguments, AnyRow, AnyTypeInfoKind};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row, ValueRef};

use super::locks::{self, WriteLock};
use super::{Store, SQLITE_MIGRATOR};
use crate::config::Database;

/// Rows read from the source and written to the target per `INSERT` statement.
pub const BATCH_ROWS: usize = 500;

/// Every write lock, taken by the copy so that a server already running on the target
/// waits for the copy instead of interleaving its own stream positions with it.
const ALL_LOCKS: [WriteLock; 9] = [
    WriteLock::Events,
    WriteLock::AccountData,
    WriteLock::Presence,
    WriteLock::Receipts,
    WriteLock::ToDevice,
    WriteLock::DeviceLists,
    WriteLock::CacheInvalidations,
    WriteLock::ModuleStore,
    WriteLock::KeyBackup,
];

/// What the copy did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    /// The table's name.
    pub table: String,
    /// Rows read from the source and written to the target (inserted, updated, or left
    /// alone when a key-only row was already there).
    pub copied: u64,
    /// Rows in the source table.
    pub source_rows: i64,
    /// Rows in the target table after the copy.
    pub target_rows: i64,
    /// Rows already in the target with the source's key but other values (changed on the
    /// target since an earlier copy): any of them keeps the copy from being committed.
    pub changed: u64,
}

impl TableCopy {
    /// Whether source and target hold as many rows.
    pub fn matches(&self) -> bool {
        self.source_rows == self.target_rows
    }

    /// Whether the copy may be committed for this table: as many rows on both sides and no
    /// existing target row changed.
    pub fn agrees(&self) -> bool {
        self.matches() && self.changed == 0
    }
}

/// The outcome of [`copy_sqlite_to_postgres`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// One entry per copied table, by name.
    pub tables: Vec<TableCopy>,
    /// Whether the target transaction was committed: only when every table
    /// [agrees](TableCopy::agrees).
    pub committed: bool,
}

/// Tables whose rows the target's own migrations put there (`background_updates`: one row
/// per update, not started): the target differs from the source even before any copy, and
/// the source's values are the right ones, since they describe the data copied with them.
/// Their rows are overwritten without counting as [`TableCopy::changed`].
const SEEDED_BY_MIGRATIONS: [&str; 1] = ["background_updates"];

/// A source column: its name and its declared type's kind (which types its NULLs).
struct Column {
    name: String,
    kind: AnyTypeInfoKind,
}

/// How the target takes a table's rows.
struct TargetTable {
    /// The primary key's columns, else the first unique constraint's; empty: no key.
    key: Vec<String>,
    /// Identity columns, whose sequences are moved past the copied numbers.
    identities: Vec<String>,
}

/// Copy every table of the SQLite database at `source` into the PostgreSQL database at
/// `target_url`, in one target transaction, committed only if every table then holds as
/// many rows in the target as in the source and no row already in the target had other
/// values than the source's (see [`CopyReport::committed`]).
///
/// The source is migrated to this binary's schema first. Errors (a message naming the
/// database, with the URL's password masked): the source file is missing or has a schema
/// newer than this binary; either database cannot be opened or migrated; a row cannot be
/// read or written (naming the table).
pub async fn copy_sqlite_to_postgres(
    source: &Path,
    target_url: &str,
) -> Result<CopyReport, String> {
    let source_db = Database::Sqlite {
        path: source.to_path_buf(),
    };
    let target_db = Database::Postgres {
        url: target_url.to_string(),
        max_connections: 2,
    };
    if !source.is_file() {
        return Err(format!(
            "the source database {} does not exist",
            source.display()
        ));
    }
    // Before the source is migrated: a wrong URL must not leave it changed for nothing.
    super::reach_postgres(&target_db, target_url).await?;
    let source_store = open_source(&source_db, source).await?;
    let target = Store::open(&target_db).await?;
    let in_source = |e: sqlx::Error| format!("database {}: {e}", source_db.describe());
    let in_target = |e: sqlx::Error| format!("database {}: {e}", target_db.describe());
    let mut src = source_store.pool.begin().await.map_err(in_source)?;
    let mut dst = target.pool.begin().await.map_err(in_target)?;
    // A server that opened the target wrote its health probe (never copied): from then on
    // the target holds changes of its own, which a copy would overwrite or, for deleted
    // rows, bring back.
    let served: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM health_probe")
        .fetch_one(&mut *dst)
        .await
        .map_err(in_target)?;
    if served > 0 {
        return Err(format!(
            "a modhost server has already run on {}; migrate-db copies only into a database \
             no server has used (create an empty one and copy again)",
            target_db.describe()
        ));
    }
    for lock in ALL_LOCKS {
        locks::lock(&mut dst, lock).await.map_err(in_target)?;
    }
    let mut tables = Vec::new();
    for table in source_tables(&mut src).await.map_err(in_source)? {
        let copy = copy_table(&mut src, &mut dst, &table)
            .await
            .map_err(|e| format!("cannot copy table {table}: {e}"))?;
        tables.push(copy);
    }
    let committed = tables.iter().all(TableCopy::agrees);
    if committed {
        dst.commit().await.map_err(in_target)?;
    } else {
        dst.rollback().await.map_err(in_target)?;
    }
    // The source was only read: ending its snapshot without a commit changes nothing.
    drop(src);
    Ok(CopyReport { tables, committed })
}

/// Open the source SQLite file `db` (at `path`, which exists) and migrate it, refusing a
/// schema newer than this binary knows (a later modhost wrote it).
async fn open_source(db: &Database, path: &Path) -> Result<Store, String> {
    let store = Store::connect(db).await?;
    let newest_known = SQLITE_MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let applied = applied_version(&store)
        .await
        .map_err(|e| format!("database {}: {e}", db.describe()))?;
    if applied > newest_known {
        return Err(format!(
            "the source database {} has schema version {applied}, newer than this modhost \
             knows ({newest_known}): copy it with the modhost version that last used it",
            path.display()
        ));
    }
    SQLITE_MIGRATOR
        .run(&store.pool)
        .await
        .map_err(|e| format!("cannot migrate database {}: {e}", db.describe()))?;
    Ok(store)
}

/// The newest migration applied to an SQLite database (0 for a new file).
async fn applied_version(store: &Store) -> Result<i64, sqlx::Error> {
    let has_table: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&store.pool)
    .await?;
    if has_table == 0 {
        return Ok(0);
    }
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
        .fetch_one(&store.pool)
        .await
}

/// The source's tables, by name: plain and virtual (full-text) tables the migrations made,
/// without SQLite's own (`sqlite_*`), the full-text index's shadow tables (SQLite keeps them
/// in step with their virtual table; PostgreSQL has its own index) and sqlx's migration
/// bookkeeping (each database records its own migrations). `health_probe` is left out too:
/// it holds one timestamp every server start and health check rewrites, nothing to keep, and
/// copying it would count the target's own rewrite as a row changed there.
async fn source_tables(src: &mut AnyConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' \
         AND type IN ('table', 'virtual') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         AND name NOT IN ('_sqlx_migrations', 'health_probe') ORDER BY name",
    )
    .fetch_all(src)
    .await
}

/// Copy one table: empty it first if it has no key, upsert the source's rows in batches,
/// move its sequences on, and count both sides.
async fn copy_table(
    src: &mut AnyConnection,
    dst: &mut AnyConnection,
    table: &str,
) -> Result<TableCopy, sqlx::Error> {
    let columns = source_columns(src, table).await?;
    let target = target_table(dst, table).await?;
    if target.key.is_empty() {
        sqlx::query(&format!("DELETE FROM {}", quote(table)))
            .execute(&mut *dst)
            .await?;
    }
    let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
    let select = format!("SELECT {} FROM {}", names.join(", "), quote(table));
    let (mut copied, mut changed) = (0, 0);
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    {
        let mut rows = sqlx::query(&select).fetch(&mut *src);
        while let Some(row) = rows.try_next().await? {
            batch.push(row);
            if batch.len() == BATCH_ROWS {
                changed += write_batch(dst, table, &columns, &target.key, &batch).await?;
                copied += batch.len() as u64;
                batch.clear();
            }
        }
    }
    if !batch.is_empty() {
        changed += write_batch(dst, table, &columns, &target.key, &batch).await?;
        copied += batch.len() as u64;
    }
    for column in &target.identities {
        reset_sequence(src, dst, table, column).await?;
    }
    if SEEDED_BY_MIGRATIONS.contains(&table) {
        changed = 0;
    }
    let count = format!("SELECT COUNT(*) FROM {}", quote(table));
    let source_rows = sqlx::query_scalar(&count).fetch_one(&mut *src).await?;
    let target_rows = sqlx::query_scalar(&count).fetch_one(&mut *dst).await?;
    Ok(TableCopy {
        table: table.to_string(),
        copied,
        source_rows,
        target_rows,
        changed,
    })
}

/// `table`'s columns in the source, in order, with the kind of their declared type.
async fn source_columns(src: &mut AnyConnection, table: &str) -> Result<Vec<Column>, sqlx::Error> {
    let rows = sqlx::query("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
        .bind(table)
        .fetch_all(src)
        .await?;
    Ok(rows
        .iter()
        .map(|r| Column {
            name: r.get(0),
            kind: declared_kind(&r.get::<String, _>(1)),
        })
        .collect())
}

/// The kind of an SQLite declared type, by SQLite's affinity rules (no declared type, as
/// in a full-text table: text).
fn declared_kind(declared: &str) -> AnyTypeInfoKind {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        AnyTypeInfoKind::BigInt
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        AnyTypeInfoKind::Double
    } else if t.contains("BLOB") {
        AnyTypeInfoKind::Blob
    } else {
        AnyTypeInfoKind::Text
    }
}

/// `table`'s key and identity columns in the target (PostgreSQL's catalogue).
async fn target_table(dst: &mut AnyConnection, table: &str) -> Result<TargetTable, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.contype::text, c.conname::text, a.attname::text FROM pg_constraint c \
         CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n) \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum \
         WHERE c.conrelid = to_regclass($1) AND c.contype IN ('p', 'u') \
         ORDER BY c.contype, c.conname, k.n",
    )
    .bind(quote(table))
    .fetch_all(&mut *dst)
    .await?;
    // 'p' sorts before 'u': the primary key wins, else the first unique constraint.
    let chosen: Option<String> = rows.first().map(|r| r.get(1));
    let key = rows
        .iter()
        .filter(|r| Some(r.get::<String, _>(1)) == chosen)
        .map(|r| r.get(2))
        .collect();
    let identities = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'YES' \
         ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *dst)
    .await?;
    Ok(TargetTable { key, identities })
}

/// Insert `rows` into the target's `table` in one statement: on a key conflict a row whose
/// values differ is updated to the source's (an identical or key-only row is left alone).
/// Returns how many existing rows were so updated, i.e. differed from the source.
async fn write_batch(
    dst: &mut AnyConnection,
    table: &str,
    columns: &[Column],
    key: &[String],
    rows: &[AnyRow],
) -> Result<u64, sqlx::Error> {
    let sql = insert_sql(table, columns, key, rows.len());
    let mut query = sqlx::query(&sql);
    for row in rows {
        for (i, column) in columns.iter().enumerate() {
            query = bind_value(query, row, i, column)?;
        }
    }
    if key.is_empty() {
        query.execute(dst).await?;
        return Ok(0);
    }
    let updated: i64 = query.fetch_one(dst).await?.try_get(0)?;
    Ok(updated as u64)
}

/// `INSERT INTO table (columns) VALUES (…), …` for `rows` rows. With a `key`, the insert
/// upserts on it and becomes a query of one number: how many existing rows it updated.
/// Only rows whose values differ are updated (`IS DISTINCT FROM`, which counts NULLs
/// equal), and an updated row is told from an inserted one by its `xmax`: PostgreSQL sets
/// it to the updating transaction on the new row version, leaves it 0 on a fresh row.
fn insert_sql(table: &str, columns: &[Column], key: &[String], rows: usize) -> String {
    let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
    let width = columns.len();
    let values: Vec<String> = (0..rows)
        .map(|r| format!("({})", super::placeholders(r * width + 1, width)))
        .collect();
    let insert = format!(
        "INSERT INTO {} AS existing ({}) VALUES {}",
        quote(table),
        names.join(", "),
        values.join(", ")
    );
    if key.is_empty() {
        return insert;
    }
    let keys: Vec<String> = key.iter().map(|k| quote(k)).collect();
    let others: Vec<String> = columns
        .iter()
        .filter(|c| !key.contains(&c.name))
        .map(|c| quote(&c.name))
        .collect();
    let action = if others.is_empty() {
        "DO NOTHING".to_string()
    } else {
        let sets: Vec<String> = others
            .iter()
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect();
        let old: Vec<String> = others.iter().map(|c| format!("existing.{c}")).collect();
        let new: Vec<String> = others.iter().map(|c| format!("EXCLUDED.{c}")).collect();
        format!(
            "DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})",
            sets.join(", "),
            old.join(", "),
            new.join(", ")
        )
    };
    format!(
        "WITH written AS ({insert} ON CONFLICT ({}) {action} RETURNING xmax) \
         SELECT COUNT(*) FROM written WHERE NOT (xmax = 0)",
        keys.join(", ")
    )
}

/// Bind column `i` of source `row` by the type its value holds (SQLite types values, not
/// columns); a NULL is typed by the column's declared type, as the target expects.
fn bind_value<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    row: &AnyRow,
    i: usize,
    column: &Column,
) -> Result<Query<'q, Any, AnyArguments<'q>>, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    let kind = if raw.is_null() {
        AnyTypeInfoKind::Null
    } else {
        raw.type_info().kind()
    };
    Ok(match kind {
        AnyTypeInfoKind::Null => match column.kind {
            AnyTypeInfoKind::BigInt => query.bind(None::<i64>),
            AnyTypeInfoKind::Double => query.bind(None::<f64>),
            AnyTypeInfoKind::Blob => query.bind(None::<Vec<u8>>),
            _ => query.bind(None::<String>),
        },
        AnyTypeInfoKind::Bool
        | AnyTypeInfoKind::SmallInt
        | AnyTypeInfoKind::Integer
        | AnyTypeInfoKind::BigInt => query.bind(row.try_get::<i64, _>(i)?),
        AnyTypeInfoKind::Real | AnyTypeInfoKind::Double => query.bind(row.try_get::<f64, _>(i)?),
        AnyTypeInfoKind::Blob => query.bind(row.try_get::<Vec<u8>, _>(i)?),
        AnyTypeInfoKind::Text => query.bind(row.try_get::<String, _>(i)?),
    })
}

/// Move the sequence behind identity `column` of `table` past every number the source
/// handed out: the largest copied value, or SQLite's AUTOINCREMENT high-water mark when rows
/// were deleted since (delivered to-device messages), so numbers are never reused.
async fn reset_sequence(
    src: &mut AnyConnection,
    dst: &mut AnyConnection,
    table: &str,
    column: &str,
) -> Result<(), sqlx::Error> {
    let handed_out: i64 =
        sqlx::query_scalar("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = $1), 0)")
            .bind(table)
            .fetch_one(&mut *src)
            .await?;
    let sql = format!(
        "SELECT setval(pg_get_serial_sequence($1, $2), GREATEST(m, 1), m >= 1) \
         FROM (SELECT GREATEST(COALESCE(MAX({}), 0), $3) AS m FROM {}) AS t",
        quote(column),
        quote(table)
    );
    sqlx::query(&sql)
        .bind(quote(table))
        .bind(column)
        .bind(handed_out)
        .execute(dst)
        .await?;
    Ok(())
}

/// `name` as an SQL identifier (both databases quote with `"`).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str) -> Column {
        Column {
            name: name.into(),
            kind: AnyTypeInfoKind::Text,
        }
    }

    #[test]
    fn inserts_upsert_on_the_key_and_count_the_rows_they_change() {
        let columns = [column("user_id"), column("room_id"), column("x")];
        assert_eq!(
            insert_sql("t", &columns, &["user_id".into(), "room_id".into()], 2),
            "WITH written AS (INSERT INTO \"t\" AS existing (\"user_id\", \"room_id\", \"x\") \
             VALUES ($1, $2, $3), ($4, $5, $6) ON CONFLICT (\"user_id\", \"room_id\") \
             DO UPDATE SET \"x\" = EXCLUDED.\"x\" WHERE (existing.\"x\") IS DISTINCT FROM (EXCLUDED.\"x\") \
             RETURNING xmax) SELECT COUNT(*) FROM written WHERE NOT (xmax = 0)"
        );
        assert_eq!(
            insert_sql("t", &columns[..2], &["user_id".into(), "room_id".into()], 1),
            "WITH written AS (INSERT INTO \"t\" AS existing (\"user_id\", \"room_id\") VALUES ($1, $2) \
             ON CONFLICT (\"user_id\", \"room_id\") DO NOTHING RETURNING xmax) \
             SELECT COUNT(*) FROM written WHERE NOT (xmax = 0)"
        );
        assert_eq!(
            insert_sql("event_search", &columns[2..], &[], 1),
            "INSERT INTO \"event_search\" AS existing (\"x\") VALUES ($1)"
        );
    }

    #[test]
    fn both_migration_histories_end_at_the_same_version() {
        // The copy relies on it: a source at this binary's newest SQLite version has the
        // tables of a target at its newest PostgreSQL version.
        let newest = |m: &sqlx::migrate::Migrator| m.iter().map(|m| m.version).max();
        assert_eq!(
            newest(&SQLITE_MIGRATOR),
            newest(&super::super::POSTGRES_MIGRATOR)
        );
    }

    #[test]
    fn declared_types_follow_sqlite_affinity() {
        assert_eq!(declared_kind("INTEGER"), AnyTypeInfoKind::BigInt);
        assert_eq!(declared_kind("bigint"), AnyTypeInfoKind::BigInt);
        assert_eq!(declared_kind("TEXT"), AnyTypeInfoKind::Text);
        assert_eq!(declared_kind(""), AnyTypeInfoKind::Text);
        assert_eq!(declared_kind("DOUBLE PRECISION"), AnyTypeInfoKind::Double);
        assert_eq!(declared_kind("BLOB"), AnyTypeInfoKind::Blob);
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }
}

//! `modhost migrate-db --from sqlite:PATH --to postgres://…`: moving a server's SQLite
//! database to PostgreSQL. This checks the arguments and judges the copy; the copy itself
//! is storage's ([`crate::storage::copy`]).

use std::path::PathBuf;

use crate::config::mask_password;
use crate::storage::copy::{copy_sqlite_to_postgres, CopyReport};

/// The SQLite file named by `from`, which must read `sqlite:PATH` (`sqlite://PATH` is taken
/// too). Errors: any other form, or no path.
pub fn source_path(from: &str) -> Result<PathBuf, String> {
    let Some(path) = from.strip_prefix("sqlite:") else {
        return Err(format!(
            "--from must be sqlite:PATH (the SQLite database file to copy), got \"{from}\""
        ));
    };
    let path = path.strip_prefix("//").unwrap_or(path);
    if path.is_empty() {
        return Err("--from sqlite: needs the database file's path (sqlite:PATH)".into());
    }
    Ok(PathBuf::from(path))
}

/// Check that `to` is a PostgreSQL URL. Errors: anything else (shown with any password
/// masked).
pub fn check_target(to: &str) -> Result<(), String> {
    if to.starts_with("postgres://") || to.starts_with("postgresql://") {
        Ok(())
    } else {
        Err(format!(
            "--to must be a postgres:// URL (the PostgreSQL database to fill), got \"{}\"",
            mask_password(to)
        ))
    }
}

/// Copy the SQLite database `from` (`sqlite:PATH`) into the PostgreSQL database `to`; the
/// per-table report. Running it again copies the same rows again and changes nothing; a
/// row changed on the target since is never overwritten (the report says it differs and
/// the copy is rolled back, see [`mismatch`]).
/// Errors: bad arguments (see [`source_path`], [`check_target`]) and the copy's errors
/// (see [`copy_sqlite_to_postgres`]).
pub async fn migrate_db(from: &str, to: &str) -> Result<CopyReport, String> {
    let path = source_path(from)?;
    check_target(to)?;
    copy_sqlite_to_postgres(&path, to).await
}

/// One line per table: `table: N rows (source N, target N)`, followed by `, N differ` when
/// existing target rows had other values than the source's.
pub fn report_lines(report: &CopyReport) -> Vec<String> {
    report
        .tables
        .iter()
        .map(|t| {
            let differ = if t.changed > 0 {
                format!(", {} differ", t.changed)
            } else {
                String::new()
            };
            format!(
                "{}: {} rows (source {}, target {}{differ})",
                t.table, t.copied, t.source_rows, t.target_rows
            )
        })
        .collect()
}

/// Why the copy was not committed. First: rows already in the target differ from the
/// source's (a server changed them there, e.g. a password); copying would undo that. Else:
/// a table's counts differ, so the target holds rows the source does not (a server already
/// ran on it) and copying would not make the two equal.
pub fn mismatch(report: &CopyReport) -> Option<String> {
    let changed: Vec<&str> = report
        .tables
        .iter()
        .filter(|t| t.changed > 0)
        .map(|t| t.table.as_str())
        .collect();
    if !changed.is_empty() {
        return Some(format!(
            "rows in {} differ between the source and the target (changed on the target since \
             the last copy?); nothing was written — copy into an empty database instead",
            changed.join(", ")
        ));
    }
    let differing: Vec<String> = report
        .tables
        .iter()
        .filter(|t| !t.matches())
        .map(|t| {
            format!(
                "{} (source {}, target {})",
                t.table, t.source_rows, t.target_rows
            )
        })
        .collect();
    if differing.is_empty() {
        return None;
    }
    Some(format!(
        "row counts differ in {}; nothing was written to the target (does it hold data of its own?)",
        differing.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::copy::TableCopy;

    #[test]
    fn arguments_are_checked() {
        assert_eq!(
            source_path("sqlite:data/homeserver.db"),
            Ok(PathBuf::from("data/homeserver.db"))
        );
        assert_eq!(
            source_path("sqlite:///srv/h.db"),
            Ok(PathBuf::from("/srv/h.db"))
        );
        assert_eq!(
            source_path("data/homeserver.db"),
            Err("--from must be sqlite:PATH (the SQLite database file to copy), got \"data/homeserver.db\"".into())
        );
        assert_eq!(
            source_path("sqlite:"),
            Err("--from sqlite: needs the database file's path (sqlite:PATH)".into())
        );
        assert_eq!(check_target("postgresql://h/db"), Ok(()));
        assert_eq!(
            check_target("mysql://u:pw@h/db"),
            Err("--to must be a postgres:// URL (the PostgreSQL database to fill), got \"mysql://u:***@h/db\"".into())
        );
    }

    fn table(name: &str, source_rows: i64, target_rows: i64, changed: u64) -> TableCopy {
        TableCopy {
            table: name.into(),
            copied: source_rows as u64,
            source_rows,
            target_rows,
            changed,
        }
    }

    #[test]
    fn changed_rows_are_named_before_counts() {
        let report = |tables| CopyReport {
            tables,
            committed: false,
        };
        let changed = report(vec![
            table("access_tokens", 2, 3, 0),
            table("profiles", 2, 2, 1),
            table("users", 2, 2, 1),
        ]);
        assert_eq!(
            mismatch(&changed).as_deref(),
            Some(
                "rows in profiles, users differ between the source and the target (changed on \
                 the target since the last copy?); nothing was written — copy into an empty \
                 database instead"
            )
        );
        assert_eq!(
            report_lines(&changed),
            [
                "access_tokens: 2 rows (source 2, target 3)",
                "profiles: 2 rows (source 2, target 2, 1 differ)",
                "users: 2 rows (source 2, target 2, 1 differ)"
            ]
        );
        let extra = report(vec![
            table("access_tokens", 2, 3, 0),
            table("users", 2, 2, 0),
        ]);
        assert_eq!(
            mismatch(&extra).as_deref(),
            Some(
                "row counts differ in access_tokens (source 2, target 3); nothing was written to \
                 the target (does it hold data of its own?)"
            )
        );
        assert_eq!(mismatch(&report(vec![table("users", 2, 2, 0)])), None);
    }
}

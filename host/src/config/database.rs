//! `database:`: SQLite in one file, or a PostgreSQL server several instances can share.

use std::path::{Path, PathBuf};

/// Which database the server keeps its state in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// `database: {path: …}` (the default, `data/homeserver.db`): one SQLite file, one
    /// server process.
    Sqlite {
        /// The database file (made absolute against the config file's folder).
        path: PathBuf,
    },
    /// `database: {url: postgres://…, max_connections: N}`: a PostgreSQL database, which
    /// several `modhost` instances may share.
    Postgres {
        /// The connection URL (`postgres://user:password@host:port/dbname?sslmode=…`).
        url: String,
        /// The size of this instance's connection pool (default 16).
        max_connections: u32,
    },
}

impl Database {
    /// The setting a database problem is reported at: `database.path` or `database.url`.
    pub fn setting(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "database.path",
            Database::Postgres { .. } => "database.url",
        }
    }

    /// What to call the database in messages: the file, or the URL with its password
    /// replaced by `***` (logs and errors must not carry it).
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite { path } => path.display().to_string(),
            Database::Postgres { url, .. } => mask_password(url),
        }
    }

    /// The folder for the server's own files beside the database (private module copies):
    /// the SQLite file's folder, or `data/` beside the config file for PostgreSQL.
    pub fn data_dir(&self, config_file: &Path) -> PathBuf {
        match self {
            Database::Sqlite { path } => path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            Database::Postgres { .. } => {
                config_file.parent().unwrap_or(Path::new(".")).join("data")
            }
        }
    }
}

/// `url` with its password replaced by `***`: the user-info's (`user:password@`) and a
/// libpq-style `password=` query parameter's.
///
/// The user-info's password runs from the first `:` after `://` to the LAST `@` of the URL.
/// That is wider than a URL parser's rule (the last `@` before the first `/`, `?` or `#`) on
/// purpose: a password holding an unencoded `/`, `?` or `#` makes the URL unparsable (or parse
/// with part of the password as port and path), and it must not then show in the error. A
/// URL whose path or query holds an `@` after a `host:port` is masked too widely, which only
/// costs some detail in a message.
pub fn mask_password(url: &str) -> String {
    let url = mask_query_password(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return url;
    };
    let (Some(colon), Some(at)) = (rest.find(':'), rest.rfind('@')) else {
        return url;
    };
    if colon > at {
        // `user@host:port`: no password before the `@`.
        return url;
    }
    format!("{scheme}://{}:***{}", &rest[..colon], &rest[at..])
}

/// `url` with the value of every `password=` parameter (after a `?` or `&`) replaced by
/// `***`, up to the next `&` or `#`. Any `?` counts as the query's start: one inside an
/// unencoded password must not hide a real query from the mask.
fn mask_query_password(url: &str) -> String {
    const NAME: &str = "password=";
    let lower = url.to_ascii_lowercase();
    let mut out = String::with_capacity(url.len());
    let mut done = 0;
    let mut from = 0;
    while let Some(found) = lower[from..].find(NAME) {
        let start = from + found;
        let value = start + NAME.len();
        from = value;
        if !matches!(url[..start].chars().last(), Some('?' | '&')) {
            continue;
        }
        let end = url[value..]
            .find(['&', '#'])
            .map_or(url.len(), |e| value + e);
        out.push_str(&url[done..value]);
        out.push_str("***");
        done = end;
        from = end;
    }
    out.push_str(&url[done..]);
    out
}

#[cfg(test)]
mod tests {
    use super::mask_password;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_password("postgres://modhost:s3cr@t@db:5432/modhost?sslmode=require"),
            "postgres://modhost:***@db:5432/modhost?sslmode=require"
        );
        assert_eq!(
            mask_password("postgres://modhost@db/modhost"),
            "postgres://modhost@db/modhost"
        );
        assert_eq!(mask_password("postgres://db/x"), "postgres://db/x");
        assert_eq!(
            mask_password("postgres://modhost@db:5432/x"),
            "postgres://modhost@db:5432/x"
        );
        assert_eq!(
            mask_password("postgres://u:p@[::1]:5432/db"),
            "postgres://u:***@[::1]:5432/db"
        );
    }

    #[test]
    fn unencoded_slashes_and_question_marks_in_a_password_are_masked() {
        assert_eq!(
            mask_password("postgres://modhost:Ab3/Xy+z==@127.0.0.1:55432/modhost"),
            "postgres://modhost:***@127.0.0.1:55432/modhost"
        );
        assert_eq!(
            mask_password("postgres://modhost:a?b#c/d@db/modhost?sslmode=disable"),
            "postgres://modhost:***@db/modhost?sslmode=disable"
        );
        // Digits then `/` parse as a port and a path: still the password.
        assert_eq!(
            mask_password("postgres://modhost:123/secret@db/modhost"),
            "postgres://modhost:***@db/modhost"
        );
    }

    #[test]
    fn a_password_query_parameter_is_masked() {
        assert_eq!(
            mask_password("postgres://modhost@db/modhost?password=SECRET"),
            "postgres://modhost@db/modhost?password=***"
        );
        assert_eq!(
            mask_password("postgres://modhost@db:5432/m?sslmode=disable&password=S3&x=1#f"),
            "postgres://modhost@db:5432/m?sslmode=disable&password=***&x=1#f"
        );
        assert_eq!(
            mask_password("postgres://modhost@db:5432/m?password=p@ss"),
            "postgres://modhost@db:5432/m?password=***"
        );
        assert_eq!(
            mask_password("postgres://u:pw@db/m?application_name=x&password=pw"),
            "postgres://u:***@db/m?application_name=x&password=***"
        );
        assert_eq!(
            mask_password("postgres://u:a?b@db/m?PASSWORD=pw"),
            "postgres://u:***@db/m?PASSWORD=***"
        );
        assert_eq!(
            mask_password("postgres://u@db/m?mypassword=x"),
            "postgres://u@db/m?mypassword=x"
        );
    }
}

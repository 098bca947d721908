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

/// `url` with the password of its user-info part (`user:password@`) replaced by `***`.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The user-info ends at the last `@` before the host's path, query or end.
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_string(),
    }
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
    }
}

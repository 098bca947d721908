//! The `modhost` binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use modhost::Server;

#[derive(Parser)]
#[command(
    name = "modhost",
    version,
    about = "A Matrix homeserver whose policy lives in shared-library modules"
)]
struct Cli {
    /// The homeserver configuration file.
    #[arg(long, short, default_value = "config/homeserver.yaml")]
    config: PathBuf,
    /// Listen here instead of the configured address.
    #[arg(long)]
    listen: Option<SocketAddr>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Validate FILE and load its modules without serving.
    CheckConfig {
        /// The configuration file (default: the one `--config` names).
        file: Option<PathBuf>,
    },
    /// Copy an SQLite database into PostgreSQL (again and again: it is idempotent), then
    /// compare each table's row count. Stop the server first.
    MigrateDb {
        /// The SQLite database to copy: `sqlite:PATH`.
        #[arg(long)]
        from: String,
        /// The PostgreSQL database to fill: `postgres://user:password@host:port/dbname`.
        #[arg(long)]
        to: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::MigrateDb { from, to }) = &cli.command {
        return migrate_db(from, to);
    }
    let config_file = match &cli.command {
        Some(Command::CheckConfig { file: Some(file) }) => file,
        _ => &cli.config,
    };
    modhost::logging::init(modhost::logging::LogFormat::for_config(config_file));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("modhost: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (file, serve) = match cli.command {
        Some(Command::CheckConfig { file }) => (file.unwrap_or(cli.config), false),
        Some(Command::MigrateDb { .. }) => unreachable!("handled above"),
        None => (cli.config, true),
    };
    runtime.block_on(async move {
        let loaded = match Server::load_file(&file).await {
            Ok(mut server) if serve => server.open_store().await.map(|()| server),
            other => other,
        };
        let server = match loaded {
            Ok(s) => s,
            Err(errors) => {
                let n = errors.0.len();
                eprintln!(
                    "modhost: {n} problem{} in {}:",
                    if n == 1 { "" } else { "s" },
                    file.display()
                );
                for e in &errors.0 {
                    eprintln!("  {e}");
                }
                return ExitCode::FAILURE;
            }
        };
        if !serve {
            if let Err(e) = server.check_database().await {
                eprintln!("modhost: {e}");
                return ExitCode::FAILURE;
            }
            // Building the router is part of the check: it is what serving would do first.
            let _ = server.app();
            println!(
                "{}: OK, {} module(s) loaded",
                file.display(),
                server.modules.modules.len()
            );
            for m in &server.modules.modules {
                println!(
                    "  {} {} (plugin-sdk {}): {}",
                    m.name,
                    m.version,
                    m.sdk_version,
                    m.registered.join(", ")
                );
            }
            return ExitCode::SUCCESS;
        }
        let address = cli.listen.unwrap_or(server.config.listen);
        match server.serve(cli.listen).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("modhost: cannot serve on {address} (listen): {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// `modhost migrate-db`: copy, print one line per table, fail on any error or count mismatch.
fn migrate_db(from: &str, to: &str) -> ExitCode {
    use modhost::service::migrate_db;
    // Its output is the report: the log shows only problems.
    modhost::logging::init_at(modhost::logging::LogFormat::Text, "warn");
    let report = tokio::runtime::Runtime::new()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
        .and_then(|runtime| runtime.block_on(migrate_db::migrate_db(from, to)));
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            eprintln!("modhost: migrate-db: {e}");
            return ExitCode::FAILURE;
        }
    };
    for line in migrate_db::report_lines(&report) {
        println!("{line}");
    }
    if let Some(problem) = migrate_db::mismatch(&report) {
        eprintln!("modhost: migrate-db: {problem}");
        return ExitCode::FAILURE;
    }
    println!(
        "copied {} tables from {from} to {}",
        report.tables.len(),
        modhost::config::mask_password(to)
    );
    ExitCode::SUCCESS
}

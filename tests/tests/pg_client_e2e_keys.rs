//! The `client_e2e_keys` suite against PostgreSQL: the harness gives each test a database of its own
//! on a server it starts (tests/src/postgres.rs), because this binary's name starts with `pg_`.

#[path = "client_e2e_keys.rs"]
mod suite;

//! The `module_store` suite against PostgreSQL: the harness gives each test a database of its own
//! on a server it starts (tests/src/postgres.rs), because this binary's name starts with `pg_`.

#[path = "module_store.rs"]
mod suite;

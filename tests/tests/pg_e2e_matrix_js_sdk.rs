//! The `e2e_matrix_js_sdk` suite against PostgreSQL: the harness gives each test a database of its own
//! on a server it starts (tests/src/postgres.rs), because this binary's name starts with `pg_`.

#[path = "e2e_matrix_js_sdk.rs"]
mod suite;

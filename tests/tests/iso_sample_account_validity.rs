//! The `sample_account_validity` suite with every module in a sandboxed runner process of its own
//! (`isolation: process` and `sandbox: strict`, added to each module entry by the harness
//! because this binary's name starts with `iso_`).

#[path = "sample_account_validity.rs"]
mod suite;

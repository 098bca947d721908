//! The `web_resources` suite with every module in a sandboxed runner process of its own
//! (`isolation: process` and `sandbox: strict`, added to each module entry by the harness
//! because this binary's name starts with `iso_`): paths, bodies, limits and late
//! registrations read the same as in process.

#[path = "web_resources.rs"]
mod suite;

//! Modules with `isolation: process`: each runs in a `modhost-module-runner` process of its
//! own, loaded with the same loader and the same two phases, and talks to the server over a
//! Unix socket with the by-name protocol of the ABI ([`protocol`]). The server's side
//! ([`link`]) registers proxies, so the registry, the dispatchers and the failure policies
//! are the same for both kinds of module, and a module cannot tell which kind it is.

pub mod frames;
mod incoming;
pub mod link;
pub mod protocol;
mod readers;
pub mod runner;
pub mod sandbox;
pub mod status;

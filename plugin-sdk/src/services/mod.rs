//! Typed host services on [`ModuleApi`](crate::ModuleApi), one file per area. Each wraps a
//! host method of the [catalogue](crate::host_methods), which gives its name, arguments and
//! answer, reached through [`ModuleApi::call_method`](crate::ModuleApi::call_method): a host
//! that predates one answers with an error naming the method, never a crash.
//!
//! Errors: a refusal a client could see (a join the room forbids, an unknown access token)
//! comes back as a Matrix [`ModuleError`](crate::ModuleError) (see
//! [`ModuleError::as_matrix`](crate::ModuleError::as_matrix)), which a web resource can answer
//! with as it is; misuse (a remote user where a local one is needed) as a plain error whose
//! message says what was wrong.

mod account;
mod http;
mod identity;
mod rooms;
mod runtime;
pub(crate) mod store;

pub use http::{HttpClient, HttpRequest, HttpResponse};
pub use identity::{HostConfig, RegisteredDevice, Requester, UserInfo};
pub use rooms::CreatedRoom;
pub use store::{Store, StoreTxn};

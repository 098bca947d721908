//! The frames between the server and a module's runner process (`isolation: process`): the
//! same by-name protocol that crosses the ABI in process — a callback's registration index
//! and its positional arguments in, a value or an error out — plus web requests, the
//! module's host calls travelling the other way, and its log records. Each frame is a
//! postcard-encoded [`ToRunner`] or [`ToHost`] behind a 4-byte big-endian length
//! ([`codec`]); a frame larger than [`MAX_FRAME`] closes the connection.

use abi_stable::std_types::{RString, RVec, Tuple2};
use plugin_sdk::ffi::{ErrorKind, FfiError, FfiRequest, FfiResponse, FfiValue};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio_util::codec::LengthDelimitedCodec;

/// The largest frame either side accepts, in bytes: web bodies are already bounded by the
/// server's limits (a few MiB), so this only stops a corrupted length.
pub const MAX_FRAME: usize = 64 << 20;

// A request body within the configurable limit leaves room in its frame for the rest.
const _: () = assert!(crate::config::MAX_ISOLATED_REQUEST_BODY + (4 << 20) <= MAX_FRAME);

/// The length-delimited codec both sides use.
pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME)
        .new_codec()
}

/// Decode one frame's bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> std::io::Result<T> {
    postcard::from_bytes(bytes).map_err(std::io::Error::other)
}

/// Encode one frame.
pub fn encode<T: Serialize>(frame: &T) -> std::io::Result<bytes::Bytes> {
    postcard::to_stdvec(frame)
        .map(Into::into)
        .map_err(std::io::Error::other)
}

/// From the server to the runner.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToRunner {
    /// First frame: load `library` and run its `parse_config` on `config_json`. Answered by
    /// [`ToHost::Configured`].
    Configure {
        library: String,
        config_json: String,
        server_name: String,
        host_sdk_version: String,
        /// The most verbose log level the server emits for modules (1 error … 5 trace).
        log_level: u8,
        /// RLIMIT_AS for the runner, in bytes, set before the library is opened.
        memory_limit_bytes: Option<u64>,
        /// How long the runner's reader spins on the socket before it sleeps, in µs
        /// (`busy_poll_us:`; 0: it sleeps at once).
        busy_poll_us: u32,
    },
    /// Run the module's constructor; its registrations follow, then [`ToHost::Started`].
    Start,
    /// Call the callback registered `callback`-th with `args`; answered by
    /// [`ToHost::Reply`] with the same `id`.
    Call {
        id: u64,
        callback: u32,
        args: Vec<Value>,
    },
    /// Serve `request` with the web resource registered `handler`-th; answered by
    /// [`ToHost::WebReply`].
    Web {
        id: u64,
        handler: u32,
        request: Request,
    },
    /// The answer to the runner's [`ToHost::HostCall`] `id`.
    HostReply {
        id: u64,
        result: Result<Value, Error>,
    },
}

/// From the runner to the server.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToHost {
    /// The library loaded and its configuration parsed (or not).
    Configured(Result<Info, Error>),
    /// The constructor registered a callback (numbered in registration order).
    Register {
        category: String,
        name: String,
        meta: String,
    },
    /// The constructor registered a web resource (numbered in registration order).
    RegisterWeb { path: String },
    /// The constructor returned.
    Started(Result<(), Error>),
    /// A callback's answer.
    Reply {
        id: u64,
        result: Result<Value, Error>,
    },
    /// A web resource's answer.
    WebReply {
        id: u64,
        result: Result<Response, Error>,
    },
    /// The module called a host method.
    HostCall {
        id: u64,
        method: String,
        args: Vec<Value>,
    },
    /// The module logged.
    Log {
        level: u8,
        target: String,
        message: String,
    },
    /// The module started background task `id`, named `name` (the server lists it and
    /// stops its record at shutdown).
    TaskStarted { id: u64, name: String },
    /// Background task `id` ended.
    TaskEnded { id: u64 },
}

/// What the library says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub sdk_version: String,
}

/// [`FfiValue`] as a frame holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Json(String),
    Bytes(Vec<u8>),
}

impl From<&FfiValue> for Value {
    fn from(v: &FfiValue) -> Value {
        match v {
            FfiValue::Null => Value::Null,
            FfiValue::Bool(b) => Value::Bool(*b),
            FfiValue::Int(i) => Value::Int(*i),
            FfiValue::Float(f) => Value::Float(*f),
            FfiValue::Str(s) => Value::Str(s.to_string()),
            FfiValue::Json(s) => Value::Json(s.to_string()),
            FfiValue::Bytes(b) => Value::Bytes(b.to_vec()),
        }
    }
}

impl From<Value> for FfiValue {
    fn from(v: Value) -> FfiValue {
        match v {
            Value::Null => FfiValue::Null,
            Value::Bool(b) => FfiValue::Bool(b),
            Value::Int(i) => FfiValue::Int(i),
            Value::Float(f) => FfiValue::Float(f),
            Value::Str(s) => FfiValue::Str(s.into()),
            Value::Json(s) => FfiValue::Json(s.into()),
            Value::Bytes(b) => FfiValue::Bytes(b.into()),
        }
    }
}

/// [`FfiError`] as a frame holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Error {
    pub kind: u32,
    pub message: String,
    pub details: String,
}

impl From<FfiError> for Error {
    fn from(e: FfiError) -> Error {
        Error {
            kind: e.kind.0,
            message: e.message.into_string(),
            details: e.details.into_string(),
        }
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> FfiError {
        FfiError {
            kind: ErrorKind(e.kind),
            message: e.message.into(),
            details: e.details.into(),
        }
    }
}

/// [`FfiRequest`] as a frame holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, Vec<u8>)>,
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
}

/// [`FfiResponse`] as a frame holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
}

fn headers_out(h: RVec<Tuple2<RString, RVec<u8>>>) -> Vec<(String, Vec<u8>)> {
    h.into_iter()
        .map(|Tuple2(k, v)| (k.into_string(), v.into_vec()))
        .collect()
}

fn headers_in(h: Vec<(String, Vec<u8>)>) -> RVec<Tuple2<RString, RVec<u8>>> {
    h.into_iter()
        .map(|(k, v)| Tuple2(k.into(), v.into()))
        .collect()
}

impl From<FfiRequest> for Request {
    fn from(r: FfiRequest) -> Request {
        Request {
            method: r.method.into_string(),
            path: r.path.into_string(),
            query: r.query.into_string(),
            headers: headers_out(r.headers),
            body: r.body.into_vec(),
        }
    }
}

impl From<Request> for FfiRequest {
    fn from(r: Request) -> FfiRequest {
        FfiRequest {
            method: r.method.into(),
            path: r.path.into(),
            query: r.query.into(),
            headers: headers_in(r.headers),
            body: r.body.into(),
        }
    }
}

impl From<FfiResponse> for Response {
    fn from(r: FfiResponse) -> Response {
        Response {
            status: r.status,
            headers: headers_out(r.headers),
            body: r.body.into_vec(),
        }
    }
}

impl From<Response> for FfiResponse {
    fn from(r: Response) -> FfiResponse {
        FfiResponse {
            status: r.status,
            headers: headers_in(r.headers),
            body: r.body.into(),
        }
    }
}

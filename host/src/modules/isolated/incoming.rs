//! The server's reading side of a runner connection. Frames are read without waiting, by
//! whoever holds the socket's buffer: the connection's reader task when the socket becomes
//! readable, or — with `busy_poll_us:` — a call that spins for its own answer, which then
//! needs no wake-up of the reader task (see [`super::link`]).

use std::io;
use std::sync::Mutex;

use bytes::BytesMut;
use tokio::net::unix::OwnedReadHalf;
use tokio_util::codec::{Decoder as _, LengthDelimitedCodec};

use super::protocol::{self, ToHost};

/// How much a read asks the kernel for at least, in bytes.
const READ_CHUNK: usize = 64 << 10;

/// The reading half of a runner connection and the bytes read but not yet framed.
pub(super) struct Incoming {
    half: OwnedReadHalf,
    /// Held only while reading without waiting: a std mutex.
    state: Mutex<(BytesMut, LengthDelimitedCodec)>,
}

impl Incoming {
    /// Frames from `half`.
    pub(super) fn new(half: OwnedReadHalf) -> Incoming {
        Incoming {
            half,
            state: Mutex::new((BytesMut::with_capacity(READ_CHUNK), protocol::codec())),
        }
    }

    /// Wait until the socket may have bytes to read. Errors: the socket's.
    pub(super) async fn readable(&self) -> io::Result<()> {
        self.half.readable().await
    }

    /// Read what the socket holds now, without waiting, and hand each whole frame to `each`,
    /// in order. Returns false once the runner closed its end. Errors: the socket's, a frame
    /// over [`protocol::MAX_FRAME`] or one that does not decode (`InvalidData`).
    pub(super) fn drain(&self, each: &mut dyn FnMut(ToHost)) -> io::Result<bool> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (buf, codec) = &mut *state;
        loop {
            buf.reserve(READ_CHUNK);
            let open = match self.half.try_read_buf(buf) {
                Ok(0) => false,
                Ok(_) => true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return Err(e),
            };
            while let Some(bytes) = codec.decode(buf)? {
                each(
                    protocol::decode::<ToHost>(&bytes)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?,
                );
            }
            if !open {
                return Ok(false);
            }
        }
    }
}

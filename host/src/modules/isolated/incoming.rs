//! The server's reading side of a runner connection. Frames are read without waiting, by
//! whoever holds the socket's buffer: the connection's reader task when the runtime says the
//! socket became readable, or — with `busy_poll_us:` — a call that spins for its own answer,
//! asking the socket itself (the runtime's readiness flag would wait for a wake-up of its
//! driver, the very cost the spin avoids; see [`super::link`]).

use std::io;
use std::sync::Mutex;

use bytes::BytesMut;
use rustix::net::RecvFlags;
use tokio::net::unix::OwnedReadHalf;
use tokio_util::codec::{Decoder as _, LengthDelimitedCodec};

use super::protocol::{self, ToHost};

/// How much a read asks the kernel for at least, in bytes.
const READ_CHUNK: usize = 64 << 10;

/// The reading half of a runner connection and the bytes read but not yet framed.
pub(super) struct Incoming {
    half: OwnedReadHalf,
    /// The same socket, for reads the runtime does not track (the spinning call's).
    raw: std::os::unix::net::UnixStream,
    /// Held only while reading without waiting: a std mutex.
    state: Mutex<(BytesMut, LengthDelimitedCodec)>,
}

impl Incoming {
    /// Frames from `half`. Errors: its socket cannot be duplicated (no file descriptors left).
    pub(super) fn new(half: OwnedReadHalf) -> io::Result<Incoming> {
        use std::os::fd::AsFd as _;
        let raw = half.as_ref().as_fd().try_clone_to_owned()?.into();
        Ok(Incoming {
            half,
            raw,
            state: Mutex::new((BytesMut::with_capacity(READ_CHUNK), protocol::codec())),
        })
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
            // Through the runtime: a read that finds nothing clears its readiness flag.
            let open = match self.half.try_read_buf(buf) {
                Ok(n) => n > 0,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return Err(e),
            };
            hand_out(buf, codec, each)?;
            if !open {
                return Ok(false);
            }
        }
    }

    /// [`Incoming::drain`] asking the socket directly, for a call spinning on its answer:
    /// (whether the runner's end is open, how many frames were handed out). It returns as
    /// soon as a read completed a frame, or at `deadline`: a runner writing without pause
    /// cannot hold the caller here (the reader task reads the rest).
    pub(super) fn drain_now(
        &self,
        deadline: std::time::Instant,
        each: &mut dyn FnMut(ToHost),
    ) -> io::Result<(bool, usize)> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (buf, codec) = &mut *state;
        let mut chunk = [0u8; 16 << 10];
        let mut frames = 0;
        loop {
            let open = match rustix::net::recv(&self.raw, &mut chunk[..], RecvFlags::DONTWAIT) {
                Ok((n, _)) => {
                    buf.extend_from_slice(&chunk[..n]);
                    n > 0
                }
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {
                    return Ok((true, frames))
                }
                Err(e) => return Err(e.into()),
            };
            frames += hand_out(buf, codec, each)?;
            if !open {
                return Ok((false, frames));
            }
            if frames > 0 || std::time::Instant::now() >= deadline {
                return Ok((true, frames));
            }
        }
    }
}

/// Hand each whole frame in `buf` to `each`: how many there were. Errors: as
/// [`Incoming::drain`]'s.
fn hand_out(
    buf: &mut BytesMut,
    codec: &mut LengthDelimitedCodec,
    each: &mut dyn FnMut(ToHost),
) -> io::Result<usize> {
    let mut frames = 0;
    while let Some(bytes) = codec.decode(buf)? {
        let frame = protocol::decode::<ToHost>(&bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        each(frame);
        frames += 1;
    }
    Ok(frames)
}

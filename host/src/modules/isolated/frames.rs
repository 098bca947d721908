//! Frames over a blocking Unix socket, for the runner's reader threads (see
//! [`super::runner`]): the layout of [`super::protocol::codec`] — a 4-byte big-endian length,
//! then that many bytes — read straight into a buffer, optionally spinning before sleeping.
//!
//! Why not the async codec: a thread that sleeps in `recv` is woken by the kernel itself when
//! a frame arrives, and can run the call at once and write the answer, with no hand-off
//! between threads on the way (each hand-off wakes a sleeping CPU, tens of µs on a VM).

use std::io::{self, Write as _};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustix::net::RecvFlags;

use super::protocol::MAX_FRAME;

/// How much a read asks the kernel for at least, in bytes.
const READ_CHUNK: usize = 64 << 10;

/// The reading half: frames out of a stream of bytes.
pub struct FrameReader {
    stream: UnixStream,
    buf: Vec<u8>,
    /// Where the unread bytes of `buf` start.
    start: usize,
}

impl FrameReader {
    /// Read frames from `stream` (blocking mode).
    pub fn new(stream: UnixStream) -> FrameReader {
        FrameReader {
            stream,
            buf: Vec::with_capacity(READ_CHUNK),
            start: 0,
        }
    }

    /// The next frame's bytes, or `Ok(None)` once the peer closed the connection. While no
    /// bytes are waiting, it polls the socket for `spin` (0: not at all) before it sleeps in
    /// the kernel. Errors: the socket's, or a length over [`MAX_FRAME`] (`InvalidData`).
    pub fn next(&mut self, spin: Duration) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(frame) = self.take()? {
                return Ok(Some(frame));
            }
            if !self.fill(spin)? {
                return Ok(None);
            }
        }
    }

    /// A whole frame from the buffer, if one is there.
    fn take(&mut self) -> io::Result<Option<Vec<u8>>> {
        let unread = &self.buf[self.start..];
        let Some(header) = unread.first_chunk::<4>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*header) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a frame of {len} bytes (at most {MAX_FRAME})"),
            ));
        }
        let Some(frame) = unread.get(4..4 + len) else {
            return Ok(None);
        };
        let frame = frame.to_vec();
        self.start += 4 + len;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Ok(Some(frame))
    }

    /// Append what the socket has to the buffer: `false` at the end of the stream.
    fn fill(&mut self, spin: Duration) -> io::Result<bool> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.reserve(READ_CHUNK);
        let deadline = (!spin.is_zero()).then(|| Instant::now() + spin);
        loop {
            let flags = match deadline {
                Some(d) if Instant::now() < d => RecvFlags::DONTWAIT,
                _ => RecvFlags::empty(),
            };
            let spare = rustix::buffer::spare_capacity(&mut self.buf);
            match rustix::net::recv(&self.stream, spare, flags) {
                Ok((0, _)) => return Ok(false),
                Ok(_) => return Ok(true),
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => std::hint::spin_loop(),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The writing half, shared by every thread that sends: one frame at a time.
pub struct FrameWriter {
    stream: Mutex<UnixStream>,
}

impl FrameWriter {
    /// Write frames to `stream` (blocking mode).
    pub fn new(stream: UnixStream) -> FrameWriter {
        FrameWriter {
            stream: Mutex::new(stream),
        }
    }

    /// Send one frame, `bytes` (at most [`MAX_FRAME`]), whole. Errors: the socket's (the
    /// peer went away).
    pub fn send(&self, bytes: &[u8]) -> io::Result<()> {
        let mut framed = Vec::with_capacity(4 + bytes.len());
        framed.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        framed.extend_from_slice(bytes);
        let mut stream = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        stream.write_all(&framed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_cross_whole_in_order_and_an_oversized_length_is_refused() {
        let (a, b) = UnixStream::pair().unwrap();
        let writer = FrameWriter::new(a.try_clone().unwrap());
        let big = vec![7u8; 300_000];
        writer.send(b"one").unwrap();
        let sender = std::thread::spawn(move || writer.send(&big));
        let mut reader = FrameReader::new(b);
        assert_eq!(reader.next(Duration::ZERO).unwrap().unwrap(), b"one");
        let got = reader.next(Duration::from_micros(50)).unwrap().unwrap();
        sender.join().unwrap().unwrap();
        assert_eq!((got.len(), got[299_999]), (300_000, 7));
        let mut raw = a;
        raw.write_all(&(MAX_FRAME as u32 + 1).to_be_bytes())
            .unwrap();
        let err = reader.next(Duration::ZERO).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        drop(raw);
    }

    #[test]
    fn a_closed_peer_ends_the_frames() {
        let (a, b) = UnixStream::pair().unwrap();
        FrameWriter::new(a).send(b"last").unwrap();
        let mut reader = FrameReader::new(b);
        assert_eq!(reader.next(Duration::ZERO).unwrap().unwrap(), b"last");
        assert!(reader.next(Duration::ZERO).unwrap().is_none());
    }
}

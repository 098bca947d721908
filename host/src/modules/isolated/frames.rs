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

    /// The next frame's bytes (valid until the next call), or `Ok(None)` once the peer
    /// closed the connection. While no bytes are waiting, it polls the socket for `spin`
    /// (0: not at all) before it sleeps in the kernel. Errors: the socket's, or a length
    /// over [`MAX_FRAME`] (`InvalidData`).
    pub fn next(&mut self, spin: Duration) -> io::Result<Option<&[u8]>> {
        self.forget_consumed();
        loop {
            if let Some(frame) = self.take()? {
                return Ok(Some(&self.buf[frame]));
            }
            if !self.fill(spin)? {
                return Ok(None);
            }
        }
    }

    /// Drop the bytes of frames already handed out; a buffer grown for a large frame is
    /// given back, so one big request does not keep its memory.
    fn forget_consumed(&mut self) {
        if self.start < self.buf.len() {
            return;
        }
        self.start = 0;
        if self.buf.capacity() > 16 * READ_CHUNK {
            self.buf = Vec::with_capacity(READ_CHUNK);
        } else {
            self.buf.clear();
        }
    }

    /// Where a whole frame lies in the buffer, if one is there (it then counts as read).
    fn take(&mut self) -> io::Result<Option<std::ops::Range<usize>>> {
        let Some(len) = self.frame_len()? else {
            return Ok(None);
        };
        let begin = self.start + 4;
        if self.buf.len() < begin + len {
            return Ok(None);
        }
        self.start = begin + len;
        Ok(Some(begin..begin + len))
    }

    /// The length of the next frame, once its header is in the buffer. Errors: over
    /// [`MAX_FRAME`].
    fn frame_len(&self) -> io::Result<Option<usize>> {
        let Some(header) = self.buf[self.start..].first_chunk::<4>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*header) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a frame of {len} bytes (at most {MAX_FRAME})"),
            ));
        }
        Ok(Some(len))
    }

    /// Append what the socket has to the buffer: `false` at the end of the stream. Room
    /// for a frame whose length is known is made once, exactly (no doubling).
    fn fill(&mut self, spin: Duration) -> io::Result<bool> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let missing = match self.frame_len()? {
            Some(len) => (4 + len).saturating_sub(self.buf.len()),
            None => 0,
        };
        self.buf.reserve_exact(missing.max(READ_CHUNK));
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
        let header = (bytes.len() as u32).to_be_bytes();
        let mut stream = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        if bytes.len() > READ_CHUNK {
            // A large frame is not copied just to put its length in front.
            stream.write_all(&header)?;
            return stream.write_all(bytes);
        }
        let mut framed = Vec::with_capacity(4 + bytes.len());
        framed.extend_from_slice(&header);
        framed.extend_from_slice(bytes);
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
        let big = vec![7u8; 2_000_000];
        writer.send(b"one").unwrap();
        let sender = std::thread::spawn(move || writer.send(&big));
        let mut reader = FrameReader::new(b);
        assert_eq!(reader.next(Duration::ZERO).unwrap().unwrap(), b"one");
        let got = reader.next(Duration::from_micros(50)).unwrap().unwrap();
        assert_eq!((got.len(), got[1_999_999]), (2_000_000, 7));
        sender.join().unwrap().unwrap();
        // Room was made once for the frame, not doubled, and is given back after it.
        assert!(
            reader.buf.capacity() < 2 * 2_000_000,
            "{}",
            reader.buf.capacity()
        );
        FrameWriter::new(a.try_clone().unwrap())
            .send(b"two")
            .unwrap();
        assert_eq!(reader.next(Duration::ZERO).unwrap().unwrap(), b"two");
        assert!(reader.buf.capacity() <= 16 * READ_CHUNK);
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

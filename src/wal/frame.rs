//! Segment files: a header, then checksummed, length-prefixed frames.
//!
//! ```text
//! segment file 00000000000000000042.wal   (named after its first index)
//! ┌──────────────────────────────┬────────────────┐
//! │ magic "DGDB-WAL"  (8 bytes)  │ version u32 LE │  header, 12 bytes
//! ├────────────┬─────────────────┼────────────────┼───────────────────────┐
//! │ length u32 │ length check u32│ payload crc u32│ payload (length bytes)│  frame: one entry
//! ├────────────┼─────────────────┼────────────────┼───────────────────────┤
//! │ length u32 │ ...             │                │                       │  frame: the next entry
//! └────────────┴─────────────────┴────────────────┴───────────────────────┘
//!   length check = CRC-32C of the 4 length bytes
//!   payload crc  = CRC-32C of the payload (see `codec` for the payload)
//! ```
//!
//! **Why the length has its own checksum.** A crash in the middle of a
//! write leaves a *torn* final frame: its length promises more bytes than the
//! file has. If a single flipped bit in the length of a frame in the middle
//! could produce the same picture, recovery would mistake corruption for a
//! torn tail and silently cut every entry after it. With the length
//! checked on its own, a frame that runs past the end of the file really
//! was cut short.
//!
//! **Torn or corrupt?** [`scan`] reads frames until the bytes stop making
//! sense, and then asks one question: *does any valid frame follow?* A crash
//! can only damage what was written last, so damage followed by nothing
//! valid is a torn tail (cut off, with a warning), while damage followed by a
//! valid frame means bytes in the middle of the log changed: corruption,
//! which stops start-up unless the operator asks for `--repair`. The search
//! for a following frame tries every offset, which is slow (one 4-byte CRC
//! per byte of tail) but only ever runs on a damaged file.

/// The first bytes of every segment file.
pub const MAGIC: &[u8; 8] = b"DGDB-WAL";
/// The format version in the segment header; bumped on any format change
/// (2: entries carry commands; 1, records of results, is not read).
pub const VERSION: u32 = 2;
/// Bytes of the segment header.
pub const HEADER_LEN: usize = 12;
/// Bytes before each frame's payload.
pub const FRAME_HEADER_LEN: usize = 12;

/// The segment header.
pub fn header() -> [u8; HEADER_LEN] {
    let mut header = [0; HEADER_LEN];
    header[..8].copy_from_slice(MAGIC);
    header[8..].copy_from_slice(&VERSION.to_le_bytes());
    header
}

/// Appends a frame around the payload that `encode` writes, without copying
/// the payload: the header is reserved, the payload encoded after it, and
/// the header filled in last.
pub fn push_frame(buf: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[0; FRAME_HEADER_LEN]);
    encode(buf);
    let payload = &buf[start + FRAME_HEADER_LEN..];
    // An entry over 4 GiB would need a cascade of ~50 million resources;
    // `u32::MAX` then makes the frame unreadable rather than wrong.
    let len = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    let crc = crc32c::crc32c(payload).to_le_bytes();
    let check = crc32c::crc32c(&len).to_le_bytes();
    buf[start..start + 4].copy_from_slice(&len);
    buf[start + 4..start + 8].copy_from_slice(&check);
    buf[start + 8..start + 12].copy_from_slice(&crc);
}

/// A frame found by [`scan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Offset of the frame's first byte in the scanned bytes.
    pub offset: usize,
    /// The payload.
    pub payload: &'a [u8],
}

/// How the scanned bytes end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// Right after the last frame.
    Clean,
    /// A frame cut short or damaged with nothing valid after it: a crash
    /// mid-write. `offset` is where it starts; everything from there is
    /// dropped.
    Torn {
        /// Where the damaged tail starts.
        offset: usize,
    },
    /// A damaged frame followed by a valid one: the middle of the log changed.
    Corrupt {
        /// Where the damaged frame starts.
        offset: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// The frames of `bytes` (a segment without its header, with offsets still
/// counted from `base`), and how they end.
pub fn scan(bytes: &[u8], base: usize) -> (Vec<Frame<'_>>, End) {
    let mut frames = Vec::new();
    let mut pos = 0;
    loop {
        if pos == bytes.len() {
            return (frames, End::Clean);
        }
        match frame_at(bytes, pos) {
            Ok(payload) => {
                frames.push(Frame {
                    offset: base + pos,
                    payload,
                });
                pos += FRAME_HEADER_LEN + payload.len();
            }
            Err(reason) => {
                let end = if valid_frame_after(bytes, pos) {
                    End::Corrupt {
                        offset: base + pos,
                        reason: reason.to_owned(),
                    }
                } else {
                    End::Torn { offset: base + pos }
                };
                return (frames, end);
            }
        }
    }
}

/// The payload of the frame at `pos`, or why there is none.
fn frame_at(bytes: &[u8], pos: usize) -> Result<&[u8], &'static str> {
    let rest = &bytes[pos..];
    let Some((head, body)) = rest.split_first_chunk::<FRAME_HEADER_LEN>() else {
        return Err("frame header cut short");
    };
    let [l0, l1, l2, l3, c0, c1, c2, c3, p0, p1, p2, p3] = *head;
    let len = [l0, l1, l2, l3];
    if crc32c::crc32c(&len) != u32::from_le_bytes([c0, c1, c2, c3]) {
        return Err("frame length fails its checksum");
    }
    let len = u32::from_le_bytes(len) as usize;
    if len == 0 {
        return Err("empty frame");
    }
    let payload = body.get(..len).ok_or("frame cut short")?;
    if crc32c::crc32c(payload) != u32::from_le_bytes([p0, p1, p2, p3]) {
        return Err("payload fails its checksum");
    }
    Ok(payload)
}

/// Whether a valid frame starts anywhere after `pos`.
fn valid_frame_after(bytes: &[u8], pos: usize) -> bool {
    (pos + 1..bytes.len()).any(|p| frame_at(bytes, p).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(payloads: &[&[u8]]) -> Vec<u8> {
        let mut buf = Vec::new();
        for p in payloads {
            push_frame(&mut buf, |b| b.extend_from_slice(p));
        }
        buf
    }

    fn payloads<'a>(frames: &[Frame<'a>]) -> Vec<&'a [u8]> {
        frames.iter().map(|f| f.payload).collect()
    }

    #[test]
    fn frames_round_trip_with_their_offsets() {
        let bytes = log(&[b"one", b"three", b"x"]);
        let (frames, end) = scan(&bytes, 100);
        assert_eq!(end, End::Clean);
        assert_eq!(payloads(&frames), [&b"one"[..], b"three", b"x"]);
        let offsets: Vec<usize> = frames.iter().map(|f| f.offset).collect();
        assert_eq!(offsets, [100, 115, 132]);
    }

    #[test]
    fn a_cut_at_every_offset_keeps_the_whole_frames_before_it() {
        let bytes = log(&[b"alpha", b"beta", b"gamma"]);
        let ends = [17, 33, 50];
        for cut in 0..bytes.len() {
            let (frames, end) = scan(&bytes[..cut], 0);
            let whole = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(frames.len(), whole, "cut at {cut}");
            let boundary = if whole == 0 { 0 } else { ends[whole - 1] };
            let expected = if cut == boundary {
                End::Clean
            } else {
                End::Torn { offset: boundary }
            };
            assert_eq!(end, expected, "cut at {cut}");
        }
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let bytes = log(&[b"first record", b"second", b"third one"]);
        let last = bytes.len() - (FRAME_HEADER_LEN + 9);
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x5a;
            let (frames, end) = scan(&damaged, 0);
            assert!(frames.len() < 3, "flip at {i} went unnoticed");
            // Damage before the last frame is followed by a valid frame.
            if i < last {
                assert!(matches!(end, End::Corrupt { .. }), "flip at {i}: {end:?}");
            } else {
                assert_eq!(end, End::Torn { offset: last }, "flip at {i}");
            }
        }
    }

    #[test]
    fn zeros_after_the_last_frame_are_a_torn_tail() {
        let mut bytes = log(&[b"kept"]);
        let end_of_frame = bytes.len();
        bytes.extend_from_slice(&[0; 40]);
        let (frames, end) = scan(&bytes, 0);
        assert_eq!(payloads(&frames), [&b"kept"[..]]);
        assert_eq!(
            end,
            End::Torn {
                offset: end_of_frame
            }
        );
    }

    #[test]
    fn the_header_names_the_format_and_version() {
        let header = header();
        assert_eq!(&header[..8], b"DGDB-WAL");
        assert_eq!(u32::from_le_bytes(header[8..].try_into().unwrap()), 2);
    }
}

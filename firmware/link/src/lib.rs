//! The link between `mreq --device` (the host) and the firmware (the device): one serial line,
//! shared with the shell people type at, carrying framed requests and responses. Described in
//! `firmware/PROTOCOL.md`; this crate is its only implementation, used by both sides.
//!
//! A frame is a header line `@KIND ID LEN\n` followed by `LEN` raw payload bytes. `ID` names the
//! request a frame belongs to, so a late frame of an earlier request can never be taken for the
//! answer to the current one. Bytes outside frames (boot messages, the prompt, the shell's
//! `mem:` lines) are noise and are skipped; a frame header always starts a line.
//!
//! `no_std`, no allocator: the reader is a small state machine fed with whatever bytes arrived.
#![cfg_attr(not(test), no_std)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod frame;
#[cfg(feature = "alloc")]
mod frames;
mod hello;
mod request;

pub use frame::{encode_header, Event, FrameReader, Header, HeaderError, Kind, HEADER_MAX};
#[cfg(feature = "alloc")]
pub use frames::Frames;
pub use hello::{greeting, protocol_of, Hello};
pub use request::{BodyLen, Options, RequestError, RequestFrame};

/// The protocol's version: a host and a device refuse each other clearly when theirs differ.
pub const VERSION: u32 = 1;

/// The greeting a host sends in its `hello` payload (the device answers with [`Hello`]).
pub const GREETING: &str = "mreq-link";

/// The largest payload of any frame (the reader refuses longer ones as malformed).
pub const MAX_PAYLOAD: u32 = 4096;

/// Failure kinds that come from the link itself rather than from the engine (whose kinds are
/// `mreq_core::Error::kind()`), sent in `error` frames.
pub mod kinds {
    /// The host cancelled the request (`cancel` frame, or a new host took the line).
    pub const CANCELLED: &str = "cancelled";
    /// The `req` frame could not be understood.
    pub const BAD_REQUEST: &str = "bad_request";
    /// The request does not fit the device's limits (headers, URL).
    pub const TOO_LARGE: &str = "too_large";
    /// A frame arrived that does not belong where it came (a body frame of another request).
    pub const BAD_FRAME: &str = "bad_frame";
    /// The host speaks another protocol version.
    pub const VERSION: &str = "version";
}

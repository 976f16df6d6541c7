//! `mreq-core`: a portable HTTP/1.1 client engine.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod error;
pub mod form;

pub use error::{Error, Result};

//! `mreq-core`: a portable HTTP/1.1 client engine.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod auth;
pub mod body;
mod buf;
pub mod client;
pub mod error;
pub mod form;
pub mod redirect;
pub mod request;
pub mod response;
pub mod url;

pub use error::{Error, Result};

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
pub mod multipart;
pub mod redirect;
pub mod request;
pub mod response;
pub mod url;

pub use error::{Error, Result};

/// JSON bodies with serde (feature `json`): serialise a value for [`client::Request::json_body`],
/// which sends it with `Content-Type: application/json`; responses parse with `Response::json`.
#[cfg(feature = "json")]
pub mod json {
    use alloc::vec::Vec;

    /// Serialises `value` as a JSON request body.
    pub fn to_body<T: serde::Serialize + ?Sized>(value: &T) -> crate::Result<Vec<u8>> {
        serde_json::to_vec(value).map_err(|_| crate::Error::Json)
    }
}

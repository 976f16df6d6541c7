//! JSON without an allocator (serde-json-core): a request body written into a buffer, a response
//! body read into a struct.

use mreq_core::client::asynch::Response;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::http::{read_to_end, BodyError};
use crate::net::Conn;

/// The JSON of `value`, written into `buf`; fails (rather than cutting) if `buf` is too small.
pub fn to_slice<'b, T: Serialize + ?Sized>(
    value: &T,
    buf: &'b mut [u8],
) -> Result<&'b [u8], serde_json_core::ser::Error> {
    let len = serde_json_core::to_slice(value, buf)?;
    Ok(&buf[..len])
}

/// Reads the whole body into `buf` and parses it as `T` (fields `T` does not name are skipped).
/// `T` owns its data (numbers, `heapless::String`), so `buf` is free again afterwards. Strings
/// with escapes (`\"`, `\n`, `\u00e9`) are unescaped into the part of `buf` after the body:
/// leave room there for the longest such string.
pub async fn read<T: DeserializeOwned>(
    response: &mut Response<'_, Conn<'_>>,
    buf: &mut [u8],
) -> Result<T, BodyError> {
    let len = read_to_end(response, buf).await?.len();
    from_body(buf, len)
}

/// Parses `buf[..len]`, unescaping strings into `buf[len..]`.
fn from_body<T: DeserializeOwned>(buf: &mut [u8], len: usize) -> Result<T, BodyError> {
    let (body, room) = buf.split_at_mut(len);
    let (value, _) = serde_json_core::from_slice_escaped(body, room).map_err(BodyError::Json)?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Reading {
        seq: u32,
        celsius: f32,
        name: heapless::String<16>,
    }

    #[test]
    fn writes_and_reads_back() {
        let reading = Reading {
            seq: 7,
            celsius: 21.5,
            name: heapless::String::try_from("desk \"1\"").unwrap(),
        };
        let mut buf = [0u8; 64];
        let json = to_slice(&reading, &mut buf).unwrap();
        assert_eq!(json, br#"{"seq":7,"celsius":21.5,"name":"desk \"1\""}"#);
        let len = json.len();
        let back: Reading = from_body(&mut buf, len).unwrap();
        assert_eq!(back, reading, "escapes undone");
        // No room after the body for the unescaped string: an error, not a wrong value.
        let mut exact = [0u8; 64];
        let len = to_slice(&reading, &mut exact).unwrap().len();
        assert!(from_body::<Reading>(&mut exact[..len], len).is_err());
        // Unknown fields are skipped; a wrong type is an error.
        let mut doc = *br#"{"every_ms":250,"extra":[1,{"a":"b"}]}"#;
        #[derive(serde::Deserialize)]
        struct Settings {
            every_ms: u32,
        }
        let len = doc.len();
        assert_eq!(from_body::<Settings>(&mut doc, len).unwrap().every_ms, 250);
        let mut wrong = *br#"{"every_ms":"soon"}"#;
        let len = wrong.len();
        assert!(from_body::<Settings>(&mut wrong, len).is_err());
        let mut small = [0u8; 10];
        assert!(to_slice(&reading, &mut small).is_err(), "never cut");
    }
}

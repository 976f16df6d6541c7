//! The conformance corpus both engines are held to (`conformance/*.json` at the repository's
//! root): the Rust tests read it through here, the MicroPython module's tests through
//! `firmware/micropython/tests/conformance.py`. See `conformance/README.md` for the format.

use serde_json::Value;
use std::sync::OnceLock;

/// The directory of the corpus files.
pub fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance")
}

/// Reads `conformance/<name>` as JSON.
pub fn load(name: &str) -> Value {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("conformance corpus {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("conformance corpus {}: {e}", path.display()))
}

/// Bytes written in the corpus as a string (each character one byte, U+0000..U+00FF) or a list of
/// such strings and `[string, count]` repeats.
pub fn bytes(value: &Value) -> Vec<u8> {
    let piece = |text: &Value| -> Vec<u8> {
        let text = text.as_str().expect("corpus bytes: a string");
        text.chars()
            .map(|c| u8::try_from(u32::from(c)).expect("corpus bytes: characters up to U+00FF"))
            .collect()
    };
    match value {
        Value::String(_) => piece(value),
        Value::Array(pieces) => pieces
            .iter()
            .flat_map(|p| match p {
                Value::Array(repeat) => {
                    let count = repeat[1].as_u64().expect("corpus repeat: [text, count]");
                    piece(&repeat[0]).repeat(count as usize)
                }
                _ => piece(p),
            })
            .collect(),
        _ => panic!("corpus bytes: a string or a list"),
    }
}

/// What a client must make of a response in `responses.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// This status and this whole body.
    Response { status: u16, body: Vec<u8> },
    /// An error of this kind (`mreq_core::Error::kind`).
    Error(String),
}

/// One case of `responses.json`: the bytes a server sends (then it closes), and the outcome.
#[derive(Debug, Clone)]
pub struct ResponseCase {
    pub name: String,
    pub wire: Vec<u8>,
    pub expect: Expect,
}

/// The cases of `conformance/responses.json`, read once.
pub fn responses() -> &'static [ResponseCase] {
    static CASES: OnceLock<Vec<ResponseCase>> = OnceLock::new();
    CASES.get_or_init(|| {
        let doc = load("responses.json");
        doc["cases"]
            .as_array()
            .expect("responses.json: a cases list")
            .iter()
            .map(|case| {
                let expect = match case.get("error") {
                    Some(kind) => Expect::Error(kind.as_str().expect("error: a kind").into()),
                    None => Expect::Response {
                        status: case["status"].as_u64().expect("status") as u16,
                        body: bytes(&case["body"]),
                    },
                };
                ResponseCase {
                    name: case["name"].as_str().expect("name").into(),
                    wire: bytes(&case["wire"]),
                    expect,
                }
            })
            .collect()
    })
}

/// The case called `name`.
pub fn response(name: &str) -> Option<&'static ResponseCase> {
    responses().iter().find(|case| case.name == name)
}

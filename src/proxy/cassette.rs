//! The cassette on disk: one directory per exchange, loaded at start, written atomically.
//!
//! The format is documented in the module docs of [`crate::proxy`]. Reads and writes here
//! are blocking file I/O: the server calls them from `spawn_blocking`.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use serde::Deserialize;

use super::json::Node;
use super::key::is_key;
use super::ProxyError;

/// Response headers kept in the cassette (and replayed); every other one is dropped.
pub(crate) const KEPT_HEADERS: &[&str] = &["content-type", "content-encoding"];

const REQUEST: &str = "request.json";
const RESPONSE: &str = "response.json";
const BODY: &str = "response.body";

/// What the index holds of a recorded exchange (the bodies stay on disk).
#[derive(Debug)]
pub(crate) struct Recorded {
    pub method: String,
    /// The stored path and query (secrets stripped).
    pub path: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The size of each chunk of the response body, in order.
    pub chunks: Vec<usize>,
}

/// A recorded request body, as `request.json` holds it.
#[derive(Debug)]
pub(crate) enum StoredBody {
    Json(Node),
    /// `body_text`: not JSON.
    Text,
    Empty,
}

/// One exchange to store.
pub(crate) struct Exchange<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub chunks: Vec<Bytes>,
}

/// Whether [`Cassette::store`] wrote anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// The exchange was new or different: its directory was (re)written.
    Written,
    /// The same files were already there: nothing was touched.
    Unchanged,
}

/// The cassette directory and its index.
#[derive(Debug)]
pub(crate) struct Cassette {
    dir: PathBuf,
    index: RwLock<HashMap<String, Arc<Recorded>>>,
    /// One writer at a time (in this process): renames of one key never interleave.
    write: Mutex<()>,
    temp: AtomicU64,
}

#[derive(Deserialize)]
struct ResponseFile {
    status: u16,
    headers: Vec<(String, String)>,
    chunks: Vec<usize>,
}

fn bad(path: &Path, reason: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ProxyError {
    ProxyError::BadExchange {
        path: path.to_owned(),
        source: reason.into(),
    }
}

impl Cassette {
    /// Opens `dir` (creating it when `create`) and loads every exchange in it.
    ///
    /// Entries whose name is not a key (64 lowercase hex digits) are ignored, temporary
    /// directories (`.tmp-*`, `.old-*`) included. An exchange directory with a missing or
    /// malformed file is an error naming that file.
    pub(crate) fn open(dir: &Path, create: bool) -> Result<Cassette, ProxyError> {
        let dir_error = |source| ProxyError::CassetteDir {
            path: dir.to_owned(),
            source,
        };
        if create {
            fs::create_dir_all(dir).map_err(dir_error)?;
        }
        let mut index = HashMap::new();
        for entry in fs::read_dir(dir).map_err(dir_error)? {
            let entry = entry.map_err(dir_error)?;
            let name = entry.file_name();
            let Some(name) = name.to_str().filter(|n| is_key(n)) else {
                continue;
            };
            if !entry.file_type().map_err(dir_error)?.is_dir() {
                continue;
            }
            let recorded = load(&entry.path())?;
            index.insert(name.to_owned(), Arc::new(recorded));
        }
        Ok(Cassette {
            dir: dir.to_owned(),
            index: RwLock::new(index),
            write: Mutex::new(()),
            temp: AtomicU64::new(0),
        })
    }

    /// The recorded exchange under `key`.
    pub(crate) fn get(&self, key: &str) -> Option<Arc<Recorded>> {
        read(&self.index).get(key).cloned()
    }

    /// The number of recorded exchanges.
    pub(crate) fn len(&self) -> usize {
        read(&self.index).len()
    }

    /// The keys of the exchanges recorded for `method` and `path`, sorted.
    pub(crate) fn candidates(&self, method: &str, path: &str) -> Vec<String> {
        let mut keys: Vec<String> = read(&self.index)
            .iter()
            .filter(|(_, r)| r.method == method && r.path == path)
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys
    }

    /// The response body of `key`, cut into its recorded chunks.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or its size is not the sum of the chunk sizes.
    pub(crate) fn response_body(&self, key: &str, recorded: &Recorded) -> io::Result<Vec<Bytes>> {
        let path = self.dir.join(key).join(BODY);
        let body = Bytes::from(fs::read(&path)?);
        let total: usize = recorded.chunks.iter().sum();
        if body.len() != total {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} holds {} bytes, {RESPONSE} lists {total}",
                    path.display(),
                    body.len()
                ),
            ));
        }
        let mut at = 0;
        let mut chunks = Vec::with_capacity(recorded.chunks.len());
        for &n in recorded.chunks.iter().filter(|&&n| n > 0) {
            chunks.push(body.slice(at..at + n));
            at += n;
        }
        Ok(chunks)
    }

    /// The request body recorded under `key`; `None` when `request.json` cannot be read.
    pub(crate) fn request_body(&self, key: &str) -> Option<StoredBody> {
        let bytes = fs::read(self.dir.join(key).join(REQUEST)).ok()?;
        let Node::Obj(members) = Node::parse(&bytes)? else {
            return None;
        };
        let mut body = StoredBody::Empty;
        for (k, v) in members {
            match (k.as_str(), v) {
                ("body", v) => body = StoredBody::Json(v),
                ("body_text", _) => body = StoredBody::Text,
                _ => {}
            }
        }
        Some(body)
    }

    /// Writes `exchange` under `key` atomically and adds it to the index.
    ///
    /// The three files are written into a fresh `.tmp-*` directory, synced, and the
    /// directory is renamed to the key: a reader or a crash never sees half an exchange.
    /// An existing exchange with identical files is left untouched; a different one is
    /// moved aside (`.old-*`), replaced, then removed.
    ///
    /// # Errors
    ///
    /// File-system failures; the temporary directory is removed.
    pub(crate) fn store(&self, key: &str, exchange: &Exchange<'_>) -> io::Result<Stored> {
        let request = render_request(exchange.method, exchange.path, exchange.body);
        let response = render_response(exchange.status, &exchange.headers, &exchange.chunks);
        let recorded = Recorded {
            method: exchange.method.to_owned(),
            path: exchange.path.to_owned(),
            status: exchange.status,
            headers: exchange.headers.clone(),
            chunks: exchange.chunks.iter().map(Bytes::len).collect(),
        };
        let _writer = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let target = self.dir.join(key);
        let outcome = if same_files(&target, &request, &response, &exchange.chunks) {
            Stored::Unchanged
        } else {
            let tmp = self.temp_dir("tmp", key);
            let written = write_exchange(&tmp, &request, &response, &exchange.chunks)
                .and_then(|()| self.replace(&tmp, &target, key));
            if written.is_err() {
                let _ = fs::remove_dir_all(&tmp);
            }
            written?;
            Stored::Written
        };
        write(&self.index).insert(key.to_owned(), Arc::new(recorded));
        Ok(outcome)
    }

    fn temp_dir(&self, kind: &str, key: &str) -> PathBuf {
        let n = self.temp.fetch_add(1, Ordering::Relaxed);
        self.dir
            .join(format!(".{kind}-{key}-{}-{n}", std::process::id()))
    }

    /// Renames `tmp` to `target`, moving an existing `target` aside first.
    fn replace(&self, tmp: &Path, target: &Path, key: &str) -> io::Result<()> {
        if !target.exists() {
            return fs::rename(tmp, target);
        }
        let old = self.temp_dir("old", key);
        fs::rename(target, &old)?;
        if let Err(e) = fs::rename(tmp, target) {
            let _ = fs::rename(&old, target);
            return Err(e);
        }
        fs::remove_dir_all(&old)
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

/// Loads and checks one exchange directory.
fn load(dir: &Path) -> Result<Recorded, ProxyError> {
    let request_path = dir.join(REQUEST);
    let bytes = fs::read(&request_path).map_err(|e| bad(&request_path, e))?;
    let Some(Node::Obj(members)) = Node::parse(&bytes) else {
        return Err(bad(&request_path, "not a JSON object"));
    };
    let field = |name: &str| {
        members.iter().find_map(|(k, v)| match v {
            Node::Str(s) if k == name => Some(s.clone()),
            _ => None,
        })
    };
    let (Some(method), Some(path)) = (field("method"), field("path")) else {
        return Err(bad(
            &request_path,
            "needs string fields `method` and `path`",
        ));
    };
    let response_path = dir.join(RESPONSE);
    let bytes = fs::read(&response_path).map_err(|e| bad(&response_path, e))?;
    let file: ResponseFile = serde_json::from_slice(&bytes).map_err(|e| bad(&response_path, e))?;
    if axum::http::StatusCode::from_u16(file.status).is_err() {
        return Err(bad(
            &response_path,
            format!("invalid status {}", file.status),
        ));
    }
    for (name, value) in &file.headers {
        let valid = axum::http::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && axum::http::HeaderValue::from_str(value).is_ok();
        if !valid {
            return Err(bad(&response_path, format!("invalid header {name:?}")));
        }
    }
    let body_path = dir.join(BODY);
    let len = fs::metadata(&body_path)
        .map_err(|e| bad(&body_path, e))?
        .len();
    let total = file
        .chunks
        .iter()
        .try_fold(0u64, |sum, &n| sum.checked_add(n as u64));
    if total != Some(len) {
        return Err(bad(
            &body_path,
            format!("holds {len} bytes, but the chunk sizes in {RESPONSE} add up to another size"),
        ));
    }
    Ok(Recorded {
        method,
        path,
        status: file.status,
        headers: file.headers,
        chunks: file.chunks,
    })
}

/// `request.json`: method, path, and the body as JSON in its own key order (`body`), as
/// text when it is not JSON (`body_text`, invalid UTF-8 replaced), or neither when empty.
fn render_request(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut members = vec![
        ("method".to_owned(), Node::Str(method.to_owned())),
        ("path".to_owned(), Node::Str(path.to_owned())),
    ];
    let text = || {
        (
            "body_text".to_owned(),
            Node::Str(String::from_utf8_lossy(body).into_owned()),
        )
    };
    let render = |members: Vec<(String, Node)>| {
        let mut out = serde_json::to_vec_pretty(&Node::Obj(members)).ok()?;
        out.push(b'\n');
        // The file must load back: a body nested to serde_json's depth limit is one level
        // too deep once inside this object.
        Node::parse(&out)?;
        Some(out)
    };
    if body.is_empty() {
        return render(members.clone()).unwrap_or_default();
    }
    let mut as_json = members.clone();
    as_json.push(match Node::parse(body) {
        Some(node) => ("body".to_owned(), node),
        None => text(),
    });
    render(as_json)
        .or_else(|| {
            members.push(text());
            render(members)
        })
        .unwrap_or_default()
}

/// `response.json`: status, kept headers as `[name, value]` pairs, chunk sizes (sixteen
/// to a line).
fn render_response(status: u16, headers: &[(String, String)], chunks: &[Bytes]) -> Vec<u8> {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut out = format!("{{\n  \"status\": {status},\n  \"headers\": [");
    for (i, (name, value)) in headers.iter().enumerate() {
        let sep = if i + 1 < headers.len() { "," } else { "" };
        out.push_str(&format!("\n    [{}, {}]{sep}", q(name), q(value)));
    }
    out.push_str(if headers.is_empty() {
        "],\n"
    } else {
        "\n  ],\n"
    });
    out.push_str("  \"chunks\": [");
    for (i, line) in chunks.chunks(16).enumerate() {
        let sizes: Vec<String> = line.iter().map(|c| c.len().to_string()).collect();
        let sep = if i == 0 { "\n    " } else { ",\n    " };
        out.push_str(sep);
        out.push_str(&sizes.join(", "));
    }
    out.push_str(if chunks.is_empty() {
        "]\n}\n"
    } else {
        "\n  ]\n}\n"
    });
    out.into_bytes()
}

fn write_exchange(dir: &Path, request: &[u8], response: &[u8], chunks: &[Bytes]) -> io::Result<()> {
    fs::create_dir(dir)?;
    let file = |name: &str, parts: &mut dyn Iterator<Item = &[u8]>| -> io::Result<()> {
        let mut f = fs::File::create(dir.join(name))?;
        for part in parts {
            f.write_all(part)?;
        }
        f.sync_all()
    };
    file(REQUEST, &mut std::iter::once(request))?;
    file(RESPONSE, &mut std::iter::once(response))?;
    file(BODY, &mut chunks.iter().map(|c| &c[..]))
}

/// Whether `dir` already holds exactly these files.
fn same_files(dir: &Path, request: &[u8], response: &[u8], chunks: &[Bytes]) -> bool {
    let same = |name: &str, want: &[u8]| fs::read(dir.join(name)).is_ok_and(|got| got == want);
    if !same(REQUEST, request) || !same(RESPONSE, response) {
        return false;
    }
    let Ok(body) = fs::read(dir.join(BODY)) else {
        return false;
    };
    let total: usize = chunks.iter().map(Bytes::len).sum();
    let mut at = 0;
    body.len() == total
        && chunks.iter().all(|c| {
            let same = body[at..at + c.len()] == c[..];
            at += c.len();
            same
        })
}

#[cfg(test)]
mod tests {
    use super::{render_request, render_response};
    use bytes::Bytes;

    #[test]
    fn request_json_keeps_the_body_order() {
        let out = render_request("POST", "/v1/x", br#"{"z":1,"a":{"k":[1]}}"#);
        let want = "{\n  \"method\": \"POST\",\n  \"path\": \"/v1/x\",\n  \"body\": {\n    \"z\": 1,\n    \"a\": {\n      \"k\": [\n        1\n      ]\n    }\n  }\n}\n";
        assert_eq!(String::from_utf8(out).unwrap(), want);
        let text = String::from_utf8(render_request("GET", "/", b"a\xffb")).unwrap();
        assert!(text.contains("\"body_text\": \"a\u{fffd}b\""), "{text}");
        assert!(!String::from_utf8(render_request("GET", "/", b""))
            .unwrap()
            .contains("body"));
    }

    #[test]
    fn response_json_is_stable_and_parses() {
        let chunks: Vec<Bytes> = (1..=17).map(|n| Bytes::from(vec![b'x'; n])).collect();
        let headers = vec![("content-type".to_owned(), "text/event-stream".to_owned())];
        let out = String::from_utf8(render_response(200, &headers, &chunks)).unwrap();
        assert!(out.starts_with("{\n  \"status\": 200,\n  \"headers\": [\n    [\"content-type\", \"text/event-stream\"]\n  ],\n  \"chunks\": [\n    1, 2, 3,"), "{out}");
        assert!(out.ends_with("16,\n    17\n  ]\n}\n"), "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["chunks"].as_array().unwrap().len(), 17);
        let empty = String::from_utf8(render_response(204, &[], &[])).unwrap();
        assert_eq!(
            empty,
            "{\n  \"status\": 204,\n  \"headers\": [],\n  \"chunks\": []\n}\n"
        );
        serde_json::from_str::<serde_json::Value>(&empty).unwrap();
    }
}

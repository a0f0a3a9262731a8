//! The two web pages — the dispatcher dashboard and the field app — served from a `web/`
//! directory: `web/app` at `/`, Leaflet's distribution (`web/node_modules/leaflet/dist`, from npm)
//! at `/vendor/leaflet/`. Every answer carries the Content-Security-Policy, a content type from
//! the file's extension and an `ETag`; files are revalidated on each use (`no-cache`), so a new
//! release is picked up at once while an unchanged file costs a `304`.

use super::App;
use crate::protocol::ErrorCode;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The policy of every page: scripts, styles, images, workers and connections from this server
/// only — no inline script or style, no frames, no plug-ins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The largest file served (the biggest, Leaflet's unminified ES module, is ~0.5 MB).
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Where the pages are, and the files read so far (re-read when their size or time changes).
pub struct WebAssets {
    root: PathBuf,
    cache: Mutex<HashMap<PathBuf, Cached>>,
}

#[derive(Clone)]
struct Cached {
    modified: Option<SystemTime>,
    len: u64,
    body: axum::body::Bytes,
    etag: String,
}

/// What a request path names.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    File(PathBuf),
    /// A directory asked for without its slash: redirect to it.
    Slash(String),
    NotFound,
}

impl WebAssets {
    /// The pages under `root` (a `web/` directory holding `app/` and, once `npm ci` ran,
    /// `node_modules/`).
    pub fn new(root: impl Into<PathBuf>) -> WebAssets {
        WebAssets {
            root: root.into(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What is missing for the pages to work, for the operator: the app itself, or the npm
    /// packages it imports.
    pub fn missing(&self) -> Option<String> {
        if !self.root.join("app/index.html").is_file() {
            return Some(format!(
                "no web pages in {} (expected app/index.html): start Crest from its checkout or give --web",
                self.root.display()
            ));
        }
        if !self.root.join(LEAFLET_PROBE).is_file() {
            return Some(format!(
                "the web pages' packages are not installed: run `npm ci --omit=dev` in {}",
                self.root.display()
            ));
        }
        None
    }

    /// Maps a URL path to a file under the root, refusing anything that could leave it.
    fn resolve(&self, path: &str) -> Target {
        let Some(rest) = path.strip_prefix('/') else {
            return Target::NotFound;
        };
        let (base, rest) = match rest.strip_prefix("vendor/leaflet/") {
            Some(r) => (self.root.join("node_modules/leaflet/dist"), r),
            None => (self.root.join("app"), rest),
        };
        let mut file = base;
        for segment in rest.split('/').filter(|s| !s.is_empty()) {
            let decoded = match percent_decode(segment) {
                Some(s) => s,
                None => return Target::NotFound,
            };
            if decoded.starts_with('.')
                || decoded.contains(['/', '\\', '\0'])
                || decoded.chars().any(char::is_control)
            {
                return Target::NotFound;
            }
            file.push(decoded);
        }
        if path.ends_with('/') {
            file.push("index.html");
        } else if file.is_dir() {
            return Target::Slash(format!("{path}/"));
        }
        Target::File(file)
    }

    /// The file's bytes and ETag, from memory when it has not changed on disk.
    async fn load(&self, file: &Path) -> std::io::Result<Option<Cached>> {
        let meta = match tokio::fs::metadata(file).await {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if meta.len() > MAX_FILE_BYTES {
            return Ok(None);
        }
        let modified = meta.modified().ok();
        if let Some(hit) = self.cache.lock().expect("web cache").get(file)
            && hit.len == meta.len()
            && hit.modified == modified
            && modified.is_some()
        {
            return Ok(Some(hit.clone()));
        }
        let body = tokio::fs::read(file).await?;
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", crate::codec::hex(&digest[..12]));
        let cached = Cached {
            modified,
            len: body.len() as u64,
            body: body.into(),
            etag,
        };
        self.cache
            .lock()
            .expect("web cache")
            .insert(file.to_path_buf(), cached.clone());
        Ok(Some(cached))
    }
}

/// The file whose presence says `npm ci` has run.
pub const LEAFLET_PROBE: &str = "node_modules/leaflet/dist/leaflet-src.esm.js";

/// The content type of a file, by its extension.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Percent-decoding of one path segment; `None` when it is not valid UTF-8 or a `%` is malformed.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The headers every page and asset carries.
fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("geolocation=(self), camera=(), microphone=()"),
    );
}

fn not_found(path: &str) -> Response {
    super::http::error(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        format!("nothing is served at {path}"),
        format!("此地址没有内容：{path}"),
    )
}

/// Every path no route claims: a page or asset, or `404 not_found` — each answer, errors and
/// redirects included, with the security headers.
pub(super) async fn serve(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut response = answer(&app, &method, uri.path(), &headers).await;
    security_headers(response.headers_mut());
    response
}

async fn answer(app: &App, method: &Method, path: &str, headers: &HeaderMap) -> Response {
    if *method != Method::GET && *method != Method::HEAD {
        return super::http::error(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::InvalidMessage,
            format!("{method} is not served at {path}"),
            format!("此地址不接受 {method} 请求"),
        );
    }
    let Some(assets) = app.web.as_ref() else {
        return not_found(path);
    };
    let file = match assets.resolve(path) {
        Target::File(f) => f,
        Target::Slash(to) => {
            let mut r = StatusCode::PERMANENT_REDIRECT.into_response();
            if let Ok(v) = HeaderValue::from_str(&to) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            return r;
        }
        Target::NotFound => return not_found(path),
    };
    let cached = match assets.load(&file).await {
        Ok(Some(c)) => c,
        Ok(None) => return not_found(path),
        Err(error) => {
            tracing::warn!(file = %file.display(), %error, "a web file cannot be read");
            return super::http::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Unavailable,
                "the file cannot be read",
                "文件无法读取",
            );
        }
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == cached.etag || t.trim() == "*")
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if *method == Method::HEAD {
        let mut r = StatusCode::OK.into_response();
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(cached.len));
        r
    } else {
        cached.body.clone().into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&file)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&cached.etag) {
        h.insert(header::ETAG, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assets() -> (tempfile::TempDir, WebAssets) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("app/field")).unwrap();
        std::fs::create_dir_all(dir.path().join("node_modules/leaflet/dist")).unwrap();
        let a = WebAssets::new(dir.path());
        (dir, a)
    }

    #[test]
    fn paths_map_into_the_app_and_leaflet_and_never_out() {
        let (dir, a) = assets();
        let root = dir.path();
        assert_eq!(a.resolve("/"), Target::File(root.join("app/index.html")));
        assert_eq!(
            a.resolve("/field/"),
            Target::File(root.join("app/field/index.html"))
        );
        assert_eq!(a.resolve("/field"), Target::Slash("/field/".into()));
        assert_eq!(
            a.resolve("/field/sw.js"),
            Target::File(root.join("app/field/sw.js"))
        );
        assert_eq!(
            a.resolve("/vendor/leaflet/leaflet.css"),
            Target::File(root.join("node_modules/leaflet/dist/leaflet.css"))
        );
        for bad in [
            "/../secret",
            "/%2e%2e/secret",
            "/field/..%2f..%2fetc",
            "/.git/config",
            "/vendor/leaflet/../../package.json",
            "/a%5cb",
            "/a%00b",
            "/%zz",
            "/%ff",
        ] {
            assert_eq!(a.resolve(bad), Target::NotFound, "{bad}");
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(
            content_type(Path::new("a/index.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("sw.js")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("manifest.webmanifest")),
            "application/manifest+json"
        );
        assert_eq!(content_type(Path::new("x.bin")), "application/octet-stream");
    }

    #[test]
    fn missing_says_what_to_do() {
        let (dir, a) = assets();
        assert!(a.missing().unwrap().contains("app/index.html"));
        std::fs::write(dir.path().join("app/index.html"), "<!doctype html>").unwrap();
        assert!(a.missing().unwrap().contains("npm ci"));
        std::fs::write(dir.path().join(LEAFLET_PROBE), "export {}").unwrap();
        assert_eq!(a.missing(), None);
    }
}

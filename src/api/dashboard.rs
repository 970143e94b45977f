//! The web dashboard: one static page at `/` and its assets under `/dashboard/`, all embedded
//! in the binary (`include_str!`/`include_bytes!`), so a build never needs npm. The page is a
//! client of the public API only: the session list and permission prompts over REST and SSE,
//! a live terminal per session over the WebSocket of `api::stream`.
//!
//! Routes:
//! - `GET /` — the page; `GET /dashboard/<asset>` — its scripts and styles. Unauthenticated:
//!   they hold no data, only code.
//! - `POST /v1/auth/cookie` with `Authorization: Bearer <token>` — checks that this one token
//!   (the master token or an API key) is accepted, then stores it in the `aegis_token` cookie
//!   (`HttpOnly`, `SameSite=Strict`, `Path=/`), which `api::guard` accepts like a Bearer
//!   header. `DELETE /v1/auth/cookie` clears it. Both pass the guard like every API route.
//!
//! Trust boundary: the token lives only in the HttpOnly cookie, out of reach of page scripts.
//! `SameSite=Strict` keeps other sites' pages from riding on it (for fetch, EventSource and
//! the WebSocket handshake alike), CORS stays off, and the page forbids framing
//! (`frame-ancestors 'none'`) so its approve buttons cannot be clickjacked.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;
use warp::Filter;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::filters::with_app;
use super::reply::finish;
use super::reply::{ApiResult, json, json_sorted};
use super::route::{self, Table};

/// Name of the credential cookie; `api::guard` reads the same name.
pub const COOKIE: &str = "aegis_token";

/// Life of the cookie: a month, so the token is entered once per browser rather than once per
/// visit. Revoking the token (or the API key) ends it sooner.
const COOKIE_MAX_AGE_SECS: u64 = 30 * 24 * 3600;

/// The page's policy: only its own scripts and connections; inline styles are allowed because
/// xterm.js sizes its rows with them; no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'none'";

const INDEX: &str = include_str!("dashboard/index.html");

/// Every asset under `/dashboard/`: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("dashboard/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("dashboard/app.css"),
    ),
    (
        "xterm.js",
        "text/javascript; charset=utf-8",
        include_bytes!("dashboard/vendor/xterm.js"),
    ),
    (
        "xterm.css",
        "text/css; charset=utf-8",
        include_bytes!("dashboard/vendor/xterm.css"),
    ),
    (
        "addon-fit.js",
        "text/javascript; charset=utf-8",
        include_bytes!("dashboard/vendor/addon-fit.js"),
    ),
];

/// A static response with the headers every dashboard file carries. `no-cache` makes the
/// browser revalidate, so a daemon upgrade never runs with last version's scripts.
fn static_reply(content_type: &'static str, body: &'static [u8]) -> Response {
    let mut r = Response::new(body.into());
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn index() -> Response {
    let mut r = static_reply("text/html; charset=utf-8", INDEX.as_bytes());
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

fn asset(name: String) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, ctype, body)) => static_reply(ctype, body),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no dashboard asset {name:?}"),
        )
        .into_response(),
    }
}

/// The page and its assets (unauthenticated, outside `/v1`).
pub fn routes(t: &mut Table) {
    t.route(route::get("/"), |p, _| p.none().map(index));
    t.route(route::get("/dashboard/{asset}"), |p, _| p.one().map(asset));
}

/// Whether `token` can travel as a cookie value unquoted (RFC 6265 `cookie-octet`). Tokens
/// are printable ASCII in practice; anything else is refused rather than mangled.
fn cookie_safe(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E))
}

fn with_cookie(mut r: Response, value: &str) -> Response {
    // The value was checked by `cookie_safe`, or is empty (clearing).
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn set_cookie(app: Arc<App>, auth: Option<String>) -> ApiResult {
    let token = super::guard::bearer(&auth)
        .ok_or_else(|| ApiError::invalid("send the token as an Authorization: Bearer header"))?;
    // The guard let the request in on any credential it carried; the cookie must hold this
    // one, so check it alone.
    if !app.gate.admits(token) {
        return Err(ApiError::unauthorized());
    }
    if !cookie_safe(token) {
        return Err(ApiError::invalid(
            "the token has characters a cookie cannot carry; use the Authorization header",
        ));
    }
    let cookie = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={COOKIE_MAX_AGE_SECS}"
    );
    let body = CookieSet {
        ok: true,
        cookie: COOKIE,
    };
    Ok(with_cookie(json_sorted(StatusCode::OK, &body), &cookie))
}

/// `POST /v1/auth/cookie`: the cookie is set (`Set-Cookie`, HttpOnly).
#[derive(Debug, Serialize, JsonSchema)]
struct CookieSet {
    ok: bool,
    /// The cookie's name.
    cookie: &'static str,
}

async fn clear_cookie() -> ApiResult {
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(with_cookie(json(StatusCode::OK, &super::wire::OK), &cookie))
}

/// `POST`/`DELETE /v1/auth/cookie` (behind the guard, under `/v1` and unversioned).
pub fn auth_routes(t: &mut Table) {
    t.route(
        route::post("/auth/cookie").answers::<CookieSet>(),
        |p, app| {
            p.none()
                .and(with_app(app))
                .and(warp::header::optional::<String>("authorization"))
                .then(|a, auth| async { finish(set_cookie(a, auth).await) })
        },
    );
    t.route(
        route::delete("/auth/cookie").answers::<super::wire::Ok>(),
        |p, _| p.none().then(|| async { finish(clear_cookie().await) }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_values() {
        assert!(cookie_safe("s3cret-token_~!"));
        assert!(cookie_safe("ak_0123abcdef"));
        for bad in ["", "a b", "a;b", "a,b", "a\"b", "a\\b", "é", "a\nb"] {
            assert!(!cookie_safe(bad), "{bad:?}");
        }
    }

    #[test]
    fn every_asset_is_embedded_and_typed() {
        for (name, ctype, body) in ASSETS {
            assert!(!body.is_empty(), "{name} is empty");
            let r = asset(name.to_string());
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.headers()[header::CONTENT_TYPE], *ctype);
        }
        assert_eq!(asset("nope.js".into()).status(), StatusCode::NOT_FOUND);
        // The page names only assets that exist.
        for (name, _, _) in ASSETS.iter().filter(|(n, _, _)| !n.starts_with("app.")) {
            assert!(INDEX.contains(&format!("/dashboard/{name}")), "{name}");
        }
    }
}

//! API key routes (scope `admin`): `POST /v1/auth/keys {name, scopes}` returns the key once,
//! `GET /v1/auth/keys` lists keys without secrets, `DELETE /v1/auth/keys/:id` revokes one.
//! Storage lives in `store::keys`; enforcement in `api::guard`.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::http::StatusCode;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::filters::{json_body, with_app};
use super::reply::finish;
use super::reply::{ApiResult, json};
use super::route::{self, Table};
use crate::store::keys::{KeyError, KeyRecord, KeyStore, Scope};

/// `POST /v1/auth/keys` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub name: String,
    #[schemars(schema_with = "crate::api::schemas::key_scopes")]
    pub scopes: Vec<String>,
}

/// An API key, without its secret but for the creation response.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ApiKey")]
pub(crate) struct KeyWire {
    id: String,
    name: String,
    #[schemars(schema_with = "crate::api::schemas::key_scopes")]
    scopes: Vec<&'static str>,
    /// The key's first characters, to recognise it by.
    prefix: String,
    /// Epoch milliseconds.
    created_at: u64,
    /// Only in the creation response.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

impl KeyWire {
    fn of(k: KeyRecord, secret: Option<String>) -> Self {
        KeyWire {
            id: k.id,
            name: k.name,
            scopes: k.scopes.iter().map(|s| s.as_str()).collect(),
            prefix: k.prefix,
            created_at: k.created_at,
            key: secret,
        }
    }
}

/// `GET /v1/auth/keys`.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "ApiKeyList")]
pub(crate) struct KeyList {
    keys: Vec<KeyWire>,
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        let msg = e.to_string();
        match e {
            KeyError::Invalid(_) => ApiError::invalid(msg),
            KeyError::Io(_) => ApiError::internal(msg),
        }
    }
}

fn store(app: &App) -> Result<&Arc<KeyStore>, ApiError> {
    app.gate
        .keys()
        .ok_or_else(|| ApiError::internal("API keys are not available"))
}

fn create(app: &App, req: CreateKeyRequest) -> ApiResult {
    let mut scopes = Vec::new();
    for s in &req.scopes {
        let scope = Scope::parse(s).ok_or_else(|| {
            let allowed: Vec<_> = Scope::ALL.iter().map(|x| x.as_str()).collect();
            ApiError::invalid(format!(
                "unknown scope {s:?}; allowed: {}",
                allowed.join(", ")
            ))
        })?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    let (rec, secret) = store(app)?.create(&req.name, scopes)?;
    Ok(json(StatusCode::CREATED, &KeyWire::of(rec, Some(secret))))
}

fn list(app: &App) -> ApiResult {
    let keys = store(app)?
        .list()
        .into_iter()
        .map(|k| KeyWire::of(k, None))
        .collect();
    Ok(json(StatusCode::OK, &KeyList { keys }))
}

fn revoke(app: &App, id: &str) -> ApiResult {
    if !store(app)?.revoke(id)? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::KeyNotFound,
            format!("no API key {id:?}"),
        ));
    }
    Ok(json(StatusCode::OK, &super::wire::OK))
}

pub fn routes(t: &mut Table) {
    t.route(
        route::post("/auth/keys")
            .body::<CreateKeyRequest>()
            .creates::<KeyWire>(),
        |p, app| {
            p.none()
                .and(with_app(app))
                .and(json_body(app.config.max_body_bytes))
                .then(|a: Arc<App>, r| async move { finish(create(&a, r)) })
        },
    );
    t.route(route::get("/auth/keys").answers::<KeyList>(), |p, app| {
        p.none()
            .and(with_app(app))
            .then(|a: Arc<App>| async move { finish(list(&a)) })
    });
    t.route(
        route::delete("/auth/keys/{id}").answers::<super::wire::Ok>(),
        |p, app| {
            p.one()
                .and(with_app(app))
                .then(|id: String, a: Arc<App>| async move { finish(revoke(&a, &id)) })
        },
    );
}

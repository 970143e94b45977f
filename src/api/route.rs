//! The route table: every operation of the API declared once, as a method, a path template
//! and the types it reads and writes. The router and the OpenAPI document are both built
//! from it, so a route cannot be served without being described, or described with another
//! path, method or body than the one it serves.
//!
//! A feature module adds its routes with [`Table::route`]: the [`Spec`] says what the route
//! is, and a closure builds the rest of the warp filter from the path match ([`PathMatch`],
//! which extracts the template's `{parameters}`) and the app. The closure runs only when the
//! table is built to serve; [`Table::describing`] collects the specs alone, without an app,
//! for the document. Most routes need no closure: a handler that takes the app, the
//! template's parameter, and the JSON body or the query, is given to [`Table::on`] and its
//! siblings, which build the filter the one way every such route is built.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::App;
use super::filters::{json_body, optional_json_body, query, with_app};
use super::reply::{ApiResult, finish};

/// An HTTP method the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// The name the OpenAPI document keys an operation by.
    pub fn key(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }

    fn filter(self) -> BoxedFilter<()> {
        match self {
            Method::Get => warp::get().boxed(),
            Method::Post => warp::post().boxed(),
            Method::Put => warp::put().boxed(),
            Method::Patch => warp::patch().boxed(),
            Method::Delete => warp::delete().boxed(),
        }
    }
}

/// How a group of routes is admitted and where it is mounted. The router composes the
/// groups in this order, each behind its own guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// `/health`: no token.
    Open,
    /// `/fleet/...` and the forwarding of other hosts' sessions: the guard runs inside,
    /// once a fleet route matched.
    Fleet,
    /// Inbound webhooks: authenticated by their HMAC signature, not the API token.
    Inbound,
    /// Claude Code hooks: authenticated by the session's hook secret only.
    Hooks,
    /// Everything else under the API: the token guard and the audit log.
    Guarded,
    /// The dashboard's page and assets, at the root, without a token.
    Page,
    /// Prometheus' `/metrics` at the root (guarded unless the metrics are open).
    Prometheus,
}

impl Group {
    /// Whether the group is served under `/v1` (and unversioned, as Aegis v0.3 serves it),
    /// else at the root only.
    pub fn versioned(self) -> bool {
        !matches!(self, Group::Page | Group::Prometheus)
    }
}

/// A schema of a type, produced by the generator of the direction the type travels.
pub type Describe = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// What a route is: its method, path template (relative to its mount, `{name}` for a
/// parameter) and, where JSON, the body it reads and the answer it writes.
#[derive(Debug, Clone)]
pub struct Spec {
    pub method: Method,
    pub path: &'static str,
    pub body: Option<Describe>,
    /// Whether a request may leave the body out.
    pub body_optional: bool,
    /// Each success status and the schema of its JSON answer.
    pub answers: Vec<(u16, Describe)>,
}

impl Spec {
    fn new(method: Method, path: &'static str) -> Spec {
        Spec {
            method,
            path,
            body: None,
            body_optional: false,
            answers: Vec::new(),
        }
    }

    /// The JSON body the route reads.
    pub fn body<T: JsonSchema>(mut self) -> Spec {
        self.body = Some(schema_of::<T>);
        self
    }

    /// The JSON body the route reads when the request has one.
    pub fn optional_body<T: JsonSchema>(mut self) -> Spec {
        self.body = Some(schema_of::<T>);
        self.body_optional = true;
        self
    }

    /// The JSON the route answers with `200 OK`.
    pub fn answers<T: JsonSchema>(self) -> Spec {
        self.answers_with::<T>(200)
    }

    /// The JSON the route answers with `201 Created`.
    pub fn creates<T: JsonSchema>(self) -> Spec {
        self.answers_with::<T>(201)
    }

    /// The JSON the route answers with `status` (a route may answer several: an upsert is
    /// `201 Created` or `200 OK`).
    pub fn answers_with<T: JsonSchema>(mut self, status: u16) -> Spec {
        self.answers.push((status, schema_of::<T>));
        self
    }

    /// The template's parameters, in order.
    pub fn parameters(&self) -> impl Iterator<Item = &'static str> {
        segments(self.path).filter_map(|s| match s {
            Segment::Parameter(name) => Some(name),
            Segment::Literal(_) => None,
        })
    }
}

pub fn get(path: &'static str) -> Spec {
    Spec::new(Method::Get, path)
}
pub fn post(path: &'static str) -> Spec {
    Spec::new(Method::Post, path)
}
pub fn put(path: &'static str) -> Spec {
    Spec::new(Method::Put, path)
}
pub fn patch(path: &'static str) -> Spec {
    Spec::new(Method::Patch, path)
}
pub fn delete(path: &'static str) -> Spec {
    Spec::new(Method::Delete, path)
}

enum Segment {
    Literal(&'static str),
    Parameter(&'static str),
}

/// The segments of a template: `/sessions/{id}/read` is `sessions`, `{id}`, `read`. The root
/// template `/` has none.
fn segments(path: &'static str) -> impl Iterator<Item = Segment> {
    path.split('/').filter(|s| !s.is_empty()).map(|s| {
        match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => Segment::Parameter(name),
            None => Segment::Literal(s),
        }
    })
}

/// A request whose path matched a route's template exactly, and whose method is the route's.
/// Extract it as the template's parameters: [`none`](Self::none), [`one`](Self::one),
/// [`two`](Self::two) or [`rest`](Self::rest), whichever the template has (a mismatch is a
/// programming error the first test that builds the router finds).
pub struct PathMatch {
    method: Method,
    path: &'static str,
}

impl PathMatch {
    fn of(spec: &Spec) -> PathMatch {
        PathMatch {
            method: spec.method,
            path: spec.path,
        }
    }

    /// The filter matching the template, extracting its parameters; with `rest`, the last
    /// parameter takes the rest of the path, slashes and all.
    fn matcher(&self, parameters: usize, rest: bool) -> BoxedFilter<(Vec<String>,)> {
        let all: Vec<Segment> = segments(self.path).collect();
        let found = all
            .iter()
            .filter(|s| matches!(s, Segment::Parameter(_)))
            .count();
        assert_eq!(
            found, parameters,
            "route {} has {found} parameters, its filter extracts {parameters}",
            self.path
        );
        let last_is_parameter = matches!(all.last(), Some(Segment::Parameter(_)));
        assert!(
            !rest || last_is_parameter,
            "route {} does not end in a parameter",
            self.path
        );
        let fixed = if rest {
            &all[..all.len() - 1]
        } else {
            &all[..]
        };
        let mut filter = warp::any().map(Vec::new).boxed();
        for segment in fixed {
            filter = match *segment {
                Segment::Literal(s) => filter.and(warp::path(s)).boxed(),
                Segment::Parameter(_) => filter
                    .and(warp::path::param::<String>())
                    .map(|mut found: Vec<String>, p: String| {
                        found.push(p);
                        found
                    })
                    .boxed(),
            };
        }
        let filter = if rest {
            filter
                .and(warp::path::tail())
                .map(|mut found: Vec<String>, tail: warp::path::Tail| {
                    found.push(tail.as_str().to_owned());
                    found
                })
                .boxed()
        } else {
            filter.and(warp::path::end()).boxed()
        };
        filter.and(self.method.filter()).boxed()
    }

    /// A template without parameters.
    pub fn none(self) -> BoxedFilter<()> {
        self.matcher(0, false).map(|_| ()).untuple_one().boxed()
    }

    /// A template with one parameter.
    pub fn one(self) -> BoxedFilter<(String,)> {
        self.matcher(1, false)
            .map(|found: Vec<String>| found.into_iter().next().unwrap_or_default())
            .boxed()
    }

    /// A template with two parameters.
    pub fn two(self) -> BoxedFilter<(String, String)> {
        self.matcher(2, false)
            .map(|found: Vec<String>| {
                let mut found = found.into_iter();
                let first = found.next().unwrap_or_default();
                (first, found.next().unwrap_or_default())
            })
            .untuple_one()
            .boxed()
    }

    /// A template that ends in its one parameter, which takes the rest of the path (still
    /// percent-encoded, slashes included): a memory key may hold `/`.
    pub fn rest(self) -> BoxedFilter<(String,)> {
        self.matcher(1, true)
            .map(|found: Vec<String>| found.into_iter().next().unwrap_or_default())
            .boxed()
    }
}

/// A request's query string, by name.
pub type Query = HashMap<String, String>;

/// The response of a handler's answer (an error in the API's format).
async fn answered(answer: impl Future<Output = ApiResult>) -> Response {
    finish(answer.await)
}

/// The routes of the API, in the order the router tries them, by group.
pub struct Table {
    app: Option<Arc<App>>,
    group: Group,
    specs: Vec<(Group, Spec)>,
    takeovers: Vec<(Group, Spec)>,
    filters: Vec<(Group, BoxedFilter<(Response,)>)>,
}

impl Table {
    fn new(app: Option<Arc<App>>) -> Table {
        Table {
            app,
            group: Group::Guarded,
            specs: Vec::new(),
            takeovers: Vec::new(),
            filters: Vec::new(),
        }
    }

    /// A table that builds each route's filter, to serve with `app`.
    pub fn serving(app: &Arc<App>) -> Table {
        Table::new(Some(app.clone()))
    }

    /// A table that only collects what the routes are, for the document.
    pub fn describing() -> Table {
        Table::new(None)
    }

    /// Routes added from now on belong to `group`.
    pub fn group(&mut self, group: Group) {
        self.group = group;
    }

    /// Add a route: `build` makes its filter from the path match and the app (only when
    /// serving).
    pub fn route<F, B>(&mut self, spec: Spec, build: B)
    where
        B: FnOnce(PathMatch, &Arc<App>) -> F,
        F: Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static,
    {
        self.serve(&spec, build);
        self.specs.push((self.group, spec));
    }

    /// A route without parameters answered by `handler(app)`.
    pub fn on<H, Fut>(&mut self, spec: Spec, handler: H)
    where
        H: Fn(Arc<App>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult> + Send + 'static,
    {
        self.route(spec, |p, app| {
            p.none()
                .and(with_app(app))
                .then(move |a| answered(handler(a)))
        });
    }

    /// A route with one parameter answered by `handler(app, parameter)`.
    pub fn on_one<H, Fut>(&mut self, spec: Spec, handler: H)
    where
        H: Fn(Arc<App>, String) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult> + Send + 'static,
    {
        self.route(spec, |p, app| {
            p.one()
                .and(with_app(app))
                .then(move |id, a| answered(handler(a, id)))
        });
    }

    /// A route without parameters answered by `handler(app, body)`, the JSON body required.
    pub fn on_body<H, Fut, B>(&mut self, spec: Spec, handler: H)
    where
        H: Fn(Arc<App>, B) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult> + Send + 'static,
        B: DeserializeOwned + Send + 'static,
    {
        self.route(spec, |p, app| {
            p.none()
                .and(with_app(app))
                .and(json_body(app.config.max_body_bytes))
                .then(move |a, b| answered(handler(a, b)))
        });
    }

    /// A route with one parameter answered by `handler(app, parameter, body)`, the JSON body
    /// required.
    pub fn on_one_body<H, Fut, B>(&mut self, spec: Spec, handler: H)
    where
        H: Fn(Arc<App>, String, B) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult> + Send + 'static,
        B: DeserializeOwned + Send + 'static,
    {
        self.route(spec, |p, app| {
            p.one()
                .and(with_app(app))
                .and(json_body(app.config.max_body_bytes))
                .then(move |id, a, b| answered(handler(a, id, b)))
        });
    }

    /// [`Table::on_one_body`] for a body that may be left out (or blank): it is then the
    /// body's defaults.
    pub fn on_one_optional_body<H, Fut, B>(&mut self, spec: Spec, handler: H)
    where
        H: Fn(Arc<App>, String, B) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult> + Send + 'static,
        B: DeserializeOwned + Default + Send + 'static,
    {
        self.route(spec, |p, app| {
            p.one()
                .and(with_app(app))
                .and(optional_json_body(app.config.max_body_bytes))
                .then(move |id, a, b| answered(handler(a, id, b)))
        });
    }

    /// A route without parameters answered by `handler(app, query)`.
    pub fn on_query<H, Fut>(&mut self, spec: Spec, handler: H)
    where
        H: Fn(Arc<App>, Query) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult> + Send + 'static,
    {
        self.route(spec, |p, app| {
            p.none()
                .and(with_app(app))
                .and(query())
                .then(move |a, q| answered(handler(a, q)))
        });
    }

    /// A route with one parameter answered by `handler(app, parameter, query)`.
    pub fn on_one_query<H, Fut>(&mut self, spec: Spec, handler: H)
    where
        H: Fn(Arc<App>, String, Query) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult> + Send + 'static,
    {
        self.route(spec, |p, app| {
            p.one()
                .and(with_app(app))
                .and(query())
                .then(move |id, a, q| answered(handler(a, id, q)))
        });
    }

    /// When serving, build `spec`'s filter and give it its place in the router's order.
    fn serve<F, B>(&mut self, spec: &Spec, build: B)
    where
        B: FnOnce(PathMatch, &Arc<App>) -> F,
        F: Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static,
    {
        if let Some(app) = &self.app {
            let filter = build(PathMatch::of(spec), app);
            self.filters.push((self.group, filter.boxed()));
        }
    }

    /// A filter that is no operation of its own but has its place in the router's order: one
    /// that answers for other routes (another fleet host's sessions, forwarded, or the
    /// fleet routes of a daemon without a fleet), and so is not described again.
    pub fn intercept<F, B>(&mut self, build: B)
    where
        B: FnOnce(&Arc<App>) -> F,
        F: Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static,
    {
        if let Some(app) = &self.app {
            self.filters.push((self.group, build(app).boxed()));
        }
    }

    /// A filter that answers some requests of a route declared elsewhere in the table (a
    /// worker's `DELETE /sessions/{id}` also removes its worktree), tried in its own place
    /// in the order and not described again. The document checks that the route it takes
    /// over exists.
    pub fn takeover<F, B>(&mut self, spec: Spec, build: B)
    where
        B: FnOnce(PathMatch, &Arc<App>) -> F,
        F: Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static,
    {
        self.serve(&spec, build);
        self.takeovers.push((self.group, spec));
    }

    /// The filters of `group` as one, trying them in order (`None` when it has none, or
    /// when describing).
    pub fn filter_of(&self, group: Group) -> Option<BoxedFilter<(Response,)>> {
        self.filters
            .iter()
            .filter(|(g, _)| *g == group)
            .map(|(_, f)| f.clone())
            .reduce(|a, b| a.or(b).unify().boxed())
    }

    /// Every route added, with its group.
    pub fn specs(&self) -> &[(Group, Spec)] {
        &self.specs
    }

    /// Every route taken over in part by another filter ([`Table::takeover`]).
    pub fn takeovers(&self) -> &[(Group, Spec)] {
        &self.takeovers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_literals_and_parameters() {
        let spec = get("/sessions/{id}/permissions/{requestId}");
        assert_eq!(spec.parameters().collect::<Vec<_>>(), ["id", "requestId"]);
        assert_eq!(get("/").parameters().count(), 0);
    }
}

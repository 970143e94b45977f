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
//!
//! Length: one concept, the table; its specs, the filter builders and the path matcher must
//! agree with each other, and the tests at the end check them together.

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
    /// The schema of the handler's query struct, each property a query parameter.
    pub query: Option<Describe>,
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
            query: None,
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

    /// The query parameters the route reads: `Q`'s fields, which the handler parses the
    /// query string into ([`super::filters::query`]); [`Table::on_query`] declares it itself.
    pub fn query<Q: JsonSchema>(mut self) -> Spec {
        self.query = Some(|g| Q::json_schema(g));
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

#[derive(Debug, Clone, Copy)]
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

/// Match what is left of a request path (`sessions/abc/read`: warp's unmatched path, without
/// its leading slash) against a template's segments, exactly as a chain of `warp::path`
/// (literal) and `warp::path::param::<String>` (parameter) filters ended by
/// `warp::path::end` would, or with `rest`, by `warp::path::tail` taking the last parameter:
/// a segment runs to the next `/`, a parameter is never empty and is taken as it is written
/// (still percent-encoded), one trailing slash is allowed. `None` if it does not match.
///
/// The router tries the routes in order until one matches, so a request to a route far down
/// the table fails every route before it: this costs no allocation unless it matches (a
/// chain of boxed warp filters allocated several boxed futures and a `String` per parameter
/// for each route it failed).
fn match_path(template: &[Segment], rest: bool, path: &str) -> Option<Vec<String>> {
    let mut count = 0;
    walk(template, rest, path, |_| count += 1)?;
    let mut found = Vec::with_capacity(count);
    walk(template, rest, path, |p| found.push(p.to_owned()))?;
    Some(found)
}

/// [`match_path`]'s walk: `parameter` gets each parameter's text in order (also those of a
/// path that turns out not to match).
fn walk<'p>(
    template: &[Segment],
    rest: bool,
    mut path: &'p str,
    mut parameter: impl FnMut(&'p str),
) -> Option<()> {
    let (fixed, tail) = match template.split_last() {
        Some((Segment::Parameter(_), fixed)) if rest => (fixed, true),
        _ => (template, false),
    };
    for segment in fixed {
        let seg = path.split('/').next().unwrap_or_default();
        match *segment {
            Segment::Literal(s) if s == seg => {}
            Segment::Parameter(_) if !seg.is_empty() => parameter(seg),
            _ => return None,
        }
        path = path.get(seg.len() + 1..).unwrap_or_default();
    }
    if tail {
        parameter(path);
    } else if !path.is_empty() {
        return None;
    }
    Some(())
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
    /// parameter takes the rest of the path, slashes and all. The method is checked once the
    /// path matched, so a known path with another method is answered 405, as warp does.
    fn matcher(
        &self,
        parameters: usize,
        rest: bool,
    ) -> impl Filter<Extract = (Vec<String>,), Error = Rejection> + Clone + Send + Sync + use<>
    {
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
        assert!(
            !rest || matches!(all.last(), Some(Segment::Parameter(_))),
            "route {} does not end in a parameter",
            self.path
        );
        let template: Arc<[Segment]> = all.into();
        warp::path::peek()
            .and_then(move |left: warp::path::Peek| {
                let matched = match_path(&template, rest, left.as_str());
                std::future::ready(matched.ok_or_else(warp::reject::not_found))
            })
            .and(self.method.filter())
    }

    /// A template without parameters.
    pub fn none(
        self,
    ) -> impl Filter<Extract = (), Error = Rejection> + Clone + Send + Sync + 'static {
        self.matcher(0, false).map(|_| ()).untuple_one()
    }

    /// A template with one parameter.
    pub fn one(
        self,
    ) -> impl Filter<Extract = (String,), Error = Rejection> + Clone + Send + Sync + 'static {
        self.matcher(1, false)
            .map(|found: Vec<String>| found.into_iter().next().unwrap_or_default())
    }

    /// A template with two parameters.
    pub fn two(
        self,
    ) -> impl Filter<Extract = (String, String), Error = Rejection> + Clone + Send + Sync + 'static
    {
        self.matcher(2, false)
            .map(|found: Vec<String>| {
                let mut found = found.into_iter();
                let first = found.next().unwrap_or_default();
                (first, found.next().unwrap_or_default())
            })
            .untuple_one()
    }

    /// A template that ends in its one parameter, which takes the rest of the path (still
    /// percent-encoded, slashes included): a memory key may hold `/`.
    pub fn rest(
        self,
    ) -> impl Filter<Extract = (String,), Error = Rejection> + Clone + Send + Sync + 'static {
        self.matcher(1, true)
            .map(|found: Vec<String>| found.into_iter().next().unwrap_or_default())
    }
}

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
    filters: Vec<(Group, Heads, BoxedFilter<(Response,)>)>,
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

    /// A route without parameters answered by `handler(app, query)`, the query read as `Q`.
    pub fn on_query<H, Fut, Q>(&mut self, spec: Spec, handler: H)
    where
        H: Fn(Arc<App>, Q) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult> + Send + 'static,
        Q: DeserializeOwned + JsonSchema + Send + 'static,
    {
        self.route(spec.query::<Q>(), |p, app| {
            p.none()
                .and(with_app(app))
                .and(query::<Q>())
                .then(move |a, q| answered(handler(a, q)))
        });
    }

    /// A route with one parameter answered by `handler(app, parameter, query)`, as above.
    pub fn on_one_query<H, Fut, Q>(&mut self, spec: Spec, handler: H)
    where
        H: Fn(Arc<App>, String, Q) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult> + Send + 'static,
        Q: DeserializeOwned + JsonSchema + Send + 'static,
    {
        self.route(spec.query::<Q>(), |p, app| {
            p.one()
                .and(with_app(app))
                .and(query::<Q>())
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
            self.filters
                .push((self.group, Heads::of(spec.path), filter.boxed()));
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
            self.filters
                .push((self.group, Heads::any(), build(app).boxed()));
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
        let items: Vec<_> = self
            .filters
            .iter()
            .filter(|(g, ..)| *g == group)
            .map(|(_, heads, f)| (heads.clone(), f.clone()))
            .collect();
        tree(items).map(|(_, f)| f)
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

/// The first path segments a route answers for: its template's first literal (`""` for the
/// root template `/`), or any (an interception, or a template that starts with a parameter).
#[derive(Debug, Clone)]
struct Heads {
    any: bool,
    /// Sorted, without repeats.
    literals: Vec<&'static str>,
}

impl Heads {
    fn of(path: &'static str) -> Heads {
        match segments(path).next() {
            Some(Segment::Literal(s)) => Heads {
                any: false,
                literals: vec![s],
            },
            Some(Segment::Parameter(_)) => Heads::any(),
            None => Heads {
                any: false,
                literals: vec![""],
            },
        }
    }

    fn any() -> Heads {
        Heads {
            any: true,
            literals: Vec::new(),
        }
    }

    fn union(&self, other: &Heads) -> Heads {
        let mut literals = [self.literals.as_slice(), other.literals.as_slice()].concat();
        literals.sort_unstable();
        literals.dedup();
        Heads {
            any: self.any || other.any,
            literals,
        }
    }

    /// Whether a route of these could match `path` (what is left of the request path).
    fn admit(&self, path: &str) -> bool {
        let first = path.split('/').next().unwrap_or_default();
        self.any || self.literals.binary_search(&first).is_ok()
    }
}

type RouteFilter = BoxedFilter<(Response,)>;

/// `items` as one filter that tries them in order: a balanced tree of `or`s in which a
/// subtree is entered only if the request's first path segment is one of its routes'. A
/// chain of `or`s (each a boxed filter) allocated and polled one level per route tried, so a
/// request to a route far down the table paid for every route before it; this tries the
/// routes that can match and a few guards. It is the same router: the order is kept, and a
/// subtree it skips would only have answered "not found", which warp's combined rejection
/// ignores beside any other.
fn tree(mut items: Vec<(Heads, RouteFilter)>) -> Option<(Heads, RouteFilter)> {
    if items.len() <= 1 {
        return items.pop();
    }
    let right = items.split_off(items.len() / 2);
    let (lh, lf) = tree(items)?;
    let (rh, rf) = tree(right)?;
    let heads = lh.union(&rh);
    let filter = guard(lh, lf).or(guard(rh, rf)).unify().boxed();
    Some((heads, filter))
}

/// `f`, entered only for a path one of `heads` admits.
fn guard(
    heads: Heads,
    f: RouteFilter,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + use<> {
    let heads = Arc::new(heads);
    warp::path::peek()
        .and_then(move |left: warp::path::Peek| {
            let admitted = heads.admit(left.as_str());
            std::future::ready(if admitted {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            })
        })
        .untuple_one()
        .and(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_templates_as_warp_path_filters_do() {
        let t = |p: &'static str| segments(p).collect::<Vec<_>>();
        let read = t("/sessions/{id}/read");
        assert_eq!(
            match_path(&read, false, "sessions/abc/read"),
            Some(vec!["abc".to_owned()])
        );
        // One trailing slash is the same path; parameters stay percent-encoded.
        assert_eq!(
            match_path(&read, false, "sessions/a%20b/read/"),
            Some(vec!["a%20b".to_owned()])
        );
        for other in [
            "sessions//read",
            "sessions/abc",
            "sessions/abc/read/more",
            "sessions/abc/readx",
            "session/abc/read",
            "",
        ] {
            assert_eq!(match_path(&read, false, other), None, "{other}");
        }
        assert_eq!(match_path(&t("/"), false, ""), Some(vec![]));
        assert_eq!(match_path(&t("/"), false, "x"), None);
        // The last parameter of a `rest` template takes the rest, slashes and all.
        let key = t("/memory/{key}");
        assert_eq!(
            match_path(&key, true, "memory/ns/a/b"),
            Some(vec!["ns/a/b".to_owned()])
        );
        assert_eq!(match_path(&key, false, "memory/ns/a"), None);
    }

    #[test]
    fn heads_admit_the_first_segment_of_their_templates() {
        let h = Heads::of("/sessions/{id}").union(&Heads::of("/health"));
        assert!(h.admit("sessions/x/read") && h.admit("health"));
        assert!(!h.admit("fleet/hosts") && !h.admit(""));
        assert!(Heads::of("/").admit("") && !Heads::of("/").admit("health"));
        assert!(Heads::of("/{id}").admit("anything") && Heads::any().admit(""));
    }

    #[test]
    fn templates_split_into_literals_and_parameters() {
        let spec = get("/sessions/{id}/permissions/{requestId}");
        assert_eq!(spec.parameters().collect::<Vec<_>>(), ["id", "requestId"]);
        assert_eq!(get("/").parameters().count(), 0);
    }
}

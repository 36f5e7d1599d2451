//! `/admin/v1/tenants/{tenant}/links[...]`: a tenant's identity links (SCIM id ⇄ platform
//! account): list, find by `externalId`, read, re-link to another IdP identity, drop; and
//! `/admin/v1/tenants/{tenant}/audit`: its audit log, newest first; and
//! `/admin/v1/tenants/{tenant}/drift`: how its platform differs from its links.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};

use super::tenants::tenant_scim_url;
use super::{answer, bad_request, error, no_content, page, paging, read_body, rfc3339, Ctx};
use crate::audit::Operation;
use crate::http::error::ErrorAnswer;
use crate::http::response::HttpResponse;
use crate::scim::ResourceKind;
use crate::service::import::{IdpIdentity, MatchBy, Outcome};
use crate::store::{AuditQuery, Identity};

pub(super) async fn route<B>(
    ctx: &Ctx<'_>,
    tenant: &str,
    rest: &[&str],
    method: Method,
    request: Request<B>,
) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let gateway = match ctx.state.admin.gateway(tenant).await {
        Ok(gateway) => gateway,
        Err(e) => return ErrorAnswer::from_admin(&e).admin_response(),
    };
    // Links answer at the tenant's own SCIM URL.
    let base_url = tenant_scim_url(&ctx.scim_base, tenant);
    let kind = match ctx.param("type").as_deref() {
        None | Some("User") => ResourceKind::User,
        Some("Group") => ResourceKind::Group,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("type must be User or Group, not {other}"),
            )
        }
    };
    let resources = match gateway.resources(kind) {
        Ok(r) => r,
        Err(e) => return ErrorAnswer::from_service(&e).admin_response(),
    };
    let render = |i: &Identity| link_json(i, kind, &base_url, &resources.rt.endpoint);
    let failed = |e| ErrorAnswer::from_service(&e);
    match (rest, method) {
        ([], Method::GET) => {
            if let Some(ext) = ctx.param("externalId") {
                let found = resources.links_by_external_id(&ext).await.map(|found| {
                    let total = found.len() as u64;
                    page(total, 1, "links", found.iter().map(render).collect())
                });
                return answer(found.map_err(failed), StatusCode::OK);
            }
            let (start, count) = match paging(ctx) {
                Ok(p) => p,
                Err(m) => return error(StatusCode::BAD_REQUEST, m),
            };
            let links = resources
                .links(start - 1, count)
                .await
                .map(|(links, total)| {
                    page(total, start, "links", links.iter().map(render).collect())
                });
            answer(links.map_err(failed), StatusCode::OK)
        }
        ([id], Method::GET) => answer(
            resources.link(id).await.map(|l| render(&l)).map_err(failed),
            StatusCode::OK,
        ),
        ([id], Method::PATCH) => {
            let external_id = match read_body(request).await.and_then(|b| relink_to(&b)) {
                Ok(ext) => ext,
                Err(e) => return e.admin_response(),
            };
            let relinked = resources.relink(id, external_id).await.map_err(failed);
            let success = (StatusCode::OK, String::new());
            ctx.audit(
                &gateway.tenant,
                Operation::Relink,
                kind.name(),
                id,
                &relinked,
                success,
            )
            .await;
            answer(relinked.map(|l| render(&l)), StatusCode::OK)
        }
        ([id], Method::DELETE) => {
            let unlinked = resources.unlink(id).await.map_err(failed);
            let success = (StatusCode::NO_CONTENT, String::new());
            ctx.audit(
                &gateway.tenant,
                Operation::Unlink,
                kind.name(),
                id,
                &unlinked,
                success,
            )
            .await;
            no_content(unlinked)
        }
        (["import"], Method::POST) => {
            let body = match read_body(request).await {
                Ok(body) => body,
                Err(e) => return e.admin_response(),
            };
            import(ctx, &gateway.tenant, kind, &resources, &body).await
        }
        (["import"], _) => error(StatusCode::METHOD_NOT_ALLOWED, "POST only"),
        ([], _) => error(StatusCode::METHOD_NOT_ALLOWED, "GET only"),
        ([_], _) => error(StatusCode::METHOD_NOT_ALLOWED, "GET, PATCH or DELETE"),
        _ => error(
            StatusCode::NOT_FOUND,
            format!("no admin endpoint at {}", ctx.path),
        ),
    }
}

/// `{"externalId": "new"}` (or null to clear it).
fn relink_to(body: &Value) -> Result<Option<String>, ErrorAnswer> {
    match body.get("externalId") {
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(Value::Null) => Ok(None),
        _ => Err(bad_request(
            "send {\"externalId\": \"<new id>\"} (or null to clear it)",
        )),
    }
}

fn link_json(identity: &Identity, kind: ResourceKind, base_url: &str, endpoint: &str) -> Value {
    json!({
        "id": identity.scim_id,
        "resourceType": kind.name(),
        "platformKey": identity.backend_key,
        "externalId": identity.external_id,
        "created": rfc3339(identity.created),
        "lastModified": rfc3339(identity.last_modified),
        "location": format!("{base_url}{endpoint}/{}", identity.scim_id),
    })
}

/// `GET /admin/v1/tenants/{tenant}/audit`: the tenant's audit log, filtered and paged. A
/// deleted tenant's log stays readable (it says who deleted it).
pub(super) async fn audit_log(ctx: &Ctx<'_>, tenant: &str, method: Method) -> HttpResponse {
    let known = match ctx.state.tenants.record(tenant).await {
        Ok(record) => record.is_some(),
        Err(e) => return ErrorAnswer::from_store(&e).admin_response(),
    };
    if method != Method::GET {
        return error(StatusCode::METHOD_NOT_ALLOWED, "GET only");
    }
    let time = |name: &str| -> Result<Option<time::OffsetDateTime>, String> {
        match ctx.param(name) {
            None => Ok(None),
            Some(v) => {
                time::OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339)
                    .map(Some)
                    .map_err(|e| format!("{name}: not an RFC 3339 time: {e}"))
            }
        }
    };
    let (since, until) = match (time("since"), time("until")) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(m), _) | (_, Err(m)) => return error(StatusCode::BAD_REQUEST, m),
    };
    let (start, count) = match paging(ctx) {
        Ok(p) => p,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let query = AuditQuery {
        tenant: tenant.to_owned(),
        actor: ctx.param("actor"),
        operation: ctx.param("operation"),
        target: ctx.param("target"),
        outcome: ctx.param("outcome"),
        since,
        until,
        offset: start - 1,
        limit: count,
    };
    match ctx.state.tenants.store().audit(&query).await {
        Ok((_, 0)) if !known => error(StatusCode::NOT_FOUND, format!("no tenant {tenant}")),
        Ok((entries, total)) => answer(
            Ok(json!({"total": total, "startIndex": start, "entries": entries})),
            StatusCode::OK,
        ),
        Err(e) => ErrorAnswer::from_store(&e).admin_response(),
    }
}

/// `GET /admin/v1/tenants/{tenant}/drift[?type=User|Group]`: every type the tenant's mapping
/// serves, or the one asked (`crate::service::drift`).
pub(super) async fn drift(ctx: &Ctx<'_>, tenant: &str, method: Method) -> HttpResponse {
    if method != Method::GET {
        return error(StatusCode::METHOD_NOT_ALLOWED, "GET only");
    }
    let gateway = match ctx.state.admin.gateway(tenant).await {
        Ok(gateway) => gateway,
        Err(e) => return ErrorAnswer::from_admin(&e).admin_response(),
    };
    let kinds = match ctx.param("type").as_deref() {
        None => gateway.kinds(),
        Some("User") => vec![ResourceKind::User],
        Some("Group") => vec![ResourceKind::Group],
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("type must be User or Group, not {other}"),
            )
        }
    };
    let mut reports = Vec::new();
    for kind in kinds {
        let report = match gateway.resources(kind) {
            Ok(resources) => resources.drift().await,
            Err(e) => Err(e),
        };
        match report {
            Ok(report) => reports.push(report),
            Err(e) => return ErrorAnswer::from_service(&e).admin_response(),
        }
    }
    let drifted = reports.iter().any(|r| !r.is_empty());
    answer(
        Ok(json!({"tenant": tenant, "drift": drifted, "resourceTypes": reports})),
        StatusCode::OK,
    )
}

/// What `POST .../links/import` asks: the IdP's identities and how to match them, or the
/// platform's list alone.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ImportRequest {
    #[serde(rename = "match")]
    match_by: Option<MatchBy>,
    #[serde(default)]
    identities: Option<Vec<IdpIdentity>>,
    #[serde(default)]
    from_platform: bool,
    #[serde(default)]
    dry_run: bool,
}

/// The most identities one request may carry (the CLI sends an export in batches).
const IMPORT_BATCH: usize = 1000;

/// `POST /admin/v1/tenants/{tenant}/links/import` (`crate::service::import`): each link made
/// is in the audit log as a relink of its id.
async fn import(
    ctx: &Ctx<'_>,
    tenant: &str,
    kind: ResourceKind,
    resources: &crate::service::Resources<'_>,
    body: &Value,
) -> HttpResponse {
    let asked: ImportRequest = match serde_json::from_value(body.clone()) {
        Ok(asked) => asked,
        Err(e) => {
            return bad_request(format!(
                "send {{\"match\": \"email\" or \"userName\", \"identities\": [{{\"userName\", \"email\", \"externalId\"}}], \"dryRun\": false}} or {{\"fromPlatform\": true}}: {e}"
            ))
            .admin_response()
        }
    };
    let results = match (asked.identities, asked.from_platform, asked.match_by) {
        (Some(identities), false, Some(by)) => {
            if identities.len() > IMPORT_BATCH {
                return bad_request(format!(
                    "at most {IMPORT_BATCH} identities a request; send the rest in another"
                ))
                .admin_response();
            }
            resources.import(&identities, by, asked.dry_run).await
        }
        (None, true, None) => resources.import_platform(asked.dry_run).await,
        _ => {
            return bad_request(
                "either identities with match (email or userName), or fromPlatform: true",
            )
            .admin_response()
        }
    };
    let results = match results {
        Ok(results) => results,
        Err(e) => return ErrorAnswer::from_service(&e).admin_response(),
    };
    let mut summary = serde_json::Map::new();
    for result in &results {
        let name = serde_json::to_value(result.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let count = summary.entry(name).or_insert(json!(0));
        *count = json!(count.as_u64().unwrap_or_default() + 1);
        if let (Outcome::Linked, Some(id)) = (result.outcome, &result.id) {
            let done: Result<(), ErrorAnswer> = Ok(());
            ctx.audit(
                tenant,
                Operation::Relink,
                kind.name(),
                id,
                &done,
                (StatusCode::OK, format!("imported: {}", result.matched_on)),
            )
            .await;
        }
    }
    answer(
        Ok(json!({"dryRun": asked.dry_run, "summary": summary, "results": results})),
        StatusCode::OK,
    )
}

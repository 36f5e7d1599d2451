//! `GET /admin/v1/tenants/{tenant}/requests`: the tenant's request log, newest first
//! (`crate::requestlog`), filtered by time (`since`/`until`: RFC 3339, or `since` as an age
//! such as `15m`), status (`401`, `4xx`, `500-504`), method and request id.

use http::{Method, StatusCode};
use serde_json::json;
use time::OffsetDateTime;

use super::{answer, error, paging, Ctx};
use crate::http::error::ErrorAnswer;
use crate::http::response::HttpResponse;
use crate::store::RequestQuery;

pub(super) async fn request_log(ctx: &Ctx<'_>, tenant: &str, method: Method) -> HttpResponse {
    if method != Method::GET {
        return error(StatusCode::METHOD_NOT_ALLOWED, "GET only");
    }
    match ctx.state.tenants.record(tenant).await {
        Ok(Some(_)) => {}
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no tenant {tenant}")),
        Err(e) => return ErrorAnswer::from_store(&e).admin_response(),
    }
    let now = ctx.state.tenants.clock().now();
    let query = match query(ctx, tenant, now) {
        Ok(query) => query,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let start = query.offset + 1;
    match ctx.state.tenants.store().requests(&query).await {
        Ok((entries, total)) => answer(
            Ok(json!({
                "total": total,
                "startIndex": start,
                "logging": ctx.state.request_log.is_some(),
                "entries": entries,
            })),
            StatusCode::OK,
        ),
        Err(e) => ErrorAnswer::from_store(&e).admin_response(),
    }
}

fn query(ctx: &Ctx<'_>, tenant: &str, now: OffsetDateTime) -> Result<RequestQuery, String> {
    let (start, count) = paging(ctx)?;
    let since = ctx
        .param("since")
        .map(|v| time_or_age("since", &v, now))
        .transpose()?;
    let until = ctx
        .param("until")
        .map(|v| time_or_age("until", &v, now))
        .transpose()?;
    let status = ctx.param("status").map(|v| status_range(&v)).transpose()?;
    Ok(RequestQuery {
        tenant: tenant.to_owned(),
        since,
        until,
        status,
        method: ctx.param("method").map(|m| m.to_ascii_uppercase()),
        request_id: ctx.param("requestId"),
        offset: start - 1,
        limit: count,
    })
}

/// An RFC 3339 time, or an age before `now`: a whole number and `s`, `m`, `h` or `d`.
pub fn time_or_age(name: &str, value: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    if let Ok(t) = OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339) {
        return Ok(t);
    }
    let unit = value.chars().last().unwrap_or('?');
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => 0,
    };
    let amount = value
        .get(..value.len().saturating_sub(1))
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n >= 0 && seconds > 0);
    match amount.and_then(|n| now.checked_sub(time::Duration::seconds(n.saturating_mul(seconds)))) {
        Some(t) => Ok(t),
        None => Err(format!(
            "{name}: `{value}` is neither an RFC 3339 time nor an age such as 30s, 15m, 2h or 1d"
        )),
    }
}

/// `401` → 401..=401, `4xx` → 400..=499, `500-504` → 500..=504.
pub fn status_range(value: &str) -> Result<(u16, u16), String> {
    let bad =
        || format!("status: `{value}` is not a status (401), a class (4xx) or a range (500-504)");
    let code = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|c| (100..=599).contains(c))
    };
    let lower = value.to_ascii_lowercase();
    if let Some(class) = lower.strip_suffix("xx") {
        let digit = class
            .parse::<u16>()
            .ok()
            .filter(|d| (1..=5).contains(d))
            .ok_or_else(bad)?;
        return Ok((digit * 100, digit * 100 + 99));
    }
    if let Some((low, high)) = lower.split_once('-') {
        return match (code(low), code(high)) {
            (Some(low), Some(high)) if low <= high => Ok((low, high)),
            _ => Err(bad()),
        };
    }
    code(&lower).map(|c| (c, c)).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classes_and_ranges() {
        assert_eq!(status_range("401"), Ok((401, 401)));
        assert_eq!(status_range("4xx"), Ok((400, 499)));
        assert_eq!(status_range("500-504"), Ok((500, 504)));
        for bad in ["", "4x", "9xx", "600", "504-500", "abc"] {
            assert!(status_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_and_ages() {
        let now = OffsetDateTime::parse(
            "2026-12-04T12:00:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(
            time_or_age("since", "15m", now).unwrap(),
            now - time::Duration::minutes(15)
        );
        assert_eq!(
            time_or_age("since", "1d", now).unwrap(),
            now - time::Duration::days(1)
        );
        assert_eq!(
            time_or_age("since", "2026-12-04T11:00:00Z", now).unwrap(),
            now - time::Duration::hours(1)
        );
        for bad in [
            "",
            "m",
            "-5m",
            "5w",
            "yesterday",
            "10000000d",
            "99999999999999999d",
        ] {
            assert!(time_or_age("since", bad, now).is_err(), "{bad}");
        }
    }
}

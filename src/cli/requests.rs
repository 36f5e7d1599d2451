//! `scimgate requests --tenant T`: a tenant's request log from a running gateway's admin API
//! (`GET /admin/v1/tenants/{t}/requests`): each SCIM request with the platform calls it made,
//! oldest first, as lines a person reads, or the API's JSON.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::Value;

use super::admin::AdminArgs;
use super::at;

/// What to read of the log.
#[derive(clap::Args)]
pub struct RequestFilter {
    /// Only requests at or after this: an RFC 3339 time or an age (30s, 15m, 2h, 1d).
    #[arg(long)]
    pub since: Option<String>,
    /// Only requests before this: an RFC 3339 time or an age.
    #[arg(long)]
    pub until: Option<String>,
    /// Only these statuses: 401, a class (4xx) or a range (500-504).
    #[arg(long)]
    pub status: Option<String>,
    /// Only this method (GET, POST, PUT, PATCH, DELETE).
    #[arg(long)]
    pub method: Option<String>,
    /// Only the request with this x-request-id.
    #[arg(long)]
    pub request_id: Option<String>,
    /// The newest this many (at most 1000).
    #[arg(long, default_value_t = 100)]
    pub count: u64,
    /// Print each request's and answer's body (masked) too.
    #[arg(long)]
    pub bodies: bool,
    /// The API's JSON instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Reads the log and prints it; 1 when the API refused.
pub async fn requests(admin: &AdminArgs, filter: RequestFilter) -> anyhow::Result<ExitCode> {
    let mut query: Vec<(&str, String)> = vec![("count", filter.count.to_string())];
    for (name, value) in [
        ("since", &filter.since),
        ("until", &filter.until),
        ("status", &filter.status),
        ("method", &filter.method),
        ("requestId", &filter.request_id),
    ] {
        if let Some(v) = value {
            query.push((name, v.clone()));
        }
    }
    let request = reqwest::Client::new()
        .get(admin.url("/requests"))
        .query(&query);
    let (status, body) = admin.server.answer(request).await?;
    if !status.is_success() {
        eprintln!("admin API answered {status}: {body}");
        return Ok(ExitCode::FAILURE);
    }
    if filter.json {
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        print!("{}", lines(&body, filter.bodies));
    }
    Ok(ExitCode::SUCCESS)
}

/// The page as lines: each request, then its platform calls indented, oldest first.
fn lines(page: &Value, bodies: bool) -> String {
    let mut out = String::new();
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let entries = at(page, "entries").as_array().cloned().unwrap_or_default();
    if at(page, "logging") == &Value::Bool(false) {
        let _ = writeln!(
            out,
            "(this gateway does not log requests: request_log.enabled is false)"
        );
    }
    for entry in entries.iter().rev() {
        let _ = writeln!(
            out,
            "{}  {}  {:<6} {}  {:.1} ms  token {}  request {}",
            text(at(entry, "at")),
            at(entry, "status"),
            text(at(entry, "method")),
            text(at(entry, "path")),
            at(entry, "durationMs").as_f64().unwrap_or_default(),
            text(at(entry, "token")),
            text(at(entry, "requestId")),
        );
        for call in at(entry, "calls").as_array().into_iter().flatten() {
            let outcome = match at(call, "status") {
                Value::Null => text(at(call, "error")),
                status => status.to_string(),
            };
            let _ = writeln!(
                out,
                "    -> {} {} {}  {:.1} ms",
                text(at(call, "method")),
                text(at(call, "path")),
                outcome,
                at(call, "durationMs").as_f64().unwrap_or_default(),
            );
        }
        if bodies {
            for (name, key) in [("request", "requestBody"), ("answer", "responseBody")] {
                let body = text(at(entry, key));
                if body.is_empty() {
                    continue;
                }
                // Pretty when it is whole JSON; as kept when cut or not JSON.
                let shown = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|v| serde_json::to_string_pretty(&v).ok())
                    .unwrap_or(body);
                let _ = writeln!(out, "    {name}:");
                for line in shown.lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
    }
    let total = at(page, "total").as_u64().unwrap_or_default();
    let _ = writeln!(
        out,
        "{} of {} matching requests shown",
        entries.len(),
        total
    );
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn entries_print_oldest_first_with_their_calls_and_bodies() {
        let page = json!({"total": 3, "logging": true, "entries": [
            {"at": "t2", "status": 401, "method": "GET", "path": "/scim/v2/Users", "durationMs": 0.4,
             "token": "managed:abc", "requestId": "r2", "calls": [], "requestBody": "", "responseBody": "{\"status\":\"401\"}"},
            {"at": "t1", "status": 201, "method": "POST", "path": "/scim/v2/Users", "durationMs": 12.5,
             "token": "okta", "requestId": "r1", "requestBody": "{\"password\":\"***\"}", "responseBody": "",
             "calls": [{"method": "POST", "path": "/api/v2/users", "status": 201, "durationMs": 8.0},
                       {"method": "GET", "path": "/api/v2/users/1", "error": "timeout", "durationMs": 5000.0}]}
        ]});
        let out = super::lines(&page, true);
        let first = out.find("POST   /scim/v2/Users").unwrap();
        let second = out.find("GET    /scim/v2/Users").unwrap();
        assert!(first < second, "{out}");
        assert!(out.contains("-> POST /api/v2/users 201  8.0 ms"), "{out}");
        assert!(out.contains("-> GET /api/v2/users/1 timeout"), "{out}");
        assert!(out.contains("token managed:abc"), "{out}");
        assert!(out.contains("\"password\": \"***\""), "{out}");
        assert!(out.contains("2 of 3 matching requests shown"), "{out}");
    }
}

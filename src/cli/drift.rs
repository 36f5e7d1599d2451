//! `scimgate drift --tenant T`: the drift report of a running gateway's admin API
//! (`GET /admin/v1/tenants/{t}/drift`), as a table or as the API's JSON.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::Value;

use super::admin::AdminArgs;
use super::at;

/// Asks for the report and prints it; exit 0 whether or not anything drifted (the report
/// says), 1 when the API refused.
pub async fn drift(
    admin: &AdminArgs,
    resource_type: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut request = reqwest::Client::new().get(admin.url("/drift"));
    if let Some(t) = resource_type {
        request = request.query(&[("type", t)]);
    }
    let (status, body) = admin.server.answer(request).await?;
    if !status.is_success() {
        eprintln!("admin API answered {status}: {body}");
        return Ok(ExitCode::FAILURE);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        print!("{}", table(&body));
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as lines a person reads: one section per resource type and kind of drift.
fn table(report: &Value) -> String {
    let mut out = String::new();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    };
    for rt in at(report, "resourceTypes").as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "{}: {} on the platform, {} links",
            text(at(rt, "resourceType")),
            at(rt, "platformObjects"),
            at(rt, "links")
        );
        let rows = |name: &str| rt[name].as_array().cloned().unwrap_or_default();
        let mut clean = true;
        for item in rows("unmanaged") {
            clean = false;
            let _ = writeln!(
                out,
                "  unmanaged   key {:<24} {}{}",
                text(at(&item, "key")),
                text(at(&item, "name")),
                at(&item, "id")
                    .as_str()
                    .map(|id| format!(" (linked on sight as {id})"))
                    .unwrap_or_default()
            );
        }
        for (kind, why) in [
            ("gone", "the account is no longer on the platform"),
            ("replaced", "another account holds the key now"),
        ] {
            for item in rows(kind) {
                clean = false;
                let _ = writeln!(
                    out,
                    "  {kind:<11} id {} key {} {}: {why}",
                    text(at(&item, "id")),
                    text(at(&item, "key")),
                    text(at(&item, "name"))
                );
            }
        }
        for item in rows("changed") {
            clean = false;
            for change in at(&item, "attributes").as_array().into_iter().flatten() {
                let _ = writeln!(
                    out,
                    "  changed     id {} key {} {}: {} → {}",
                    text(at(&item, "id")),
                    text(at(&item, "key")),
                    text(at(change, "name")),
                    text(at(change, "written")),
                    text(at(change, "now"))
                );
            }
        }
        for item in rows("membership") {
            clean = false;
            let _ = writeln!(
                out,
                "  membership  id {} key {}: {} members now, {} after the gateway's last write",
                text(at(&item, "id")),
                text(at(&item, "key")),
                at(&item, "membersNow"),
                at(&item, "membersWritten")
            );
        }
        if *at(rt, "membershipCompared") == Value::Bool(false) {
            let _ = writeln!(
                out,
                "  (membership of some groups not compared: the mapping lists members by a call \
                 of their own, or they were last written before membership marks)"
            );
        }
        if clean {
            let _ = writeln!(out, "  no drift");
        }
    }
    out
}

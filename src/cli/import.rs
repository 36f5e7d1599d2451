//! `scimgate links import --tenant T`: links the accounts a platform had before SCIM to the
//! IdP's identities, through a running gateway's admin API (`POST .../links/import`,
//! `crate::service::import`). The identities come from a CSV the IdP exports (`--csv`), sent
//! in batches; without one, every platform account not yet linked gets a SCIM id. A progress
//! bar on a terminal, a plain line per batch otherwise; a report of what was matched, what was
//! ambiguous and what was not matched. The gateway links nothing twice, so an interrupted
//! import is simply run again.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{json, Value};

use super::admin::AdminArgs;
use super::at;

/// What `links import` was asked.
pub struct ImportArgs {
    /// The IdP's export; `None`: the platform's list alone.
    pub csv: Option<PathBuf>,
    /// `email` or `userName`.
    pub match_by: String,
    /// Link nothing; say what would be.
    pub dry_run: bool,
    /// Identities per request.
    pub batch: usize,
}

/// The column names IdP exports use for each field (compared without case, `_`, `.` or spaces).
const USER_NAME: &[&str] = &["username", "login", "userprincipalname", "upn"];
const EMAIL: &[&str] = &["email", "mail", "primaryemail", "emails", "emailaddress"];
const EXTERNAL_ID: &[&str] = &["externalid", "id", "objectid", "userid", "immutableid"];

fn normalise(header: &str) -> String {
    header
        .trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, '_' | '.' | ' ' | '-'))
        .collect::<String>()
        .to_lowercase()
}

/// The identities of a CSV export, one per row (`userName`, `email`, `externalId`).
fn read_csv(path: &Path) -> anyhow::Result<Vec<Value>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let headers: Vec<String> = reader
        .headers()
        .with_context(|| format!("{}: no header row", path.display()))?
        .iter()
        .map(normalise)
        .collect();
    let column = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let (user_name, email, external_id) = (column(USER_NAME), column(EMAIL), column(EXTERNAL_ID));
    anyhow::ensure!(
        user_name.is_some() || email.is_some(),
        "{}: no userName or email column (headers: {})",
        path.display(),
        headers.join(", ")
    );
    let mut out = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}: row {}", path.display(), line + 2))?;
        let field = |index: Option<usize>| {
            index
                .and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        out.push(json!({
            "userName": field(user_name),
            "email": field(email),
            "externalId": field(external_id),
        }));
    }
    Ok(out)
}

/// Runs the import and prints its report; exit 1 when the API refused a batch.
pub async fn import(admin: &AdminArgs, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let url = admin.url("/links/import");
    let http = reqwest::Client::new();
    let batches: Vec<Value> = match &args.csv {
        Some(path) => {
            let identities = read_csv(path)?;
            identities
                .chunks(args.batch.max(1))
                .map(|chunk| {
                    json!({"match": args.match_by, "identities": chunk, "dryRun": args.dry_run})
                })
                .collect()
        }
        None => vec![json!({"fromPlatform": true, "dryRun": args.dry_run})],
    };
    let total: u64 = batches
        .iter()
        .map(|b| at(b, "identities").as_array().map_or(0, |a| a.len() as u64))
        .sum();
    let bar = (std::io::stderr().is_terminal() && total > 0).then(|| {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} identities  {msg}")
        {
            bar.set_style(style);
        }
        bar
    });
    let mut results: Vec<Value> = Vec::new();
    let mut done = 0u64;
    for batch in &batches {
        let (status, body) = admin.server.answer(http.post(&url).json(batch)).await?;
        if !status.is_success() {
            if let Some(bar) = &bar {
                bar.abandon();
            }
            eprintln!("admin API answered {status}: {body}");
            eprintln!("what was linked stays linked; run the same import again to go on");
            return Ok(ExitCode::FAILURE);
        }
        let batch_results = at(&body, "results").as_array().cloned().unwrap_or_default();
        done += batch_results.len() as u64;
        results.extend(batch_results);
        let counts = summary(&results);
        match &bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(counts);
            }
            None => eprintln!("{done}/{total} identities: {counts}"),
        }
    }
    if let Some(bar) = &bar {
        bar.finish();
    }
    println!(
        "{}{}",
        if args.dry_run { "dry run: " } else { "" },
        summary(&results)
    );
    for result in &results {
        let outcome = at(result, "outcome").as_str().unwrap_or_default();
        if matches!(outcome, "ambiguous" | "unmatched" | "conflict") {
            println!(
                "  {outcome:<10} {}  ({} candidates){}",
                at(result, "matchedOn").as_str().unwrap_or_default(),
                at(result, "candidates"),
                at(result, "detail")
                    .as_str()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `linked 3, alreadyLinked 1, ...` in a fixed order.
fn summary(results: &[Value]) -> String {
    let order = [
        "linked",
        "wouldLink",
        "alreadyLinked",
        "ambiguous",
        "unmatched",
        "conflict",
    ];
    order
        .iter()
        .map(|name| {
            let n = results
                .iter()
                .filter(|r| at(r, "outcome").as_str() == Some(name))
                .count();
            format!("{name} {n}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okta_and_entra_exports_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let okta = dir.path().join("okta.csv");
        std::fs::write(
            &okta,
            "\u{feff}Username,First name,Primary email,id\nann@example.com,Ann,ann@example.com,00u1\n\"ben, jr@example.com\",Ben,,00u2\n",
        )
        .unwrap();
        let rows = read_csv(&okta).unwrap();
        assert_eq!(
            rows,
            vec![
                json!({"userName": "ann@example.com", "email": "ann@example.com", "externalId": "00u1"}),
                json!({"userName": "ben, jr@example.com", "email": null, "externalId": "00u2"}),
            ]
        );
        let entra = dir.path().join("entra.csv");
        std::fs::write(
            &entra,
            "userPrincipalName,displayName,mail,objectId\r\ncat@corp.example,Cat,cat@example.com,9f1c\r\n",
        )
        .unwrap();
        assert_eq!(
            read_csv(&entra).unwrap(),
            vec![
                json!({"userName": "cat@corp.example", "email": "cat@example.com", "externalId": "9f1c"})
            ]
        );
        let none = dir.path().join("none.csv");
        std::fs::write(&none, "given,family\nAnn,Smith\n").unwrap();
        assert!(read_csv(&none)
            .unwrap_err()
            .to_string()
            .contains("no userName or email column"));
    }
}

//! `scimgate explain` on the command line: its arguments, read into an
//! [`ExplainRequest`](scimgate::explain::ExplainRequest), and the explanation printed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::registry;

/// `scimgate explain`'s arguments besides the config file.
#[derive(clap::Args)]
pub struct ExplainArgs {
    /// The tenant whose backend answers (another than `default` is looked up in the
    /// config's store).
    #[arg(long, default_value = "default")]
    tenant: String,
    /// The platform's answer to reading the object the request is about (a JSON file, as
    /// the platform's own get call returns it; `-` for stdin).
    #[arg(long, value_name = "FILE")]
    object: Option<PathBuf>,
    /// Another read explain may answer: a platform path (no query) and the JSON file it
    /// answers with (a group's member list, say; repeatable).
    #[arg(long = "read", value_name = "PATH=FILE")]
    reads: Vec<String>,
    /// A group member's platform user key, for member ids in the request (repeatable).
    #[arg(long = "member", value_name = "SCIM_ID=KEY")]
    members: Vec<String>,
    /// Take the resource's identity link (what the IdP last wrote) from the config's store
    /// instead of making it up from --object.
    #[arg(long)]
    link_from_store: bool,
    /// The request body: inline JSON, a JSON file, or `-` for stdin.
    #[arg(long, value_name = "JSON|FILE")]
    body: Option<String>,
    /// GET, POST, PUT, PATCH or DELETE.
    method: String,
    /// The path under the tenant's SCIM base URL, with any query: /Users/<id>,
    /// '/Users?filter=userName eq "bob"'.
    path: String,
}

/// JSON from a file, or stdin for `-`.
pub fn read_json_file(path: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let text = if path == std::path::Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading stdin")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

pub async fn explain(config: PathBuf, args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let method: http::Method = args
        .method
        .to_ascii_uppercase()
        .parse()
        .with_context(|| format!("`{}` is not an HTTP method", args.method))?;
    anyhow::ensure!(
        args.path.starts_with('/'),
        "the path starts with / (/Users/<id>), under the SCIM base URL"
    );
    let body = match args.body.as_deref() {
        None => None,
        Some(text) if text.trim_start().starts_with(['{', '[']) => {
            Some(serde_json::from_str(text).context("--body is not JSON")?)
        }
        Some(file) => Some(read_json_file(std::path::Path::new(file))?),
    };
    let object = args.object.as_deref().map(read_json_file).transpose()?;
    let members = args
        .members
        .iter()
        .map(|m| {
            m.split_once('=')
                .map(|(id, key)| (id.to_owned(), key.to_owned()))
                .with_context(|| format!("--member {m}: give SCIM_ID=KEY"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let reads = args
        .reads
        .iter()
        .map(|r| {
            let (path, file) = r
                .split_once('=')
                .with_context(|| format!("--read {r}: give PATH=FILE"))?;
            Ok((path.to_owned(), read_json_file(std::path::Path::new(file))?))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let request = scimgate::explain::ExplainRequest {
        method,
        path: args.path,
        body,
        tenant: args.tenant,
        object,
        reads,
        members,
        link_from_store: args.link_from_store,
    };
    match scimgate::explain::explain(&config, registry()?, request).await {
        Ok(explanation) => {
            use std::io::Write;
            // A reader that stops early (`| head`) is no error.
            let _ = write!(std::io::stdout().lock(), "{explanation}");
            Ok(ExitCode::SUCCESS)
        }
        Err(scimgate::explain::ExplainError::Config(problems)) => {
            for p in &problems.0 {
                eprintln!("{p}");
            }
            eprintln!("{} problem(s) found", problems.0.len());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

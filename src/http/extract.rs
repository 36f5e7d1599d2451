//! Typed pieces of a request, read once at the edge: the query (RFC 7644 §3.4.2 parameters,
//! projection §3.9), the preconditions (`If-Match`, `If-None-Match`, §3.14), the SCIM base URL
//! the IdP sees (for `meta.location`), and a JSON body of a JSON media type within the body
//! limit (415 and 413 otherwise).

use bytes::Bytes;
use http::{header, HeaderMap, Request, StatusCode, Uri};
use http_body_util::BodyExt;
use serde_json::Value;

use super::error::ErrorAnswer;
use super::HttpState;
use crate::scim::{EntityTags, Preconditions, ScimError, ScimType};

/// The body limit the body-limit layer set on a request, and what a larger body is answered.
#[derive(Debug, Clone)]
pub struct BodyLimit {
    /// The most bytes read.
    pub bytes: usize,
    /// The 413's detail.
    pub message: String,
}

/// The URL query as (name, value) pairs, percent-decoded.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the query has a `filter` (in any case).
pub fn has_filter(query: &[(String, String)]) -> bool {
    query.iter().any(|(k, _)| k.eq_ignore_ascii_case("filter"))
}

/// `If-Match` and `If-None-Match`.
pub fn preconditions(headers: &HeaderMap) -> Preconditions {
    let tags = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(EntityTags::parse)
    };
    Preconditions {
        if_match: tags(header::IF_MATCH),
        if_none_match: tags(header::IF_NONE_MATCH),
    }
}

/// `https://host/scim/v2` as the IdP sees it: the configured public URL, else the request's
/// `Host` (and `X-Forwarded-Proto`).
pub fn base_url(state: &HttpState, headers: &HeaderMap, uri: &Uri) -> String {
    format!("{}{}", origin_url(state, headers, uri), state.base_path)
}

/// `https://host` as the IdP sees it: the configured public URL, else the request's `Host`
/// (and `X-Forwarded-Proto`, unless TLS ends here: then `https`).
pub fn origin_url(state: &HttpState, headers: &HeaderMap, uri: &Uri) -> String {
    if let Some(public) = &state.public_url {
        return public.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    // TLS ends here: the IdP speaks HTTPS to this very process, whatever a header says.
    let scheme = if state.tls.is_some() {
        "https"
    } else {
        headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .filter(|p| *p == "https" || *p == "http")
            .unwrap_or("http")
    };
    format!("{scheme}://{host}")
}

/// Reads a JSON body of a JSON media type (415 otherwise) within the body limit the layer set
/// (413 beyond it, declared or sent).
pub async fn json_body<B>(request: Request<B>) -> Result<Value, ErrorAnswer>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if let Some(ct) = request.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !(essence == "application/scim+json"
            || essence == "application/json"
            || essence.ends_with("+json"))
        {
            return Err(ErrorAnswer::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("send application/scim+json, not `{essence}`"),
            ));
        }
    }
    let bytes = body_bytes(request).await?;
    crate::scim::json::parse_body(&bytes).map_err(|e| {
        ErrorAnswer::from_scim(&ScimError::bad_request(
            ScimType::InvalidSyntax,
            format!("the request body is not valid JSON: {e}"),
        ))
    })
}

/// Reads a request body within the body limit the layer set (413 beyond it, declared or
/// sent).
pub async fn body_bytes<B>(request: Request<B>) -> Result<Bytes, ErrorAnswer>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limit = request.extensions().get::<BodyLimit>().cloned();
    let note = request
        .extensions()
        .get::<super::requestlog::RequestNote>()
        .cloned();
    let too_large = |limit: Option<BodyLimit>| {
        let message =
            limit.map_or_else(|| "the request body is too large".to_owned(), |l| l.message);
        ErrorAnswer::from_scim(&ScimError::too_large(message))
    };
    // A declared length beyond the limit is refused before anything is read.
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let (Some(declared), Some(limit)) = (declared, &limit) {
        if declared > limit.bytes as u64 {
            return Err(too_large(Some(limit.clone())));
        }
    }
    let bytes = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            let e: Box<dyn std::error::Error + Send + Sync> = e.into();
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                let message =
                    limit.map_or_else(|| "the request body is too large".to_owned(), |l| l.message);
                return Err(ErrorAnswer::from_scim(&ScimError::too_large(message)));
            }
            return Err(ErrorAnswer::from_scim(&ScimError::bad_request(
                ScimType::InvalidSyntax,
                "the request body could not be read",
            )));
        }
    };
    if let Some(note) = note {
        note.body(&bytes);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, Limited};

    fn request(content_type: &str, body: &'static str) -> Request<Full<Bytes>> {
        Request::builder()
            .header(header::CONTENT_TYPE, content_type)
            .header(header::IF_MATCH, "W/\"a\", W/\"b\"")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    }

    #[tokio::test]
    async fn bodies_are_json_of_a_json_type_within_the_limit() {
        let ok = json_body(request(
            "application/scim+json; charset=utf-8",
            "{\"a\": 1}",
        ))
        .await
        .unwrap();
        assert_eq!(ok["a"], 1);
        let wrong_type = json_body(request("text/plain", "{}")).await.unwrap_err();
        assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let not_json = json_body(request("application/json", "{"))
            .await
            .unwrap_err();
        assert_eq!(not_json.scim_type, Some(ScimType::InvalidSyntax));
        let mut large = request("application/json", "{\"a\": \"0123456789\"}")
            .map(|body| Limited::new(body, 8));
        large.extensions_mut().insert(BodyLimit {
            bytes: 8,
            message: "larger than 8 bytes".to_owned(),
        });
        let mut declared = request("application/json", "{}");
        declared
            .headers_mut()
            .insert(header::CONTENT_LENGTH, http::HeaderValue::from_static("9"));
        declared.extensions_mut().insert(BodyLimit {
            bytes: 8,
            message: "declared too large".to_owned(),
        });
        let refused = json_body(declared).await.unwrap_err();
        assert_eq!(refused.detail, "declared too large");
        let too_large = json_body(large).await.unwrap_err();
        assert_eq!(
            (too_large.status, too_large.detail.as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, "larger than 8 bytes")
        );
    }

    #[test]
    fn preconditions_and_queries_parse() {
        let pre = preconditions(request("application/json", "").headers());
        assert!(pre.if_match.is_some_and(|tags| tags.names("W/\"b\"")));
        assert!(pre.if_none_match.is_none());
        let pairs = query_pairs(Some("filter=userName%20eq%20%22a%22&count=2"));
        assert_eq!(pairs[0].1, "userName eq \"a\"");
        assert!(has_filter(&pairs));
    }
}

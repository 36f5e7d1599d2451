//! Pagination of the GitLab emulator. Offset pagination (Kaminari + GitLab's
//! `OffsetHeaderBuilder`): `page`/`per_page`, the `X-*` headers and a `Link` header with
//! prev/next/first/last, totals omitted past 10,000 rows. Keyset pagination: only a
//! `Link rel="next"` carrying the cursor, absent on the last page.

use super::params::Check;
use super::routes::Ctx;
use super::state::State;

/// Default `per_page`.
pub(super) const DEFAULT_PER_PAGE: usize = 20;
/// Kaminari's `max_per_page`.
pub(super) const MAX_PER_PAGE: usize = 100;
/// Above this many rows GitLab stops counting (no `X-Total`, `X-Total-Pages`, `rel="last"`).
const COUNT_LIMIT: usize = 10_000;

/// Requested page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Paging {
    pub page: usize,
    pub per_page: usize,
}

/// Reads `page` and `per_page` (non-positive values fall back to the defaults, `per_page`
/// is capped at 100).
pub(super) fn paging(c: &mut Check<'_>) -> Paging {
    let page = c
        .integer("page")
        .filter(|p| *p >= 1)
        .and_then(|p| usize::try_from(p).ok())
        .unwrap_or(1);
    let per_page = c
        .integer("per_page")
        .filter(|p| *p >= 1)
        .and_then(|p| usize::try_from(p).ok())
        .map_or(DEFAULT_PER_PAGE, |p| p.min(MAX_PER_PAGE));
    Paging { page, per_page }
}

/// The request URL that pagination links are built from.
pub(super) struct LinkBase {
    url: String,
    query: Vec<(String, String)>,
}

impl LinkBase {
    pub(super) fn new(st: &State, ctx: &Ctx<'_>) -> Self {
        LinkBase {
            url: format!("{}{}", st.external_url, ctx.path),
            query: ctx.query.to_vec(),
        }
    }

    /// The URL with `set` replacing (and `drop` removing) query keys; pairs sorted like
    /// Rails' `to_query`.
    fn href(&self, set: &[(&str, String)], drop: &[&str]) -> String {
        let mut pairs: Vec<String> = self
            .query
            .iter()
            .filter(|(k, _)| !set.iter().any(|(s, _)| s == k) && !drop.contains(&k.as_str()))
            .map(|(k, v)| encode_pair(k, v))
            .chain(set.iter().map(|(k, v)| encode_pair(k, v)))
            .collect();
        pairs.sort();
        format!("{}?{}", self.url, pairs.join("&"))
    }
}

fn encode_pair(k: &str, v: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair(k, v)
        .finish()
}

/// Headers of a paginated answer.
pub(super) type Headers = Vec<(&'static str, String)>;

/// Slices one offset page out of `items` and builds its headers.
pub(super) fn offset<T>(items: Vec<T>, p: Paging, link: &LinkBase) -> (Vec<T>, Headers) {
    let total = items.len();
    let per = p.per_page.max(1);
    let total_pages = total.div_ceil(per).max(1);
    let out_of_range = p.page > total_pages;
    let start = (p.page - 1).saturating_mul(per);
    let page: Vec<T> = items.into_iter().skip(start).take(per).collect();
    let prev = (p.page > 1 && !out_of_range).then(|| p.page - 1);
    let next = (p.page < total_pages).then(|| p.page + 1);
    let counted = total <= COUNT_LIMIT;

    let per_s = per.to_string();
    let href = |n: usize| link.href(&[("page", n.to_string()), ("per_page", per_s.clone())], &[]);
    let mut links = Vec::new();
    if let Some(n) = prev {
        links.push(format!("<{}>; rel=\"prev\"", href(n)));
    }
    if let Some(n) = next {
        links.push(format!("<{}>; rel=\"next\"", href(n)));
    }
    links.push(format!("<{}>; rel=\"first\"", href(1)));
    if counted {
        links.push(format!("<{}>; rel=\"last\"", href(total_pages)));
    }
    let opt = |n: Option<usize>| n.map(|n| n.to_string()).unwrap_or_default();
    let mut headers: Headers = vec![
        ("x-per-page", per_s.clone()),
        ("x-page", p.page.to_string()),
        ("x-next-page", opt(next)),
        ("x-prev-page", opt(prev)),
        ("link", links.join(", ")),
    ];
    if counted {
        headers.push(("x-total", total.to_string()));
        headers.push(("x-total-pages", total_pages.to_string()));
    }
    (page, headers)
}

/// One keyset page: `items` are already ordered and past the cursor; when more remain,
/// `Link rel="next"` carries `cursor_key=<cursor of the last item>`.
pub(super) fn keyset<T>(
    items: Vec<T>,
    per_page: usize,
    cursor_key: &'static str,
    cursor: impl Fn(&T) -> String,
    link: &LinkBase,
) -> (Vec<T>, Headers) {
    let more = items.len() > per_page;
    let page: Vec<T> = items.into_iter().take(per_page).collect();
    let mut headers = Headers::new();
    if more {
        if let Some(last) = page.last() {
            let href = link.href(
                &[
                    (cursor_key, cursor(last)),
                    ("per_page", per_page.to_string()),
                ],
                &["page", "id_after", "id_before"],
            );
            headers.push(("link", format!("<{href}>; rel=\"next\"")));
        }
    }
    (page, headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(q: &[(&str, &str)]) -> LinkBase {
        LinkBase {
            url: "http://h/api/v4/users".into(),
            query: q
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn header<'a>(h: &'a Headers, name: &str) -> Option<&'a str> {
        h.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn offset_headers() {
        let link = base(&[("search", "a b"), ("page", "2"), ("per_page", "3")]);
        let (items, h) = offset(
            (1..=8).collect::<Vec<_>>(),
            Paging {
                page: 2,
                per_page: 3,
            },
            &link,
        );
        assert_eq!(items, vec![4, 5, 6]);
        assert_eq!(header(&h, "x-total"), Some("8"));
        assert_eq!(header(&h, "x-total-pages"), Some("3"));
        assert_eq!(header(&h, "x-prev-page"), Some("1"));
        assert_eq!(header(&h, "x-next-page"), Some("3"));
        assert_eq!(
            header(&h, "link"),
            Some(
                "<http://h/api/v4/users?page=1&per_page=3&search=a+b>; rel=\"prev\", \
                 <http://h/api/v4/users?page=3&per_page=3&search=a+b>; rel=\"next\", \
                 <http://h/api/v4/users?page=1&per_page=3&search=a+b>; rel=\"first\", \
                 <http://h/api/v4/users?page=3&per_page=3&search=a+b>; rel=\"last\""
            )
        );
        let (items, h) = offset(
            Vec::<u8>::new(),
            Paging {
                page: 1,
                per_page: 20,
            },
            &link,
        );
        assert!(items.is_empty());
        assert_eq!(header(&h, "x-total-pages"), Some("1"));
        assert_eq!(header(&h, "x-next-page"), Some(""));
        let (_, h) = offset(
            vec![1; 10_001],
            Paging {
                page: 1,
                per_page: 100,
            },
            &link,
        );
        assert_eq!(header(&h, "x-total"), None);
        assert!(!header(&h, "link").unwrap_or("").contains("last"));
    }

    #[test]
    fn keyset_link() {
        let link = base(&[
            ("pagination", "keyset"),
            ("order_by", "id"),
            ("id_after", "3"),
        ]);
        let (items, h) = keyset(vec![4, 5, 6], 2, "id_after", |i| i.to_string(), &link);
        assert_eq!(items, vec![4, 5]);
        assert_eq!(
            header(&h, "link"),
            Some("<http://h/api/v4/users?id_after=5&order_by=id&pagination=keyset&per_page=2>; rel=\"next\"")
        );
        let (_, h) = keyset(vec![4, 5], 2, "id_after", |i| i.to_string(), &link);
        assert!(h.is_empty());
    }
}

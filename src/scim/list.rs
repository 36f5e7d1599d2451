//! Query parameters of list and search requests (RFC 7644 §3.4.2, §3.4.3:
//! filter, attributes, excludedAttributes, sortBy, sortOrder, startIndex,
//! count) and the ListResponse message (§3.4.2, §3.4.2.4).

use serde_json::{json, Value};

use super::dialect::Dialect;
use super::error::{ScimError, ScimType};
use super::filter::{parse_filter_in, Filter};
use super::path::{parse_attr_list, parse_attr_path, AttrPath};
use super::projection::Projection;
use super::schema::{Registry, ResourceType};
use super::sort::{parse_sort_order, sort_resources, SortOrder};
use super::value::get_ci;
use super::{LIST_RESPONSE_SCHEMA, SEARCH_REQUEST_SCHEMA};

/// The parameters of one list or search request (RFC 7644 §3.4.2, §3.4.3), parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// The `filter`, not yet checked against a schema (see [`ListQuery::validate`]); `None`
    /// selects every resource.
    pub filter: Option<Filter>,
    /// `attributes` and `excludedAttributes`.
    pub projection: Projection,
    /// The `sortBy` attribute; `None` keeps the order the resources come in.
    pub sort_by: Option<AttrPath>,
    /// The `sortOrder`; it only matters when `sort_by` is set.
    pub sort_order: SortOrder,
    /// 1-based; values below 1 are read as 1 (RFC 7644 §3.4.2.4).
    pub start_index: usize,
    /// Already capped at the server's maximum.
    pub count: Option<usize>,
    /// The dialect the filter was read in; [`ListQuery::settled`] finishes reading it.
    pub dialect: Dialect,
    /// Strict only: the filter's attributes were checked across every resource type a root
    /// search covers (an attribute one type lacks then matches nothing there).
    pub attributes_checked: bool,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            filter: None,
            projection: Projection::default(),
            sort_by: None,
            sort_order: SortOrder::Ascending,
            start_index: 1,
            count: None,
            dialect: Dialect::default(),
            attributes_checked: false,
        }
    }
}

fn invalid_value(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

fn empty_filter() -> ScimError {
    ScimError::bad_request(
        ScimType::InvalidFilter,
        "the filter is empty; leave the parameter out to select every resource",
    )
}

fn start_index_from(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0).max(1)
}

/// A negative count is read as 0 (RFC 7644 §3.4.2.4); above the maximum,
/// the maximum is used.
fn count_from(n: i64, max_count: usize) -> usize {
    usize::try_from(n).unwrap_or(0).min(max_count)
}

impl ListQuery {
    /// From URL query pairs (already percent-decoded). Parameter names are
    /// matched in any case; unknown parameters are ignored and empty values
    /// count as absent.
    pub fn from_query_pairs(
        pairs: &[(String, String)],
        max_count: usize,
        dialect: Dialect,
    ) -> Result<ListQuery, ScimError> {
        let mut q = ListQuery {
            dialect,
            ..ListQuery::default()
        };
        for (name, value) in pairs {
            let value = value.trim();
            if value.is_empty() {
                // RFC 7644 §3.4.2.2: an invalid filter is 400 invalidFilter; an empty one is
                // not "no filter" (that is leaving the parameter out).
                if name.eq_ignore_ascii_case("filter") {
                    return Err(empty_filter());
                }
                continue;
            }
            match name.to_ascii_lowercase().as_str() {
                "filter" => q.filter = Some(parse_filter_in(value, dialect)?),
                "attributes" => q.projection.attributes = parse_attr_list(value)?,
                "excludedattributes" => q.projection.excluded = parse_attr_list(value)?,
                "sortby" => q.sort_by = Some(parse_attr_path(value)?),
                "sortorder" => q.sort_order = parse_sort_order(value)?,
                "startindex" => q.start_index = start_index_from(parse_int(name, value)?),
                "count" => q.count = Some(count_from(parse_int(name, value)?, max_count)),
                _ => {}
            }
        }
        Ok(q)
    }

    /// From a POST /.search body (SearchRequest schema, §3.4.3).
    pub fn from_search_request(
        body: &Value,
        max_count: usize,
        dialect: Dialect,
    ) -> Result<ListQuery, ScimError> {
        let obj = body.as_object().ok_or_else(|| {
            ScimError::bad_request(
                ScimType::InvalidSyntax,
                "the search request must be a JSON object",
            )
        })?;
        if let Some(schemas) = get_ci(obj, "schemas") {
            let ok = schemas.as_array().is_some_and(|l| {
                l.iter().any(|s| {
                    s.as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(SEARCH_REQUEST_SCHEMA))
                })
            });
            if !ok {
                return Err(ScimError::bad_request(
                    ScimType::InvalidSyntax,
                    format!("\"schemas\" must be [\"{SEARCH_REQUEST_SCHEMA}\"]"),
                ));
            }
        }
        let mut q = ListQuery {
            dialect,
            ..ListQuery::default()
        };
        for (name, value) in obj {
            if value.is_null() {
                continue;
            }
            match name.to_ascii_lowercase().as_str() {
                "filter" => {
                    let text = string_member(name, value)?;
                    if text.trim().is_empty() {
                        return Err(empty_filter());
                    }
                    q.filter = Some(parse_filter_in(text, dialect)?)
                }
                "attributes" => q.projection.attributes = attr_list_member(name, value)?,
                "excludedattributes" => q.projection.excluded = attr_list_member(name, value)?,
                "sortby" => q.sort_by = Some(parse_attr_path(string_member(name, value)?)?),
                "sortorder" => q.sort_order = parse_sort_order(string_member(name, value)?)?,
                "startindex" => q.start_index = start_index_from(int_member(name, value)?),
                "count" => q.count = Some(count_from(int_member(name, value)?, max_count)),
                _ => {}
            }
        }
        Ok(q)
    }

    /// Rejects a filter that RFC 7644 says must fail (see [`Filter::validate`]).
    pub fn validate(&self, registry: &Registry, rt: &ResourceType) -> Result<(), ScimError> {
        match &self.filter {
            Some(f) => f.validate(registry, rt),
            None => Ok(()),
        }
    }

    /// The query as resource type `rt` reads it, validated: in [`Dialect::Lenient`] the
    /// filter's unquoted values become numbers where the attribute is one
    /// ([`Filter::settle`]); in [`Dialect::Strict`] a filter naming an attribute no schema
    /// defines is refused (the interoperability profile; RFC 7644 lets it match nothing).
    pub fn settled(
        &self,
        registry: &Registry,
        rt: &ResourceType,
    ) -> Result<std::borrow::Cow<'_, ListQuery>, ScimError> {
        let query = match (&self.filter, self.dialect) {
            (Some(filter), Dialect::Lenient) => {
                let mut filter = filter.clone();
                filter.settle(registry, rt);
                if Some(&filter) == self.filter.as_ref() {
                    std::borrow::Cow::Borrowed(self)
                } else {
                    std::borrow::Cow::Owned(ListQuery {
                        filter: Some(filter),
                        ..self.clone()
                    })
                }
            }
            (Some(filter), Dialect::Strict) => {
                if let Some(path) = filter
                    .undefined(registry, rt)
                    .filter(|_| !self.attributes_checked)
                {
                    return Err(ScimError::bad_request(
                        ScimType::InvalidFilter,
                        format!(
                            "the filter names \"{path}\", which no schema of {} defines",
                            rt.name
                        ),
                    ));
                }
                std::borrow::Cow::Borrowed(self)
            }
            (None, _) => std::borrow::Cow::Borrowed(self),
        };
        query.validate(registry, rt)?;
        Ok(query)
    }

    /// For a search across `types` (RFC 7644 §3.4.3, at the root): in [`Dialect::Strict`], a
    /// filter naming an attribute that none of them defines is refused here once, and each
    /// type's own check is then skipped (`userName` is not Group's, and matches no group).
    pub fn check_across(
        &mut self,
        registry: &Registry,
        types: &[&ResourceType],
    ) -> Result<(), ScimError> {
        let (Some(filter), Dialect::Strict) = (&self.filter, self.dialect) else {
            return Ok(());
        };
        let undefined: Vec<String> = types
            .iter()
            .filter_map(|rt| filter.undefined(registry, rt))
            .collect();
        if let (true, Some(path)) = (undefined.len() == types.len(), undefined.first()) {
            return Err(ScimError::bad_request(
                ScimType::InvalidFilter,
                format!(
                    "the filter names \"{path}\", which no schema of the types searched defines"
                ),
            ));
        }
        self.attributes_checked = true;
        Ok(())
    }

    /// Filters, sorts, pages and projects resources held in memory, and
    /// wraps them in a ListResponse.
    pub fn run_in_memory(
        &self,
        registry: &Registry,
        rt: &ResourceType,
        resources: Vec<Value>,
    ) -> Value {
        let mut hits: Vec<Value> = match &self.filter {
            Some(f) => resources
                .into_iter()
                .filter(|r| f.matches(r, registry, rt))
                .collect(),
            None => resources,
        };
        if let Some(by) = &self.sort_by {
            sort_resources(registry, rt, &mut hits, by, self.sort_order);
        }
        let total = hits.len();
        let page: Vec<Value> = hits
            .into_iter()
            .skip(self.start_index.saturating_sub(1))
            .take(self.count.unwrap_or(usize::MAX))
            .map(|r| self.projection.apply(registry, rt, &r))
            .collect();
        list_response(total, self.start_index, page)
    }
}

fn parse_int(name: &str, value: &str) -> Result<i64, ScimError> {
    value
        .parse::<i64>()
        .map_err(|_| invalid_value(format!("{name} must be an integer, not \"{value}\"")))
}

fn string_member<'v>(name: &str, value: &'v Value) -> Result<&'v str, ScimError> {
    value
        .as_str()
        .ok_or_else(|| invalid_value(format!("\"{name}\" must be a string")))
}

fn int_member(name: &str, value: &Value) -> Result<i64, ScimError> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            .ok_or_else(|| invalid_value(format!("\"{name}\" must be an integer"))),
        Value::String(s) => parse_int(name, s.trim()),
        _ => Err(invalid_value(format!("\"{name}\" must be an integer"))),
    }
}

/// An array of attribute names, or (leniently) one comma-separated string.
fn attr_list_member(name: &str, value: &Value) -> Result<Vec<AttrPath>, ScimError> {
    match value {
        Value::String(s) => parse_attr_list(s),
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                out.extend(parse_attr_list(string_member(name, item)?)?);
            }
            Ok(out)
        }
        _ => Err(invalid_value(format!(
            "\"{name}\" must be an array of attribute names"
        ))),
    }
}

/// RFC 7644 §3.4.2: `Resources` is present even when empty, so clients that
/// index into it do not fail on an empty result.
pub fn list_response(total_results: usize, start_index: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total_results,
        "itemsPerPage": resources.len(),
        "startIndex": start_index,
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn query_pairs() {
        let q = ListQuery::from_query_pairs(
            &pairs(&[
                ("filter", r#"userName eq "bjensen""#),
                ("Attributes", "userName,emails.value"),
                ("excludedattributes", "meta"),
                ("sortBy", "name.familyName"),
                ("SORTORDER", "Descending"),
                ("startIndex", "0"),
                ("count", "500"),
                ("other", "x"),
            ]),
            100,
            Dialect::Strict,
        )
        .unwrap();
        assert!(q.filter.is_some());
        assert_eq!(q.projection.attributes.len(), 2);
        assert_eq!(q.projection.excluded.len(), 1);
        assert_eq!(q.sort_by.unwrap().sub.as_deref(), Some("familyName"));
        assert_eq!(q.sort_order, SortOrder::Descending);
        assert_eq!(q.start_index, 1);
        assert_eq!(q.count, Some(100));

        let q = ListQuery::from_query_pairs(
            &pairs(&[("count", "-5"), ("startIndex", "-3"), ("sortBy", "")]),
            100,
            Dialect::Strict,
        )
        .unwrap();
        assert_eq!(q.count, Some(0));
        assert_eq!(q.start_index, 1);
        assert!(q.sort_by.is_none());
        assert_eq!(
            ListQuery::from_query_pairs(&[], 10, Dialect::default()).unwrap(),
            ListQuery::default()
        );
    }

    #[test]
    fn query_pair_errors() {
        for (k, v, t) in [
            ("count", "ten", ScimType::InvalidValue),
            ("startIndex", "1.5", ScimType::InvalidValue),
            ("sortOrder", "sideways", ScimType::InvalidValue),
            ("filter", "userName eq", ScimType::InvalidFilter),
            ("filter", "", ScimType::InvalidFilter),
            ("filter", "   ", ScimType::InvalidFilter),
            ("attributes", "a b", ScimType::InvalidPath),
        ] {
            let e =
                ListQuery::from_query_pairs(&pairs(&[(k, v)]), 10, Dialect::Strict).unwrap_err();
            assert_eq!(e.scim_type, Some(t), "{k}={v}");
        }
    }

    #[test]
    fn search_request() {
        let q = ListQuery::from_search_request(
            &json!({
                "schemas": [SEARCH_REQUEST_SCHEMA],
                "attributes": ["displayName", "userName"],
                "excludedAttributes": "meta",
                "filter": "displayName sw \"smith\"",
                "startIndex": 1,
                "count": 10
            }),
            5,
            Dialect::Strict,
        )
        .unwrap();
        assert_eq!(q.projection.attributes.len(), 2);
        assert_eq!(q.projection.excluded.len(), 1);
        assert_eq!(q.count, Some(5));
        for bad in [
            json!({"schemas": ["urn:x"]}),
            json!({"count": "x"}),
            json!({"count": 1.5}),
            json!({"attributes": [1]}),
            json!({"filter": 3}),
            json!({"filter": " "}),
            json!([]),
        ] {
            assert!(
                ListQuery::from_search_request(&bad, 5, Dialect::Strict).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn response_shape() {
        let r = list_response(0, 1, Vec::new());
        assert_eq!(
            r,
            json!({
                "schemas": [LIST_RESPONSE_SCHEMA],
                "totalResults": 0,
                "itemsPerPage": 0,
                "startIndex": 1,
                "Resources": []
            })
        );
    }

    #[test]
    fn in_memory_paging() {
        let registry = Registry::standard().unwrap();
        let rt = registry.resource_type("User").unwrap();
        let users: Vec<Value> = (1..=5)
            .map(|i| json!({"id": i.to_string(), "userName": format!("u{i}"), "title": if i % 2 == 0 { "even" } else { "odd" }}))
            .collect();
        let q = ListQuery::from_query_pairs(
            &pairs(&[
                ("filter", r#"title eq "odd""#),
                ("sortBy", "userName"),
                ("sortOrder", "descending"),
                ("startIndex", "2"),
                ("count", "1"),
                ("attributes", "userName"),
            ]),
            100,
            Dialect::Strict,
        )
        .unwrap();
        let q = q.settled(&registry, rt).unwrap();
        let r = q.run_in_memory(&registry, rt, users);
        assert_eq!(r["totalResults"], 3);
        assert_eq!(r["itemsPerPage"], 1);
        assert_eq!(r["startIndex"], 2);
        assert_eq!(r["Resources"], json!([{"id": "3", "userName": "u3"}]));
    }
}

#[cfg(test)]
mod dialect_tests {
    use super::*;

    fn query(filter: &str, dialect: Dialect) -> Result<ListQuery, ScimError> {
        ListQuery::from_query_pairs(&[("filter".into(), filter.into())], 10, dialect)
    }

    /// Entra ID's lookups (see `super::super::dialect`): read in lenient, refused in strict.
    #[test]
    fn entra_filters_read_in_lenient_only() {
        let registry = Registry::standard().unwrap();
        let rt = registry.resource_type("User").unwrap();
        let user = serde_json::json!({
            "userName": "b", "externalId": "5f1c-77",
            "emails": [{"type": "home", "value": "x@h"}, {"type": "work", "value": "x@w"}]
        });
        let cases = [
            (r#"emails[type eq "work"].value eq "x@w""#, true),
            (r#"emails[type eq "work"].value eq "x@h""#, false),
            (r#"emails[type eq "home"].value pr"#, true),
            ("externalId eq 5f1c-77", true),
            ("externalId eq 5f1c-78", false),
            ("(externalId eq 5f1c-77) and userName eq b", true),
        ];
        for (filter, matches) in cases {
            let q = query(filter, Dialect::Lenient).unwrap();
            let q = q.settled(&registry, rt).unwrap();
            let f = q.filter.as_ref().unwrap();
            assert_eq!(f.matches(&user, &registry, rt), matches, "{filter}");
            let e = query(filter, Dialect::Strict).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{filter}");
        }
        // The sub-attribute joins the value filter: one element must pass both tests.
        let q = query(r#"emails[type eq "work"].value eq "x""#, Dialect::Lenient).unwrap();
        assert_eq!(
            q.filter.unwrap().to_string(),
            r#"emails[type eq "work" and value eq "x"]"#
        );
    }

    /// A strict search at the root: an attribute one type lacks matches nothing there; one no
    /// type defines is refused.
    #[test]
    fn strict_root_search_checks_attributes_across_types() {
        let registry = Registry::standard().unwrap();
        let user = registry.resource_type("User").unwrap();
        let group = registry.resource_type("Group").unwrap();
        let mut q = query("userName eq \"ada\"", Dialect::Strict).unwrap();
        q.check_across(&registry, &[user, group]).unwrap();
        assert!(q.settled(&registry, group).is_ok());
        let mut q = query("shoeSize eq 3", Dialect::Strict).unwrap();
        let e = q.check_across(&registry, &[user, group]).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
        // Searching Groups alone, userName is refused.
        let q = query("userName eq \"ada\"", Dialect::Strict).unwrap();
        assert!(q.settled(&registry, group).is_err());
    }

    #[test]
    fn lenient_bare_values_take_the_attribute_type() {
        let registry = Registry::standard().unwrap();
        let rt = registry.resource_type("User").unwrap();
        let settled = |f: &str| {
            let q = query(f, Dialect::Lenient).unwrap();
            q.settled(&registry, rt)
                .map(|q| q.filter.clone().unwrap().to_string())
        };
        // A string attribute keeps the text as written, leading zeros included.
        assert_eq!(
            settled("externalId eq 0042").unwrap(),
            r#"externalId eq "0042""#
        );
        assert_eq!(
            settled("externalId eq 42").unwrap(),
            r#"externalId eq "42""#
        );
        assert_eq!(settled("active eq TRUE").unwrap(), "active eq true");
        assert_eq!(settled("externalId eq null").unwrap(), "externalId eq null");
        // Not a boolean: still refused as one.
        let e = settled("active eq yes-please").unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
        // Strict refuses a filter on an attribute no schema defines; lenient lets it match
        // nothing.
        for f in [
            "nicknames pr",
            "emails[kind eq \"x\"]",
            "shoeSize eq 3",
            "name.middle eq \"x\"",
        ] {
            let q = query(f, Dialect::Strict).unwrap();
            let e = q.settled(&registry, rt).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{f}");
            assert!(
                query(f, Dialect::Lenient)
                    .unwrap()
                    .settled(&registry, rt)
                    .is_ok(),
                "{f}"
            );
        }
        for f in [
            "id eq \"1\"",
            "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
            "emails[type eq \"work\"]",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr",
            // RFC 7644 §3.4.2.2's own example: `schemas` is every resource's.
            "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
        ] {
            let q = query(f, Dialect::Strict).unwrap();
            assert!(q.settled(&registry, rt).is_ok(), "{f}");
        }
        // Strict reads JSON numbers as numbers, and refuses them for a string attribute.
        let q = query("externalId eq 42", Dialect::Strict).unwrap();
        let e = q.settled(&registry, rt).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
    }
}

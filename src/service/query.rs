//! Reads (RFC 7644 §3.4): one resource by id (§3.4.1), and lists and filters (§3.4.2) paged
//! by the platform when it can answer exactly, else filtered, sorted and paged here over a
//! bounded scan. Filters on what only the gateway holds (`id`, `externalId`) are answered from
//! the store, and a `userName eq` the gateway saw recently from the cache.

use super::links::Locked;
use super::present::Detail;
use super::{ListPage, RequestContext, Resource, Resources, Result, ServiceError};
use crate::mapping::model::PaginationStyle;
use crate::scim::filter::{CompareOp, Filter, Literal};
use crate::scim::list::ListQuery;
use crate::scim::sort::sort_resources;
use crate::store::Identity;
use serde_json::Value;

impl Resources<'_> {
    /// One resource by its SCIM id.
    pub async fn get(&self, id: &str, req: &RequestContext<'_>) -> Result<Resource> {
        let mut identity = self.identity(id).await?;
        let object = self.object_for(&mut identity, false, Locked::No).await?;
        self.present(&identity, &object, Detail::answer(req), req)
            .await
    }

    /// One page of the resources a query matches, not yet projected.
    pub async fn list(&self, query: &ListQuery, req: &RequestContext<'_>) -> Result<ListPage> {
        let page = self.list_uncached(query, req).await?;
        // The IdP looks the same name up again before each write: answer it from the cache.
        if let (Some(name), [found]) = (
            query.filter.as_ref().and_then(|f| self.name_eq(f)),
            page.resources.as_slice(),
        ) {
            if let (1, Some(id)) = (page.total_results, found.get("id").and_then(Value::as_str)) {
                self.gw
                    .cache
                    .put_name(&self.gw.tenant, self.type_id(), name, id)
                    .await;
            }
        }
        Ok(page)
    }

    async fn list_uncached(&self, query: &ListQuery, req: &RequestContext<'_>) -> Result<ListPage> {
        let rt = self.rt;
        let detail = Detail {
            partial: false,
            member_keys: true,
            // A user's groups cost a platform call each: in lists only when asked for.
            groups: query.projection.asks_for("groups"),
            // Members are resolved only when the filter or the answer needs them.
            members: query
                .filter
                .as_ref()
                .is_some_and(|f| f.to_string().to_ascii_lowercase().contains("members"))
                || query.projection.keeps("members"),
        };
        let query = &*query.settled(&self.gw.registry, rt)?;
        let want = query
            .count
            .unwrap_or(self.gw.limits.max_results)
            .min(self.gw.limits.max_results);
        let start = query.start_index.max(1);

        // Filters on what only the gateway holds are answered from the store.
        if let Some(filter) = &query.filter {
            if let Some(candidates) = self.store_candidates(filter).await? {
                let mut matched = Vec::new();
                for mut identity in candidates {
                    match self.object_for(&mut identity, false, Locked::No).await {
                        Ok(object) => {
                            let r = self.present(&identity, &object, detail, req).await?;
                            if filter.matches(&r.json, &self.gw.registry, rt) {
                                matched.push(r.json);
                            }
                        }
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e),
                    }
                }
                return Ok(self.finish_page(matched, query, start, want));
            }
            if let Some(page) = self
                .cached_name_lookup(filter, query, start, want, detail, req)
                .await?
            {
                return Ok(page);
            }
        }

        let pushdown = match &query.filter {
            Some(filter) => self.section.list.pushdown(filter, &self.gw.settings)?,
            None => None,
        };
        let exact = query.filter.is_none() || pushdown.as_ref().is_some_and(|p| p.exact);
        if let Some((call, request)) = pushdown.as_ref().and_then(|p| p.get.as_ref()) {
            // The filter names one object, read by its own call (a get by name).
            let objects = match self.send(request).await {
                Ok(response) => vec![call.object_of(&response, &self.gw.settings)?],
                Err(ServiceError::Platform(e)) if e.is_not_found() => Vec::new(),
                Err(e) => return Err(e),
            };
            return self
                .filter_and_page(&objects, query, start, want, detail, req)
                .await;
        }
        let extra: Vec<(String, String)> = pushdown.map(|p| p.query).unwrap_or_default();

        // Accounts never shown (`exclude`) would make the platform's totals and positions
        // wrong: the gateway then counts and pages itself.
        if exact
            && query.sort_by.is_none()
            && self.section.list.pagination != PaginationStyle::None
            && self.section.exclude.is_none()
        {
            return self.list_direct(&extra, start, want, detail, req).await;
        }
        // The gateway must see every candidate: filter, sort and page here.
        let objects = self.scan(&extra).await?;
        self.filter_and_page(&objects, query, start, want, detail, req)
            .await
    }

    /// Filters, sorts and pages candidate platform objects here (the platform could not).
    async fn filter_and_page(
        &self,
        objects: &[Value],
        query: &ListQuery,
        start: usize,
        want: usize,
        detail: Detail,
        req: &RequestContext<'_>,
    ) -> Result<ListPage> {
        let rt = self.rt;
        let mut matched = Vec::new();
        for (identity, object, partial) in self.listed(objects.to_vec()).await? {
            let detail = Detail { partial, ..detail };
            let r = self.present(&identity, &object, detail, req).await?;
            let wanted = query.filter.as_ref().is_none_or(|f| {
                f.matches(&r.json, &self.gw.registry, rt)
                    || (identity.platform.is_null()
                        && self
                            .section
                            .names_in_platform_form(f, &object, &self.gw.settings))
            });
            if wanted {
                matched.push(r.json);
            }
        }
        Ok(self.finish_page(matched, query, start, want))
    }

    fn finish_page(
        &self,
        mut matched: Vec<Value>,
        query: &ListQuery,
        start: usize,
        want: usize,
    ) -> ListPage {
        if let Some(by) = &query.sort_by {
            sort_resources(
                &self.gw.registry,
                self.rt,
                &mut matched,
                by,
                query.sort_order,
            );
        }
        let total = matched.len();
        let resources: Vec<Value> = matched.into_iter().skip(start - 1).take(want).collect();
        ListPage {
            total_results: total,
            start_index: start,
            resources,
        }
    }

    /// `id eq "..."` and `externalId eq "..."` (also inside a top-level `and`) name identities
    /// the store knows directly.
    async fn store_candidates(&self, filter: &Filter) -> Result<Option<Vec<Identity>>> {
        match filter {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: Literal::String(value),
            } if path.sub.is_none() && is_core_or_none(&path.urn) => {
                if path.name.eq_ignore_ascii_case("id") {
                    let found = self.gw.links.get(self.scope(), value).await?;
                    Ok(Some(found.into_iter().collect()))
                } else if path.name.eq_ignore_ascii_case("externalId") {
                    Ok(Some(
                        self.gw
                            .links
                            .find_by_external_id(self.scope(), value)
                            .await?,
                    ))
                } else {
                    Ok(None)
                }
            }
            Filter::And(left, right) => {
                if let Some(found) = Box::pin(self.store_candidates(left)).await? {
                    return Ok(Some(found));
                }
                Box::pin(self.store_candidates(right)).await
            }
            _ => Ok(None),
        }
    }

    /// The name an `eq` filter on the resource's name attribute (`userName`, a group's
    /// `displayName`) asks for.
    fn name_eq<'f>(&self, filter: &'f Filter) -> Option<&'f str> {
        let Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Literal::String(name),
        } = filter
        else {
            return None;
        };
        (path.name.eq_ignore_ascii_case(self.name_attribute())
            && path.sub.is_none()
            && is_core_or_none(&path.urn))
        .then_some(name.as_str())
    }

    /// IdPs look a user up by `userName eq` before most writes; a name the gateway saw recently
    /// is answered without listing the platform.
    async fn cached_name_lookup(
        &self,
        filter: &Filter,
        query: &ListQuery,
        start: usize,
        want: usize,
        detail: Detail,
        req: &RequestContext<'_>,
    ) -> Result<Option<ListPage>> {
        let Some(name) = self.name_eq(filter) else {
            return Ok(None);
        };
        let Some(id) = self
            .gw
            .cache
            .id_for_name(&self.gw.tenant, self.type_id(), name)
            .await
        else {
            return Ok(None);
        };
        let mut identity = match self.identity(&id).await {
            Ok(identity) => identity,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let object = match self.object_for(&mut identity, false, Locked::No).await {
            Ok(o) => o,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let rt = self.rt;
        let r = self.present(&identity, &object, detail, req).await?;
        if !filter.matches(&r.json, &self.gw.registry, rt) {
            return Ok(None);
        }
        Ok(Some(self.finish_page(vec![r.json], query, start, want)))
    }

    /// The platform pages exactly what the IdP asked for.
    async fn list_direct(
        &self,
        extra: &[(String, String)],
        start: usize,
        want: usize,
        detail: Detail,
        req: &RequestContext<'_>,
    ) -> Result<ListPage> {
        let offset = start - 1;
        let mut objects = Vec::new();
        let mut total = None;
        if want == 0 {
            // Only the total is wanted; ask for the smallest page (a limit of 0 means "all" on
            // some platforms).
            let (_, t) = self.list_page(extra, offset, 1).await?;
            total = t;
        }
        if want > 0 {
            let (items, t) = self.fetch_range(extra, offset, want).await?;
            objects = items;
            total = total.or(t);
        }
        // Past the end some platforms (Coder) count nothing at all; ask for the real total.
        if objects.is_empty() && offset > 0 && total.is_none_or(|t| t == 0) {
            total = self.list_page(extra, 0, 1).await?.1;
        }
        let total = match total {
            Some(t) => t,
            // The platform gives no total: count by scanning (bounded).
            None => self.scan(extra).await?.len(),
        };
        let mut resources = Vec::with_capacity(objects.len());
        for (identity, object, partial) in self.listed(objects).await? {
            let detail = Detail { partial, ..detail };
            resources.push(self.present(&identity, &object, detail, req).await?.json);
        }
        Ok(ListPage {
            total_results: total,
            start_index: start,
            resources,
        })
    }
}

fn is_core_or_none(urn: &Option<String>) -> bool {
    urn.as_deref().is_none_or(crate::mapping::is_core_urn)
}

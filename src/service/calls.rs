//! Running the mapping's calls on the platform: one call and its error classified, sequences of
//! calls whose answers feed the next (`returns_object`), reading one object (through the
//! cache), and the platform's list pages (offset or page paging, bounded scans).

use std::sync::Arc;

use serde_json::Value;

use super::{Resources, Result, ServiceError};
use crate::backend::PlatformError;
use crate::mapping::compile::{CallSpec, ListSpec, Sends};
use crate::mapping::model::PaginationStyle;
use crate::mapping::vars::{CallVars, ReadVars};
use crate::mapping::{BackendRequest, BackendResponse};
use crate::scim::{ScimError, ScimType};

/// What a sequence of platform calls left behind.
#[derive(Clone)]
pub(super) enum CallsOutcome {
    /// No call's condition held.
    NoneRan,
    /// The last call that ran answered with the platform object.
    Object(Value),
    /// Calls ran; the object must be read again.
    Ran,
}

impl CallsOutcome {
    /// The outcome of this sequence followed by another.
    pub(super) fn then(self, next: CallsOutcome) -> CallsOutcome {
        match next {
            CallsOutcome::NoneRan => self,
            other => other,
        }
    }
}

impl Resources<'_> {
    /// Sends one call; an error answer becomes a [`PlatformError`] the mapping has classified.
    pub(super) async fn send(&self, request: &BackendRequest) -> Result<BackendResponse> {
        let response = self.gw.platform.send(request).await?;
        if response.is_success() {
            return Ok(response);
        }
        Err(PlatformError::refused(
            request.method,
            response.status,
            self.gw.mapping.error_message(&response),
            self.gw.mapping.classify_error(&response),
        )
        .with_retry_after(crate::backend::resilience::wait_asked(&response))
        .into())
    }

    /// Runs a sequence of calls (create, update, delete, membership). A call marked
    /// `returns_object` gives the calls after it the object's `key` and `backend`. What the
    /// calls that ran send of `desired` is added to `sent`.
    pub(super) async fn run_calls<V: CallVars>(
        &self,
        calls: &[CallSpec],
        vars: &mut V,
        sent: &mut Sends,
    ) -> Result<CallsOutcome> {
        let mut outcome = CallsOutcome::NoneRan;
        for call in calls {
            let applies = call.applies(vars)?;
            if self.gw.platform.explains() {
                if let Some(condition) = &call.when {
                    self.gw.platform.considered(
                        &call.key,
                        condition.source(),
                        applies,
                        condition.values_read(&vars.context()),
                    );
                }
            }
            if !applies {
                continue;
            }
            sent.add(&call.sends);
            let request = call.render(vars, &[])?;
            let response = self.send(&request).await?;
            if call.returns_object {
                let object = call.object_of(&response, &self.gw.settings)?;
                let key = self.section.key_of(&object, &self.gw.settings)?;
                vars.object_returned(key, object.clone());
                outcome = CallsOutcome::Object(object);
            } else {
                outcome = CallsOutcome::Ran;
            }
        }
        Ok(outcome)
    }

    /// The platform object for a key, from the cache unless `fresh`.
    pub(super) async fn fetch_object(&self, key: &str, fresh: bool) -> Result<Arc<Value>> {
        if !fresh {
            if let Some(hit) = self
                .gw
                .cache
                .object(&self.gw.tenant, self.type_id(), key)
                .await
            {
                return Ok(hit);
            }
        }
        let vars = ReadVars {
            key,
            settings: &self.gw.settings,
        };
        let request = self.section.get.render(&vars, &[])?;
        let response = self.send(&request).await?;
        let object = Arc::new(self.section.get.object_of(&response, &self.gw.settings)?);
        self.cache_object(key, object.clone()).await;
        Ok(object)
    }

    /// The platform object after a sequence of calls: the one the last call answered with, the
    /// unchanged one when no call ran, else read again.
    pub(super) async fn object_after(
        &self,
        outcome: CallsOutcome,
        unchanged: Value,
        key: &str,
    ) -> Result<Arc<Value>> {
        match outcome {
            CallsOutcome::Object(object) => Ok(Arc::new(object)),
            CallsOutcome::NoneRan => Ok(Arc::new(unchanged)),
            CallsOutcome::Ran => self.fetch_object(key, true).await,
        }
    }

    pub(super) async fn cache_object(&self, backend_key: &str, object: Arc<Value>) {
        self.gw
            .cache
            .put_object(&self.gw.tenant, self.type_id(), backend_key, object)
            .await;
    }

    /// `want` platform objects from `offset` (fewer at the end), with the platform's total.
    /// Offset paging asks for exactly that range; page paging reads the aligned pages that
    /// cover it and cuts it out.
    pub(super) async fn fetch_range(
        &self,
        extra: &[(String, String)],
        offset: usize,
        want: usize,
    ) -> Result<(Vec<Value>, Option<usize>)> {
        let list = &self.section.list;
        let page_size = list.max_page_size;
        let aligned = list.pagination == PaginationStyle::Page;
        let mut position = if aligned {
            offset - offset % page_size
        } else {
            offset
        };
        let mut skip = offset - position;
        let mut out = Vec::new();
        let mut total = None;
        while out.len() < want {
            let size = if aligned {
                page_size
            } else {
                (want - out.len()).min(page_size)
            };
            let (items, t) = self.list_page(extra, position, size).await?;
            total = total.or(t);
            let n = items.len();
            out.extend(items.into_iter().skip(skip));
            skip = 0;
            position += n;
            let more = total.is_some_and(|t| position < t);
            if n == 0 || (n < size && !more) {
                break;
            }
            if n < size {
                short_page(&self.section.list)?;
            }
        }
        // A platform that ignores the page size must not overflow the IdP's `count`.
        out.truncate(want);
        Ok((out, total))
    }

    /// One platform list call for `size` objects from `offset`; returns them and the total.
    pub(super) async fn list_page(
        &self,
        extra: &[(String, String)],
        offset: usize,
        size: usize,
    ) -> Result<(Vec<Value>, Option<usize>)> {
        self.page_of(&self.section.list, None, extra, offset, size)
            .await
    }

    /// One page of any list (`key`: the group whose members `[groups.members.list]` lists).
    async fn page_of(
        &self,
        list: &ListSpec,
        key: Option<&str>,
        extra: &[(String, String)],
        offset: usize,
        size: usize,
    ) -> Result<(Vec<Value>, Option<usize>)> {
        let mut vars = list.page_vars(offset, size, &self.gw.settings);
        vars.key = key;
        let request = list.call.render(&vars, extra)?;
        let response = self.send(&request).await?;
        Ok(list.read_page(&response, &self.gw.settings)?)
    }

    /// Every platform object matching the push-down query, up to the configured bound.
    pub(super) async fn scan(&self, extra: &[(String, String)]) -> Result<Vec<Value>> {
        self.scan_of(&self.section.list, None, extra).await
    }

    /// Every platform object of the list the gateway may show (its own accounts left out),
    /// with its key and creation-time proof; links nothing (drift, import).
    pub(super) async fn scan_keyed(&self) -> Result<Vec<(String, Option<String>, Value)>> {
        let settings = &self.gw.settings;
        let mut out = Vec::new();
        for object in self.scan(&[]).await? {
            if self.section.excludes(&object, settings)? {
                continue;
            }
            let key = self.section.key_of(&object, settings)?;
            let proof = self.section.proof_of(&object, settings)?;
            out.push((key, proof, object));
        }
        Ok(out)
    }

    /// Every item of any list, up to the configured bound.
    pub(super) async fn scan_of(
        &self,
        list: &ListSpec,
        key: Option<&str>,
        extra: &[(String, String)],
    ) -> Result<Vec<Value>> {
        let cap = self.gw.limits.max_scan;
        let too_many = || {
            ScimError::bad_request(
                ScimType::TooMany,
                format!(
                    "answering this query needs more than {cap} platform objects to be read; narrow the filter"
                ),
            )
        };
        if list.pagination == PaginationStyle::None {
            let (items, _) = self.page_of(list, key, extra, 0, 0).await?;
            if items.len() > cap {
                return Err(too_many().into());
            }
            return Ok(items);
        }
        let size = list.max_page_size;
        let mut out = Vec::new();
        loop {
            let (items, total) = self.page_of(list, key, extra, out.len(), size).await?;
            if total.is_some_and(|t| t > cap) {
                return Err(too_many().into());
            }
            let n = items.len();
            out.extend(items);
            if out.len() > cap {
                return Err(too_many().into());
            }
            match total {
                Some(t) if out.len() >= t => return Ok(out),
                None if n < size => return Ok(out),
                // The total says there is more: a platform that serves fewer than asked (a
                // hub whose page limit is below max_page_size) is read on, never cut short.
                Some(_) if n == 0 => return Ok(out),
                Some(_) if n < size => short_page(list)?,
                _ => {}
            }
        }
    }
}

/// A page shorter than asked while the total says there is more: offset paging reads on from
/// where the page ended; page-number paging cannot (its page numbers assume the size asked),
/// so the mapping must ask for what the platform serves.
fn short_page(list: &ListSpec) -> Result<()> {
    if list.pagination == PaginationStyle::Page {
        return Err(ServiceError::Mapping(format!(
            "the platform served a shorter page than the {} asked while its total says there is more: lower max_page_size in the mapping to what it serves",
            list.max_page_size
        )));
    }
    Ok(())
}

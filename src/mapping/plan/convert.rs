//! Platform object ⇄ SCIM resource: the attributes read (with the stored copy of what the IdP
//! wrote filling what the platform cannot hold), the platform fields a write asks for and which
//! of them change, the values only the platform decides, and what proves an account.

use super::*;

impl AttributeMapping {
    fn to_backend_value(
        &self,
        resource: &Value,
        settings: &Value,
    ) -> Result<Option<Value>, MappingError> {
        let Some(expr) = &self.to_backend else {
            return Ok(None);
        };
        let value = scim_get(resource, &self.scim)
            .cloned()
            .unwrap_or(Value::Null);
        let vars = ValueVars {
            value: &value,
            resource,
            settings,
        };
        expr.eval(&vars.context())
            .map(|v| v.filter(|v| !v.is_null()))
            .map_err(|e| MappingError::InvalidValue(format!("{}: {}", self.scim_source, e.0)))
    }
}

impl ResourceMapping {
    /// What proves an object is the account a link was made for (`identity`, as JSON text);
    /// `None` when the mapping declares no proof or the object has no value for it.
    pub fn proof_of(
        &self,
        backend: &Value,
        settings: &Value,
    ) -> Result<Option<String>, MappingError> {
        let Some(expr) = &self.identity else {
            return Ok(None);
        };
        let vars = ObjectVars { backend, settings };
        match expr
            .eval(&vars.context())
            .map_err(|e| unusable("identity", e))?
        {
            None | Some(Value::Null) => Ok(None),
            Some(value) => Ok(Some(value.to_string())),
        }
    }

    /// Whether an object is one the gateway must never show or touch (`exclude`).
    pub fn excludes(&self, backend: &Value, settings: &Value) -> Result<bool, MappingError> {
        match &self.exclude {
            None => Ok(false),
            Some(expr) => expr
                .eval_bool(&ObjectVars { backend, settings }.context())
                .map_err(|e| unusable("exclude", e)),
        }
    }

    /// The platform's stable key of an object.
    pub fn key_of(&self, backend: &Value, settings: &Value) -> Result<String, MappingError> {
        let vars = ObjectVars { backend, settings };
        match self
            .key
            .eval(&vars.context())
            .map_err(|e| unusable("key", e))?
        {
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            Some(Value::Number(n)) => Ok(n.to_string()),
            other => Err(MappingError::Unusable(format!(
                "the platform object has no key (`{}` gave {})",
                self.key.source(),
                other
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "nothing".to_owned())
            ))),
        }
    }

    /// The SCIM attributes of a platform object, with the gateway's stored copy (`shadow`,
    /// what the IdP last wrote) filling everything the platform does not hold.
    ///
    /// For an attribute the platform holds, what the IdP wrote stands as long as the platform's
    /// value is the one it had right after that write (`snapshot`): so an IdP reads back
    /// `Alice@Example.com` although the platform keeps `alice`, and an attribute it removed
    /// stays removed. When the platform's value changed since, it was changed on the platform and
    /// the platform's value wins. Without a snapshot (an object the IdP never wrote) every
    /// attribute comes from the platform. With `on_change = "keep"`, a stored value always wins.
    pub fn to_scim(
        &self,
        backend: &Value,
        shadow: Option<&Value>,
        snapshot: Option<&Value>,
        settings: &Value,
    ) -> Result<Value, MappingError> {
        self.to_scim_lacking(backend, shadow, snapshot, settings, &[])
    }

    /// [`ResourceMapping::to_scim`] of an object that lacks some fields (a list item): an
    /// attribute read from a missing field is not read from the platform (what the IdP wrote
    /// stands, or it is absent).
    pub fn to_scim_lacking(
        &self,
        backend: &Value,
        shadow: Option<&Value>,
        snapshot: Option<&Value>,
        settings: &Value,
        lacking: &[String],
    ) -> Result<Value, MappingError> {
        let mut resource = shadow
            .filter(|s| s.is_object())
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        // The common case: the platform object is exactly as the gateway last wrote it, so
        // every attribute stands as the IdP wrote it (the rule below, without evaluating it).
        if lacking.is_empty()
            && shadow.is_some()
            && snapshot.is_some_and(|snap| same_snapshot(snap, &self.snapshot_of(backend)))
        {
            return Ok(resource);
        }
        let backend_vars = ObjectVars { backend, settings };
        let backend_ctx = backend_vars.context();
        let snapshot_vars = match (shadow, snapshot) {
            (Some(_), Some(snap)) if !snap.is_null() => Some(ObjectVars {
                backend: snap,
                settings,
            }),
            _ => None,
        };
        let snapshot_ctx = snapshot_vars.as_ref().map(TemplateVars::context);
        for attr in &self.attributes {
            let Some(from) = &attr.from_backend else {
                continue;
            };
            if attr.on_change == OnChange::Keep
                && shadow.is_some_and(|s| scim_get(s, &attr.scim).is_some())
            {
                continue;
            }
            let reads_missing = !lacking.is_empty()
                && from.paths().iter().any(|p| {
                    p.strip_prefix("backend.")
                        .is_some_and(|f| lacking.iter().any(|l| f.split('.').next() == Some(l)))
                });
            if reads_missing {
                continue;
            }
            let value = from
                .eval(&backend_ctx)
                .map_err(|e| unusable(&format!("reading `{}`", attr.scim_source), e))?
                .filter(|v| !is_empty_value(v));
            if let Some(snap_ctx) = &snapshot_ctx {
                let before = from
                    .eval(snap_ctx)
                    .ok()
                    .flatten()
                    .filter(|v| !is_empty_value(v));
                if before == value {
                    continue;
                }
            }
            scim_set(&mut resource, &attr.scim, value);
        }
        Ok(resource)
    }

    /// Refuses what a whole resource (POST, PUT) asks of attributes the platform decides: a
    /// value for an attribute the mapping declares `readOnly` that is not the platform's
    /// (`active: false` for a platform that cannot disable anyone) would be dropped by the RFC's
    /// rule and answered 200 while nothing changed, so it is a 400 `mutability`; and an
    /// `immutable` attribute that has a value keeps it. `offered` holds the readOnly values the
    /// body carried, `resource` the rest, `platform_view` the resource as the platform holds it
    /// (before a replace; as a create asks for it).
    pub fn refuse_undecidable(
        &self,
        offered: &Value,
        resource: &Value,
        platform_view: &Value,
    ) -> Result<(), MappingError> {
        for attr in &self.attributes {
            let (sent, kind) = match attr.mutability {
                Some(Mutability::ReadOnly) => (scim_get(offered, &attr.scim), "readOnly"),
                Some(Mutability::Immutable) => (scim_get(resource, &attr.scim), "immutable"),
                _ => continue,
            };
            let held = scim_get(platform_view, &attr.scim);
            let refused = match (kind, sent, held) {
                (_, None, _) => false,
                ("readOnly", Some(sent), held) => Some(sent) != held,
                (_, Some(sent), Some(held)) => sent != held,
                (_, Some(_), None) => false,
            };
            if refused {
                let value = sent.map(Value::to_string).unwrap_or_default();
                return Err(MappingError::Immutable(format!(
                    "{} is {kind} on this platform: it cannot be set to {value}{}",
                    attr.scim_source,
                    held.map(|h| format!(" (it is {h})")).unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    /// Completes what the IdP wrote in a whole resource (a create or a replace) with the
    /// attributes it left out that the platform decides: a user created without `active` reads
    /// back `active: true` when the platform has the account active, not without it. Attributes
    /// the IdP wrote, even empty, are left as written; a PATCH that removes an attribute does
    /// not come here, so a removed attribute stays removed.
    ///
    /// An attribute whose `to_backend` derives the platform value from other attributes
    /// (`resource.userName` for a missing email, `resource.name` for a missing displayName)
    /// is not completed: the value is the IdP's own, re-derived on every write, and reading it
    /// back as written would pin it.
    pub fn complete_unwritten(
        &self,
        shadow: &mut Value,
        backend: &Value,
        settings: &Value,
    ) -> Result<(), MappingError> {
        let backend_vars = ObjectVars { backend, settings };
        let backend_ctx = backend_vars.context();
        for attr in &self.attributes {
            let Some(from) = &attr.from_backend else {
                continue;
            };
            if scim_get(shadow, &attr.scim).is_some() {
                continue;
            }
            let derived = attr.to_backend.as_ref().is_some_and(|to| {
                to.paths()
                    .iter()
                    .any(|p| p == "resource" || p.starts_with("resource."))
            });
            if derived {
                continue;
            }
            let value = from
                .eval(&backend_ctx)
                .map_err(|e| unusable(&format!("reading `{}`", attr.scim_source), e))?
                .filter(|v| !is_empty_value(v));
            if value.is_some() {
                scim_set(shadow, &attr.scim, value);
            }
        }
        Ok(())
    }

    /// What the gateway remembers of a platform object as "last written": the fields the
    /// attributes read (so a platform-side change elsewhere, such as a login time, does not
    /// count as a change, and a group's member list is not stored again with every write).
    /// Keys of a stored snapshot that start with [`SNAPSHOT_MARK`] are the gateway's own notes
    /// (a group's membership mark), never platform fields.
    pub fn snapshot_of(&self, backend: &Value) -> Value {
        let mut out = Map::new();
        for path in &self.snapshot_fields {
            if let Some(v) = field(backend, path) {
                insert_path(&mut out, path, v.clone());
            }
        }
        Value::Object(out)
    }

    /// The platform fields a SCIM resource asks for (`desired` in call templates).
    pub fn desired(
        &self,
        resource: &Value,
        settings: &Value,
    ) -> Result<Map<String, Value>, MappingError> {
        let mut out = Map::new();
        for attr in &self.attributes {
            let (Some(field_path), Some(_)) = (&attr.backend_field, &attr.to_backend) else {
                continue;
            };
            if let Some(v) = attr.to_backend_value(resource, settings)? {
                insert_path(&mut out, field_path, v);
            }
        }
        Ok(out)
    }

    /// Refuses changes the platform cannot make (`on_change = "reject"`), and returns the
    /// platform fields that change (`changed` in call templates: field → true).
    ///
    /// `desired_before` is what the resource as the IdP saw it before this write asked for: a
    /// field the IdP did not change is left alone even where the platform holds it in another
    /// form (a platform-made `Bob-Smith` is not renamed `bob-smith` by an unrelated PATCH).
    pub fn changes(
        &self,
        desired: &Map<String, Value>,
        desired_before: Option<&Map<String, Value>>,
        current: &Value,
    ) -> Result<Map<String, Value>, MappingError> {
        let desired_value = Value::Object(desired.clone());
        let before_value = desired_before.map(|b| Value::Object(b.clone()));
        let mut changed = Map::new();
        for attr in &self.attributes {
            let (Some(field_path), Some(_)) = (&attr.backend_field, &attr.to_backend) else {
                continue;
            };
            // No value and an empty value are the same; a value the IdP removed is a change.
            let want = field(&desired_value, field_path).filter(|v| !is_empty_value(v));
            let have = field(current, field_path).filter(|v| !is_empty_value(v));
            if want == have {
                continue;
            }
            if let Some(before) = &before_value {
                if want == field(before, field_path).filter(|v| !is_empty_value(v)) {
                    continue;
                }
            }
            match attr.on_change {
                OnChange::Apply => {}
                OnChange::Reject => {
                    return Err(MappingError::Immutable(format!(
                        "the platform cannot change `{}` once set",
                        attr.scim_source
                    )))
                }
                OnChange::Keep => continue,
            }
            insert_path(&mut changed, field_path, Value::Bool(true));
        }
        Ok(changed)
    }
}

impl ResourceMapping {
    /// For an object the IdP never wrote (created on the platform directly): whether a simple
    /// `attr eq "value"` filter names it in the platform's own form. `userName eq
    /// "alice@example.com"` then finds Coder's `alice`, so an IdP can match and adopt accounts
    /// that existed before provisioning instead of failing to create them again.
    pub fn names_in_platform_form(
        &self,
        filter: &Filter,
        backend: &Value,
        settings: &Value,
    ) -> bool {
        let Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Literal::String(wanted),
        } = filter
        else {
            return false;
        };
        self.attributes.iter().any(|attr| {
            let (Some(field_path), Some(_)) = (&attr.backend_field, &attr.to_backend) else {
                return false;
            };
            if !same_attribute(&attr.scim, path) {
                return false;
            }
            let mut resource = Value::Object(Map::new());
            scim_set(
                &mut resource,
                &attr.scim,
                Some(Value::String(wanted.clone())),
            );
            match (
                attr.to_backend_value(&resource, settings),
                field(backend, field_path),
            ) {
                (Ok(Some(Value::String(a))), Some(Value::String(b))) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
        })
    }

    /// The `on_change = "keep"` attributes whose value the IdP changed between two versions
    /// of a resource: the platform keeps its own value for them.
    pub fn kept_changes<'a>(&'a self, before: &Value, after: &Value) -> Vec<&'a str> {
        self.attributes
            .iter()
            .filter(|a| a.on_change == OnChange::Keep)
            .filter(|a| scim_get(before, &a.scim).is_some())
            .filter(|a| scim_get(before, &a.scim) != scim_get(after, &a.scim))
            .map(|a| a.scim_source.as_str())
            .collect()
    }
}

fn insert_path(map: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = map;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        match entry.as_object_mut() {
            Some(m) => current = m,
            None => return,
        }
    }
    current.insert(last.clone(), value);
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// What starts the keys of the gateway's own notes in a stored snapshot (no platform field
/// name starts with a control character).
pub const SNAPSHOT_MARK: char = '\u{1f}';

/// Whether a stored snapshot holds exactly the fields of a fresh one (the gateway's notes
/// aside).
fn same_snapshot(stored: &Value, fresh: &Value) -> bool {
    match (stored.as_object(), fresh.as_object()) {
        (Some(stored), Some(fresh)) => {
            stored
                .keys()
                .filter(|k| !k.starts_with(SNAPSHOT_MARK))
                .count()
                == fresh.len()
                && fresh.iter().all(|(k, v)| stored.get(k) == Some(v))
        }
        _ => stored == fresh,
    }
}

#[cfg(test)]
mod snapshot_tests {
    use super::same_snapshot;
    use serde_json::json;

    #[test]
    fn the_gateways_notes_do_not_make_a_snapshot_differ() {
        let fresh = json!({"display_name": "Eng", "name": "eng"});
        let noted = json!({"display_name": "Eng", "name": "eng", "\u{1f}members": {"count": 2}});
        assert!(same_snapshot(&noted, &fresh));
        assert!(!same_snapshot(
            &json!({"display_name": "Ops", "name": "eng", "\u{1f}members": {}}),
            &fresh
        ));
        assert!(!same_snapshot(&json!({"display_name": "Eng"}), &fresh));
    }
}

//! Lists: the push-down chosen for a filter, the paging variables and how a page reads, a
//! user's groups, and a group's member keys.

use super::*;

/// A push-down chosen for a filter: the query parameters to send and whether the platform's
/// answer is exactly the filter's.
#[derive(Debug, Clone)]
pub struct PushdownPlan<'a> {
    /// Parameters added to the list call.
    pub query: Vec<(String, String)>,
    /// Instead: the read call of the one object the filter names, rendered.
    pub get: Option<(&'a CallSpec, BackendRequest)>,
    /// The platform's match is exactly the filter.
    pub exact: bool,
}

impl ListSpec {
    /// The first push-down rule matching the filter, or one of the conjuncts of a top-level
    /// `and` (then never exact: the other conjuncts still need the gateway's filter).
    pub fn pushdown(
        &self,
        filter: &Filter,
        settings: &Value,
    ) -> Result<Option<PushdownPlan<'_>>, MappingError> {
        if let Some(plan) = self.pushdown_simple(filter, settings)? {
            return Ok(Some(plan));
        }
        if let Filter::And(left, right) = filter {
            for side in [left.as_ref(), right.as_ref()] {
                if let Some(mut plan) = self.pushdown(side, settings)? {
                    plan.exact = false;
                    return Ok(Some(plan));
                }
            }
        }
        Ok(None)
    }

    fn pushdown_simple(
        &self,
        filter: &Filter,
        settings: &Value,
    ) -> Result<Option<PushdownPlan<'_>>, MappingError> {
        let Filter::Compare { path, op, value } = filter else {
            return Ok(None);
        };
        let Some(rule) = self.pushdowns.iter().find(|p| p.matches(path, *op)) else {
            return Ok(None);
        };
        let value = match value {
            Literal::String(s) => Value::String(s.clone()),
            Literal::Number(n) => Value::Number(n.clone()),
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Null => return Ok(None),
        };
        let vars = FilterVars {
            value: &value,
            settings,
        };
        let get = match &rule.get {
            None => Ok(None),
            Some(call) => call.render(&vars, &[]).map(|r| Some((call, r))),
        };
        match (render_pairs(&rule.query, &vars.context()), get) {
            (Ok(query), Ok(get)) => Ok(Some(PushdownPlan {
                query,
                get,
                exact: rule.exact,
            })),
            (Err(e), _) | (_, Err(e)) => match e {
                // A value the platform's query cannot express ("@@@" for a username) matches
                // nothing the platform holds under that rule; let the caller scan instead.
                MappingError::InvalidValue(_) => Ok(None),
                e => Err(e),
            },
        }
    }
}

impl ListSpec {
    /// The variables of the list call for `size` objects from `offset`, as the mapping's
    /// `pagination` names them (page paging reads the page `offset` falls in: callers ask for
    /// ranges aligned to `size`).
    pub fn page_vars<'a>(&self, offset: usize, size: usize, settings: &'a Value) -> PageVars<'a> {
        let mut vars = PageVars {
            settings: Some(settings),
            ..PageVars::default()
        };
        match self.pagination {
            PaginationStyle::Offset => {
                vars.offset = Some(offset);
                vars.limit = Some(size);
            }
            PaginationStyle::Page => {
                vars.page = Some(offset / size.max(1) + 1);
                vars.per_page = Some(size);
            }
            PaginationStyle::None => {}
        }
        vars
    }

    /// The platform objects of a list answer and the total the platform tells, if it does.
    pub fn read_page(
        &self,
        response: &BackendResponse,
        settings: &Value,
    ) -> Result<(Vec<Value>, Option<usize>), MappingError> {
        read_items(
            response,
            settings,
            &self.items,
            "list items",
            self.total.as_ref(),
        )
    }
}

/// The platform group objects of a `[users.groups]` call's answer.
pub fn read_user_groups(
    items: &Expr,
    response: &BackendResponse,
    settings: &Value,
) -> Result<Vec<Value>, MappingError> {
    read_items(response, settings, items, "groups", None).map(|(items, _)| items)
}

/// The array `items` gives over a platform answer, and the number `total` gives (a number or
/// a numeric string; anything else is no total).
fn read_items(
    response: &BackendResponse,
    settings: &Value,
    items: &Expr,
    what: &str,
    total: Option<&Expr>,
) -> Result<(Vec<Value>, Option<usize>), MappingError> {
    let headers = Value::Object(response.headers.clone());
    let vars = ResponseVars {
        response: &response.body,
        headers: &headers,
        settings,
    };
    let ctx = vars.context();
    let items = eval_list(items, &ctx, what)?;
    let total = match total {
        None => None,
        Some(expr) => match expr.eval(&ctx) {
            Ok(Some(Value::Number(n))) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
            Ok(Some(Value::String(s))) => s.trim().parse().ok(),
            _ => None,
        },
    };
    Ok((items, total))
}

impl MembersSpec {
    /// The platform keys of a group object's members.
    pub fn member_keys(
        &self,
        group: &Value,
        settings: &Value,
    ) -> Result<Option<Vec<String>>, MappingError> {
        let MemberSource::Object(expr) = &self.source else {
            return Ok(None);
        };
        let vars = ObjectVars {
            backend: group,
            settings,
        };
        let ctx = vars.context();
        Ok(Some(
            eval_list(expr, &ctx, "members")?
                .into_iter()
                .filter_map(as_key)
                .collect(),
        ))
    }

    /// The user key of one item of a `[groups.members.list]` answer.
    pub fn member_key_of(
        &self,
        item: &Value,
        settings: &Value,
    ) -> Result<Option<String>, MappingError> {
        let MemberSource::List { user_key, .. } = &self.source else {
            return Ok(None);
        };
        let vars = ItemVars { item, settings };
        Ok(user_key
            .eval(&vars.context())
            .map_err(|e| unusable("members.list.user_key", e))?
            .and_then(as_key))
    }
}

/// A key as text: a string, or a number written out.
fn as_key(value: Value) -> Option<String> {
    match value {
        Value::String(k) if !k.is_empty() => Some(k),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Evaluates an expression that must give a list (no value is an empty list).
fn eval_list(expr: &Expr, ctx: &Scope<'_>, what: &str) -> Result<Vec<Value>, MappingError> {
    match expr.eval(ctx) {
        Ok(Some(Value::Array(items))) => Ok(items),
        Ok(None) | Ok(Some(Value::Null)) => Ok(Vec::new()),
        Ok(Some(other)) => Err(MappingError::Unusable(format!(
            "{what}: `{}` gave {} instead of a list",
            expr.source(),
            json_kind(&other)
        ))),
        Err(e) => Err(MappingError::Unusable(format!("{what}: {e}"))),
    }
}

impl Pushdown {
    fn matches(&self, path: &AttrPath, op: CompareOp) -> bool {
        self.op == op && same_attribute(&self.attribute, path)
    }
}

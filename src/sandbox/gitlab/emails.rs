//! Secondary emails and identities of a user in the GitLab emulator: `GET|POST
//! /users/:id/emails`, `DELETE /users/:id/emails/:email_id` and
//! `DELETE /users/:id/identities/:provider`.

use super::pagination::{offset, paging, LinkBase};
use super::params::{parse_int, Check, Params};
use super::render;
use super::routes::{ApiError, ApiResult, Ctx, Reply};
use super::state::{now, Email, State};
use super::users::user_not_found;
use super::validate::{email_valid, Errors, BLANK, TAKEN};

/// `GET /users/:id/emails` (secondary emails).
pub(super) fn list_emails(st: &State, ctx: &Ctx<'_>, id: u64, params: &Params) -> ApiResult {
    let mut c = Check::new(params);
    let page = paging(&mut c);
    c.finish()?;
    let u = st.users.get(&id).ok_or_else(user_not_found)?;
    let (items, headers) = offset(u.emails.iter().collect(), page, &LinkBase::new(st, ctx));
    Reply::page(items.into_iter().map(render::email).collect(), headers)
}

/// `POST /users/:id/emails` → 201 Email; confirmed at once with `skip_confirmation`.
pub(super) fn add_email(st: &mut State, id: u64, params: &Params) -> ApiResult {
    let mut c = Check::new(params);
    c.require("email");
    let email = c.string("email").unwrap_or_default();
    let skip_confirmation = c.boolean("skip_confirmation").unwrap_or(false);
    c.finish()?;
    if !st.users.contains_key(&id) {
        return Err(user_not_found());
    }
    let mut e = Errors::default();
    if email.trim().is_empty() {
        e.add("email", BLANK);
    } else if !email_valid(&email) {
        e.add("email", "is invalid");
    } else if st.email_owner(&email).is_some() {
        e.add("email", TAKEN);
    }
    if !e.is_empty() {
        return Err(ApiError::validation(e.entries()));
    }
    let row = Email {
        id: st.alloc_email_id(),
        email,
        confirmed_at: skip_confirmation.then(now),
    };
    let body = render::email(&row);
    if let Some(u) = st.users.get_mut(&id) {
        u.emails.push(row);
    }
    Reply::created(&body)
}

/// `DELETE /users/:id/emails/:email_id` → 204.
pub(super) fn delete_email(st: &mut State, id: u64, email_id: &str) -> ApiResult {
    let Some(eid) = parse_int(email_id).and_then(|n| u64::try_from(n).ok()) else {
        return Err(ApiError::grape("email_id is invalid"));
    };
    let u = st.users.get_mut(&id).ok_or_else(user_not_found)?;
    let Some(pos) = u.emails.iter().position(|e| e.id == eid) else {
        return Err(ApiError::not_found("Email"));
    };
    let removed = u.emails.remove(pos);
    for field in [&mut u.public_email, &mut u.commit_email] {
        if field.as_deref() == Some(removed.email.as_str()) {
            *field = None;
        }
    }
    Reply::no_content()
}

/// `DELETE /users/:id/identities/:provider` → 204.
pub(super) fn delete_identity(st: &mut State, id: u64, provider: &str) -> ApiResult {
    let u = st.users.get_mut(&id).ok_or_else(user_not_found)?;
    let Some(pos) = u.identities.iter().position(|i| i.provider == provider) else {
        return Err(ApiError::not_found("Identity"));
    };
    u.identities.remove(pos);
    Reply::no_content()
}

//! User moderation and deletion in the GitLab emulator: `POST /users/:id/block|unblock|
//! deactivate|activate|ban|unban|approve` (201 with a bare `true`/`false`, or `null` when the
//! endpoint `break`s early; approve answers `{"message": "Success"}`) and the asynchronous
//! `DELETE /users/:id`. The reference sheet gives ban/unban/approve's refusals as 403 without
//! their texts; the texts here are the emulator's own.

use std::time::Instant;

use http::StatusCode;
use serde_json::Value;

use super::params::{Check, Params};
use super::routes::{Action, ApiError, ApiResult, Ctx, Reply};
use super::state::{Deletion, State, DORMANT_DAYS};

/// `POST /users/:id/<action>` → 201 `true` / `false` / `null`, or the endpoint's 403.
pub(super) fn act(st: &mut State, ctx: &Ctx<'_>, id: u64, action: Action) -> ApiResult {
    let u = st
        .users
        .get(&id)
        .ok_or_else(|| ApiError::not_found("User"))?;
    let state = u.state.clone();
    let blocked = u.blocked();
    let dormant = u.dormant();
    let body = match action {
        Action::Block => {
            if state == "ldap_blocked" {
                return Err(ApiError::forbidden(Some(
                    "LDAP blocked users cannot be modified by the API",
                )));
            }
            if id == ctx.actor {
                return Err(ApiError::forbidden(Some(
                    "The API initiating user cannot be blocked by the API",
                )));
            }
            if blocked {
                Value::Null
            } else {
                set_state(st, id, "blocked");
                Value::Bool(true)
            }
        }
        Action::Unblock => {
            if state == "ldap_blocked" {
                return Err(ApiError::forbidden(Some(
                    "LDAP blocked users cannot be unblocked by the API",
                )));
            }
            if state == "deactivated" {
                return Err(ApiError::forbidden(Some(
                    "Deactivated users cannot be unblocked by the API",
                )));
            }
            // `UnblockService` → `user.activate`, false when there is nothing to do.
            Value::Bool(state != "active" && set_state(st, id, "active"))
        }
        Action::Deactivate => {
            if state == "deactivated" {
                return Reply::json(StatusCode::CREATED, &Value::Null);
            }
            let refuse = |m: String| ApiError::message(StatusCode::FORBIDDEN, m);
            if blocked {
                return Err(refuse(
                    "Error occurred. A blocked user cannot be deactivated".to_string(),
                ));
            }
            if state != "active" || !dormant {
                return Err(refuse(format!(
                    "The user you are trying to deactivate has been active in the past {DORMANT_DAYS} days and cannot be deactivated"
                )));
            }
            set_state(st, id, "deactivated");
            Value::Bool(true)
        }
        Action::Activate => {
            if blocked {
                return Err(ApiError::forbidden(Some(
                    "A blocked user must be unblocked to be activated",
                )));
            }
            Value::Bool(state != "active" && set_state(st, id, "active"))
        }
        Action::Ban => {
            if state != "active" {
                return Err(ApiError::forbidden(Some(
                    "You cannot ban a user who is not active",
                )));
            }
            set_state(st, id, "banned");
            Value::Bool(true)
        }
        Action::Unban => {
            if state != "banned" {
                return Err(ApiError::forbidden(Some(
                    "You cannot unban a user who is not banned",
                )));
            }
            set_state(st, id, "active");
            Value::Bool(true)
        }
        Action::Approve => {
            if state != "blocked_pending_approval" {
                return Err(ApiError::forbidden(Some(
                    "The user you are trying to approve is not pending approval",
                )));
            }
            set_state(st, id, "active");
            serde_json::json!({"message": "Success"})
        }
    };
    Reply::json(StatusCode::CREATED, &body)
}

fn set_state(st: &mut State, id: u64, state: &str) -> bool {
    match st.users.get_mut(&id) {
        Some(u) => {
            u.state = state.to_string();
            u.updated_at = super::state::now();
            true
        }
        None => false,
    }
}

/// `DELETE /users/:id[?hard_delete=true]` → 204. The deletion runs after the configured
/// delay (`delete_async`); a sole group owner is refused with 409 unless `hard_delete`, which
/// also deletes the groups the user solely owns.
pub(super) fn delete(st: &mut State, id: u64, params: &Params) -> ApiResult {
    let mut c = Check::new(params);
    let hard = c.boolean("hard_delete").unwrap_or(false);
    c.finish()?;
    if !st.users.contains_key(&id) {
        return Err(ApiError::not_found("User"));
    }
    if !hard && !st.solely_owned_groups(id).is_empty() {
        return Err(ApiError::conflict(
            "User cannot be removed while is the sole-owner of a group",
        ));
    }
    let at = Instant::now() + st.delete_delay;
    if let Some(u) = st.users.get_mut(&id) {
        // A repeated DELETE keeps the first schedule (the worker is already queued).
        let hard = hard || u.deleting.is_some_and(|d| d.hard);
        let at = u.deleting.map_or(at, |d| d.at.min(at));
        u.deleting = Some(Deletion { at, hard });
    }
    st.purge(Instant::now());
    Reply::no_content()
}

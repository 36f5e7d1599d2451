//! Moderation (block/unblock/deactivate/activate/ban/unban/approve), asynchronous deletion and
//! id reuse.

use std::time::Duration;

use serde_json::{json, Value};

use super::{id, start, usernames};

#[tokio::test]
async fn block_and_unblock() {
    let env = start().await;
    let u = env.create_user("alice").await;
    let base = format!("/users/{}", id(&u));
    let r = env.call("POST", &format!("{base}/block"), None).await;
    assert_eq!((r.status, r.text.as_str()), (201, "true"));
    assert_eq!(env.get(&base).await.json["state"], "blocked");
    let r = env.call("POST", &format!("{base}/block"), None).await;
    assert_eq!((r.status, r.text.as_str()), (201, "null"));
    let r = env.call("POST", &format!("{base}/activate"), None).await;
    assert_eq!(
        (r.status, r.json),
        (
            403,
            json!({"message": "403 Forbidden - A blocked user must be unblocked to be activated"})
        )
    );
    let r = env.call("POST", &format!("{base}/deactivate"), None).await;
    assert_eq!(
        (r.status, r.json),
        (
            403,
            json!({"message": "Error occurred. A blocked user cannot be deactivated"})
        )
    );
    let r = env.call("POST", &format!("{base}/unblock"), None).await;
    assert_eq!((r.status, r.json), (201, Value::Bool(true)));
    let r = env.call("POST", &format!("{base}/unblock"), None).await;
    assert_eq!((r.status, r.json), (201, Value::Bool(false)));
    let r = env.call("POST", "/users/1/block", None).await;
    assert_eq!(
        (r.status, r.json),
        (
            403,
            json!({"message": "403 Forbidden - The API initiating user cannot be blocked by the API"})
        )
    );
    let r = env.call("POST", "/users/77/block", None).await;
    assert_eq!(
        (r.status, r.json),
        (404, json!({"message": "404 User Not Found"}))
    );
    assert!(env.emu.set_user_state("alice", "ldap_blocked"));
    let r = env.call("POST", &format!("{base}/block"), None).await;
    assert_eq!(
        r.json,
        json!({"message": "403 Forbidden - LDAP blocked users cannot be modified by the API"})
    );
    let r = env.call("POST", &format!("{base}/unblock"), None).await;
    assert_eq!(
        r.json,
        json!({"message": "403 Forbidden - LDAP blocked users cannot be unblocked by the API"})
    );
    assert!(!env.emu.set_user_state("alice", "sleeping"));
    env.stop().await;
}

#[tokio::test]
async fn deactivate_only_dormant_users() {
    let env = start().await;
    let u = env.create_user("alice").await;
    let base = format!("/users/{}", id(&u));
    let r = env.call("POST", &format!("{base}/deactivate"), None).await;
    assert_eq!(
        (r.status, r.json),
        (
            403,
            json!({"message": "The user you are trying to deactivate has been active in the past 90 days and cannot be deactivated"})
        )
    );
    assert!(env.emu.make_dormant("alice"));
    let r = env.call("POST", &format!("{base}/deactivate"), None).await;
    assert_eq!((r.status, r.text.as_str()), (201, "true"));
    assert_eq!(env.get(&base).await.json["state"], "deactivated");
    let r = env.call("POST", &format!("{base}/deactivate"), None).await;
    assert_eq!((r.status, r.text.as_str()), (201, "null"));
    let r = env.call("POST", &format!("{base}/unblock"), None).await;
    assert_eq!(
        (r.status, r.json),
        (
            403,
            json!({"message": "403 Forbidden - Deactivated users cannot be unblocked by the API"})
        )
    );
    // `activate` brings a deactivated user back; on an active user it answers false.
    let r = env.call("POST", &format!("{base}/activate"), None).await;
    assert_eq!((r.status, r.text.as_str()), (201, "true"));
    let r = env.call("POST", &format!("{base}/activate"), None).await;
    assert_eq!((r.status, r.text.as_str()), (201, "false"));
    // Recent activity makes the user non-dormant again.
    let recent = time::OffsetDateTime::now_utc().date() - time::Duration::days(30);
    assert!(env.emu.set_last_activity_on("alice", Some(recent)));
    assert_eq!(
        env.call("POST", &format!("{base}/deactivate"), None)
            .await
            .status,
        403
    );
    assert!(!env.emu.make_dormant("nobody"));
    env.stop().await;
}

#[tokio::test]
async fn delete_is_asynchronous_and_guards_sole_owners() {
    let env = start().await;
    let alice = env.create_user("alice").await;
    let bob = env.create_user("bob").await;
    let r = env
        .call("DELETE", &format!("/users/{}", id(&alice)), None)
        .await;
    assert_eq!((r.status, r.text.as_str()), (204, ""));
    assert_eq!(env.get(&format!("/users/{}", id(&alice))).await.status, 404);
    assert!(env.emu.user_json("alice").is_none());

    env.emu.set_delete_delay(Duration::from_millis(300));
    let r = env
        .call("DELETE", &format!("/users/{}", id(&bob)), None)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(env.get(&format!("/users/{}", id(&bob))).await.status, 200);
    assert_eq!(usernames(&env.get("/users").await.json), ["bob", "root"]);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(env.get(&format!("/users/{}", id(&bob))).await.status, 404);
    assert_eq!(usernames(&env.get("/users").await.json), ["root"]);
    env.emu.set_delete_delay(Duration::ZERO);

    // Sole owner of a group: 409 unless hard_delete, which also deletes the group.
    let carol = env.create_user("carol").await;
    let g = env.create_group("eng", None).await;
    env.add_member(id(&g), id(&carol), 50).await;
    let r = env
        .call("DELETE", &format!("/groups/{}/members/1", id(&g)), None)
        .await;
    assert_eq!(r.status, 204);
    let r = env
        .call("DELETE", &format!("/users/{}", id(&carol)), None)
        .await;
    assert_eq!(
        (r.status, r.json),
        (
            409,
            json!({"message": "User cannot be removed while is the sole-owner of a group"})
        )
    );
    let r = env
        .call(
            "DELETE",
            &format!("/users/{}?hard_delete=true", id(&carol)),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(env.get(&format!("/groups/{}", id(&g))).await.status, 404);
    let r = env.call("DELETE", "/users/99", None).await;
    assert_eq!(
        (r.status, r.json),
        (404, json!({"message": "404 User Not Found"}))
    );
    env.stop().await;
}

#[tokio::test]
async fn id_reuse_hook() {
    let env = start().await;
    let a = env.create_user("alice").await;
    let b = env.create_user("bob").await;
    assert_eq!((id(&a), id(&b)), (2, 3));
    env.call("DELETE", "/users/2", None).await;
    // GitLab never reuses ids.
    assert_eq!(id(&env.create_user("carol").await), 4);
    env.emu.set_id_reuse(true);
    let d = env.create_user("dave").await;
    assert_eq!(id(&d), 2);
    assert_eq!(env.emu.user_id("dave"), Some(2));
    assert_eq!(env.get("/users/2").await.json["username"], "dave");
    env.stop().await;
}

#[tokio::test]
async fn ban_unban_and_approve() {
    let env = start().await;
    let u = env.create_user("mallory").await;
    let base = format!("/users/{}", id(&u));
    let r = env.call("POST", &format!("{base}/unban"), None).await;
    assert_eq!(r.status, 403, "not banned");
    let r = env.call("POST", &format!("{base}/ban"), None).await;
    assert_eq!((r.status, r.json), (201, Value::Bool(true)));
    assert_eq!(env.get(&base).await.json["state"], "banned");
    let r = env.call("POST", &format!("{base}/ban"), None).await;
    assert_eq!(r.status, 403, "banned already");
    let r = env.call("POST", &format!("{base}/unban"), None).await;
    assert_eq!((r.status, r.json), (201, Value::Bool(true)));
    assert_eq!(env.get(&base).await.json["state"], "active");
    let r = env.call("POST", &format!("{base}/approve"), None).await;
    assert_eq!(r.status, 403, "not pending approval");
    assert!(env
        .emu
        .set_user_state("mallory", "blocked_pending_approval"));
    let r = env.call("POST", &format!("{base}/approve"), None).await;
    assert_eq!((r.status, r.json), (201, json!({"message": "Success"})));
    assert_eq!(env.get(&base).await.json["state"], "active");
}

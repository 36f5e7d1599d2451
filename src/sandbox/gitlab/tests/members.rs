//! Group members: add, list, get, change, remove, inherited members, the last-owner rule
//! and a user's memberships.

use serde_json::json;

use super::{id, start, usernames};

#[tokio::test]
async fn add_and_get_members() {
    let env = start().await;
    let g = env.create_group("eng", None).await;
    let alice = env.create_user("alice").await;
    env.create_user("bob").await;
    let members = format!("/groups/{}/members", id(&g));
    let r = env.add_member(id(&g), id(&alice), 30).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let m = &r.json;
    assert_eq!(
        (m["id"].clone(), m["username"].clone()),
        (json!(2), json!("alice"))
    );
    assert_eq!(
        (m["access_level"].clone(), m["state"].clone()),
        (json!(30), json!("active"))
    );
    assert_eq!(m["created_by"]["username"], "root");
    assert_eq!(m["expires_at"], json!(null));
    assert_eq!(m["email"], "alice@example.com");
    assert_eq!(m["web_url"], format!("{}/alice", env.root));
    let r = env
        .call(
            "POST",
            &members,
            Some(json!({"username": "BOB", "access_level": 20, "expires_at": "2999-01-31"})),
        )
        .await;
    assert_eq!(
        (r.status, r.json["expires_at"].clone()),
        (201, json!("2999-01-31"))
    );

    let r = env.add_member(id(&g), id(&alice), 40).await;
    assert_eq!(
        (r.status, r.json),
        (409, json!({"message": "Member already exists"}))
    );
    let r = env.add_member(id(&g), 99, 30).await;
    assert_eq!(
        (r.status, r.json),
        (404, json!({"message": "404 User Not Found"}))
    );
    let r = env
        .call(
            "POST",
            &members,
            Some(json!({"username": "nobody", "access_level": 30})),
        )
        .await;
    assert_eq!(
        (r.status, r.json),
        (404, json!({"message": "404 User Not Found"}))
    );
    let r = env
        .call("POST", &members, Some(json!({"user_id": id(&alice)})))
        .await;
    assert_eq!(
        (r.status, r.json),
        (400, json!({"error": "access_level is missing"}))
    );
    let r = env
        .call("POST", &members, Some(json!({"access_level": 30})))
        .await;
    assert_eq!(
        r.json,
        json!({"error": "user_id, username are missing, at least one parameter must be provided"})
    );
    let r = env
        .call(
            "POST",
            &members,
            Some(json!({"access_level": 30, "user_id": 2, "username": "bob"})),
        )
        .await;
    assert_eq!(
        r.json,
        json!({"error": "user_id, username are mutually exclusive"})
    );
    env.create_user("carol").await;
    let r = env
        .call(
            "POST",
            &members,
            Some(json!({"username": "carol", "access_level": 35})),
        )
        .await;
    assert_eq!(
        (r.status, r.json),
        (
            400,
            json!({"message": {"access_level": ["is not included in the list"]}})
        )
    );
    let r = env
        .call(
            "POST",
            "/groups/99/members",
            Some(json!({"user_id": 2, "access_level": 30})),
        )
        .await;
    assert_eq!(
        (r.status, r.json),
        (404, json!({"message": "404 Group Not Found"}))
    );

    let r = env.get(&format!("{members}/{}", id(&alice))).await;
    assert_eq!((r.status, r.json["access_level"].clone()), (200, json!(30)));
    let r = env.get(&format!("{members}/4")).await;
    assert_eq!(
        (r.status, r.json),
        (404, json!({"message": "404 Not found"}))
    );
    let r = env.get(&format!("{members}/x")).await;
    assert_eq!(
        (r.status, r.json),
        (400, json!({"error": "user_id is invalid"}))
    );
    env.stop().await;
}

#[tokio::test]
async fn list_filters_and_pagination() {
    let env = start().await;
    let g = env.create_group("eng", None).await;
    for name in ["alice", "bob", "carol", "dave"] {
        let u = env.create_user(name).await;
        env.add_member(id(&g), id(&u), 30).await;
    }
    let base = format!("/groups/{}/members", id(&g));
    let all = env.get(&base).await;
    assert_eq!(
        usernames(&all.json),
        ["root", "alice", "bob", "carol", "dave"]
    );
    assert_eq!(all.header("x-total"), Some("5"));
    let r = env.get(&format!("{base}?user_ids[]=2&user_ids[]=4")).await;
    assert_eq!(usernames(&r.json), ["alice", "carol"]);
    let r = env.get(&format!("{base}?user_ids=3,5")).await;
    assert_eq!(usernames(&r.json), ["bob", "dave"]);
    let r = env.get(&format!("{base}?query=car")).await;
    assert_eq!(usernames(&r.json), ["carol"]);
    let r = env.get(&format!("{base}?skip_users[]=1")).await;
    assert_eq!(r.json.as_array().unwrap().len(), 4);
    let r = env.get(&format!("{base}?per_page=2&page=3")).await;
    assert_eq!(usernames(&r.json), ["dave"]);
    assert_eq!(r.header("x-total-pages"), Some("3"));
    assert_eq!(r.header("x-prev-page"), Some("2"));
    assert_eq!(r.header("x-next-page"), Some(""));
    let mut names = Vec::new();
    let mut url = format!("{base}?per_page=2");
    loop {
        let r = env.get(&url).await;
        names.extend(usernames(&r.json));
        match r.link("next") {
            Some(n) => url = n,
            None => break,
        }
    }
    assert_eq!(names, usernames(&all.json));
    env.stop().await;
}

#[tokio::test]
async fn change_and_remove_with_the_last_owner_rule() {
    let env = start().await;
    let g = env.create_group("eng", None).await;
    let alice = env.create_user("alice").await;
    env.add_member(id(&g), id(&alice), 30).await;
    let base = format!("/groups/{}/members", id(&g));
    let r = env
        .call(
            "PUT",
            &format!("{base}/{}?access_level=40", id(&alice)),
            None,
        )
        .await;
    assert_eq!((r.status, r.json["access_level"].clone()), (200, json!(40)));
    let r = env
        .call("PUT", &format!("{base}/{}", id(&alice)), None)
        .await;
    assert_eq!(
        (r.status, r.json),
        (400, json!({"error": "access_level is missing"}))
    );
    let r = env
        .call("PUT", &format!("{base}/77?access_level=30"), None)
        .await;
    assert_eq!(
        (r.status, r.json),
        (404, json!({"message": "404 Not found"}))
    );
    // root is the only owner: it can be neither demoted nor removed.
    let r = env
        .call("PUT", &format!("{base}/1?access_level=30"), None)
        .await;
    assert_eq!(
        (r.status, r.json),
        (403, json!({"message": "403 Forbidden"}))
    );
    let r = env.call("DELETE", &format!("{base}/1"), None).await;
    assert_eq!(
        (r.status, r.json),
        (403, json!({"message": "403 Forbidden"}))
    );
    // With a second owner it can.
    env.call(
        "PUT",
        &format!("{base}/{}?access_level=50", id(&alice)),
        None,
    )
    .await;
    let r = env.call("DELETE", &format!("{base}/1"), None).await;
    assert_eq!((r.status, r.text.as_str()), (204, ""));
    assert_eq!(
        env.emu.group_members("eng"),
        Some(vec![("alice".to_string(), 50)])
    );
    let r = env.call("DELETE", &format!("{base}/1"), None).await;
    assert_eq!(
        (r.status, r.json),
        (404, json!({"message": "404 Not found"}))
    );
    env.stop().await;
}

#[tokio::test]
async fn inherited_members_and_memberships() {
    let env = start().await;
    let eng = env.create_group("eng", None).await;
    let alice = env.create_user("alice").await;
    let bob = env.create_user("bob").await;
    env.add_member(id(&eng), id(&alice), 40).await;
    let sub = env.create_group("sub", Some(id(&eng))).await;
    env.add_member(id(&sub), id(&bob), 20).await;
    let direct = env.get(&format!("/groups/{}/members", id(&sub))).await;
    assert_eq!(usernames(&direct.json), ["root", "bob"]);
    let all = env.get(&format!("/groups/{}/members/all", id(&sub))).await;
    assert_eq!(usernames(&all.json), ["root", "alice", "bob"]);
    let r = env
        .get(&format!("/groups/{}/members/all/{}", id(&sub), id(&alice)))
        .await;
    assert_eq!((r.status, r.json["access_level"].clone()), (200, json!(40)));
    assert_eq!(
        env.get(&format!("/groups/{}/members/{}", id(&sub), id(&alice)))
            .await
            .status,
        404
    );
    // A direct membership below an inherited one is refused.
    let r = env.add_member(id(&sub), id(&alice), 30).await;
    assert_eq!(
        (r.status, r.json),
        (
            400,
            json!({"message": {"access_level": ["should be greater than or equal to Maintainer inherited membership from group Group eng"]}})
        )
    );
    let r = env.get(&format!("/users/{}/memberships", id(&bob))).await;
    assert_eq!(
        r.json,
        json!([{"source_id": id(&sub), "source_name": "Group sub", "source_type": "Namespace", "access_level": 20}])
    );
    assert_eq!(
        env.get(&format!("/users/{}/memberships?type=Project", id(&bob)))
            .await
            .json,
        json!([])
    );
    // Removing from the parent also removes direct memberships of subgroups.
    env.add_member(id(&eng), id(&bob), 30).await;
    let r = env
        .call(
            "DELETE",
            &format!("/groups/{}/members/{}", id(&eng), id(&bob)),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        env.emu.group_members("eng/sub"),
        Some(vec![("root".to_string(), 50)])
    );
    env.stop().await;
}

//! Groups: create, get by id or encoded path, list/search, update, delete.

use serde_json::json;

use super::{id, start};

#[tokio::test]
async fn create_and_get() {
    let env = start().await;
    let g = env.create_group("eng", None).await;
    assert_eq!(g["id"], 2);
    assert_eq!(g["name"], "Group eng");
    assert_eq!(g["full_path"], "eng");
    assert_eq!(g["full_name"], "Group eng");
    assert_eq!(g["visibility"], "private");
    assert_eq!(g["parent_id"], json!(null));
    assert_eq!(g["description"], "");
    assert_eq!(g["web_url"], format!("{}/groups/eng", env.root));
    assert_eq!(g["projects"], json!([]));
    assert!(g["created_at"].as_str().unwrap().ends_with('Z'));
    // The creator is a direct owner.
    assert_eq!(
        env.emu.group_members("eng"),
        Some(vec![("root".to_string(), 50)])
    );

    let sub = env.create_group("sub", Some(id(&g))).await;
    assert_eq!(sub["full_path"], "eng/sub");
    assert_eq!(sub["full_name"], "Group eng / Group sub");
    assert_eq!(sub["parent_id"], 2);
    for path in ["/groups/eng%2Fsub", "/groups/ENG%2Fsub", "/groups/3"] {
        let r = env.get(path).await;
        assert_eq!((r.status, r.json["id"].clone()), (200, json!(3)), "{path}");
    }
    for path in ["/groups/eng%2Fnope", "/groups/99"] {
        let r = env.get(path).await;
        assert_eq!(
            (r.status, r.json),
            (404, json!({"message": "404 Group Not Found"}))
        );
    }
    assert_eq!(env.emu.group_json("eng/sub").unwrap()["id"], 3);
    env.stop().await;
}

#[tokio::test]
async fn create_errors() {
    let env = start().await;
    let r = env
        .call("POST", "/groups", Some(json!({"visibility": "secret"})))
        .await;
    assert_eq!(
        (r.status, r.json),
        (
            400,
            json!({"error": "name is missing, path is missing, visibility does not have a valid value"})
        )
    );
    let g = env.create_group("eng", None).await;
    let r = env
        .call(
            "POST",
            "/groups",
            Some(json!({"name": "Other", "path": "ENG"})),
        )
        .await;
    assert_eq!(
        (r.status, r.json),
        (
            400,
            json!({"message": "Failed to save group {:path=>[\"has already been taken\"]}"})
        )
    );
    // Top-level group paths share the namespace with usernames.
    env.create_user("alice").await;
    let r = env
        .call(
            "POST",
            "/groups",
            Some(json!({"name": "A", "path": "alice"})),
        )
        .await;
    assert_eq!(r.status, 400);
    // The same path is fine under another parent.
    env.create_group("alice", Some(id(&g))).await;
    let r = env
        .call(
            "POST",
            "/groups",
            Some(json!({"name": "X", "path": "x", "parent_id": 99})),
        )
        .await;
    assert_eq!(
        (r.status, r.json),
        (404, json!({"message": "404 Group Not Found"}))
    );
    let r = env
        .call("POST", "/groups", Some(json!({"name": "X", "path": "x y"})))
        .await;
    assert_eq!(
        r.json["message"],
        "Failed to save group {:path=>[\"can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end in '.', '.git' or '.atom'.\"]}"
    );
    env.stop().await;
}

#[tokio::test]
async fn list_search_and_pagination() {
    let env = start().await;
    let eng = env.create_group("eng", None).await;
    env.create_group("design", None).await;
    env.create_group("engine", Some(id(&eng))).await;
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|g| g["full_path"].as_str().unwrap().to_string())
            .collect()
    };
    // Default order: name asc.
    assert_eq!(
        names(&env.get("/groups").await.json),
        ["design", "eng", "eng/engine"]
    );
    assert_eq!(
        names(&env.get("/groups?search=eng").await.json),
        ["eng", "eng/engine"]
    );
    assert_eq!(
        names(&env.get("/groups?search=en").await.json),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&env.get("/groups?top_level_only=true").await.json),
        ["design", "eng"]
    );
    assert_eq!(
        names(&env.get("/groups?order_by=id&sort=desc").await.json),
        ["eng/engine", "design", "eng"]
    );
    assert_eq!(
        names(&env.get("/groups?skip_groups[]=2").await.json),
        ["design", "eng/engine"]
    );
    let r = env.get("/groups?per_page=2").await;
    assert_eq!(r.header("x-total"), Some("3"));
    assert_eq!(r.header("x-total-pages"), Some("2"));
    assert_eq!(r.header("x-next-page"), Some("2"));
    assert_eq!(
        names(&env.get(&r.link("next").unwrap()).await.json),
        ["eng/engine"]
    );
    env.stop().await;
}

#[tokio::test]
async fn update_and_delete() {
    let env = start().await;
    let eng = env.create_group("eng", None).await;
    env.create_group("ops", None).await;
    env.create_group("sub", Some(id(&eng))).await;
    let r = env
        .call(
            "PUT",
            "/groups/eng",
            Some(json!({"name": "Engineering", "description": "Builders"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.json["name"].clone(), r.json["description"].clone()),
        (json!("Engineering"), json!("Builders"))
    );
    let r = env
        .call("PUT", "/groups/eng", Some(json!({"path": "ops"})))
        .await;
    assert_eq!(
        (r.status, r.json),
        (
            400,
            json!({"message": {"path": ["has already been taken"]}})
        )
    );
    let r = env
        .call("PUT", "/groups/eng", Some(json!({"path": "engineering"})))
        .await;
    assert_eq!(r.json["full_path"], "engineering");
    assert_eq!(env.get("/groups/engineering%2Fsub").await.status, 200);

    let r = env.call("DELETE", "/groups/engineering", None).await;
    assert_eq!(
        (r.status, r.json),
        (202, json!({"message": "202 Accepted"}))
    );
    assert_eq!(env.get("/groups/2").await.status, 404);
    assert_eq!(env.get("/groups/4").await.status, 404);
    assert_eq!(env.get("/groups").await.json.as_array().unwrap().len(), 1);
    assert_eq!(env.call("DELETE", "/groups/2", None).await.status, 404);
    env.stop().await;
}

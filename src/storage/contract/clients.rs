//! Clients: list, update and secret replacement keep to their row; deleting a client revokes
//! its grants, spends its codes and forgets its consents in one go, and answers `None` after.

use crate::storage::Store;
use crate::storage::error::StoreError;
use crate::storage::oauth::{ClientRecord, CodeRecord, CodeRedemption, GrantStart};

fn client(id: &str, secret_hash: Option<&str>) -> ClientRecord {
    ClientRecord {
        id: id.into(),
        secret_hash: secret_hash.map(str::to_owned),
        redirect_uris: r#"["https://a.example/cb"]"#.into(),
        post_logout_redirect_uris: "[]".into(),
        scopes: r#"["openid"]"#.into(),
        grants: r#"["authorization_code"]"#.into(),
        is_public: secret_hash.is_none(),
        is_first_party: false,
        pkce_optional: false,
        created_at: 5,
        name: None,
        logo_uri: None,
        client_uri: None,
        policy_uri: None,
        tos_uri: None,
    }
}

pub(super) async fn clients_contract(store: &Store) {
    let clients = &store.clients;
    clients.insert(&client("cc-web", Some("h1"))).await.unwrap();
    clients.insert(&client("cc-spa", None)).await.unwrap();
    let ids: Vec<_> = clients
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert!(ids.windows(2).all(|w| w[0] <= w[1]), "by id: {ids:?}");
    assert!(ids.contains(&"cc-web".to_owned()) && ids.contains(&"cc-spa".to_owned()));

    let mut changed = client("cc-web", Some("ignored"));
    changed.name = Some("Web".into());
    changed.policy_uri = Some("https://a.example/privacy".into());
    changed.created_at = 999;
    clients.update(&changed).await.unwrap();
    let stored = clients.find_by_id("cc-web").await.unwrap().unwrap();
    assert_eq!(stored.name.as_deref(), Some("Web"));
    assert_eq!(
        stored.policy_uri.as_deref(),
        Some("https://a.example/privacy")
    );
    assert_eq!(
        stored.secret_hash.as_deref(),
        Some("h1"),
        "update keeps the secret"
    );
    assert_eq!(stored.created_at, 5, "and the creation time");
    assert!(matches!(
        clients.update(&client("cc-none", None)).await,
        Err(StoreError::NotFound)
    ));

    clients.set_secret_hash("cc-web", "h2").await.unwrap();
    let stored = clients.find_by_id("cc-web").await.unwrap().unwrap();
    assert_eq!(stored.secret_hash.as_deref(), Some("h2"));
    assert!(
        matches!(
            clients.set_secret_hash("cc-spa", "h3").await,
            Err(StoreError::NotFound)
        ),
        "a public client gets no secret"
    );

    deletion_contract(store).await;
}

/// A grant (from a redeemed code), an unused code and a consent of cc-web; then its deletion.
async fn deletion_contract(store: &Store) {
    let clients = &store.clients;
    let grants = &store.grants;
    grants.insert_code(&code("cc-code-1")).await.unwrap();
    grants.insert_code(&code("cc-code-2")).await.unwrap();
    let start = GrantStart {
        family_id: "cc-family".into(),
        expires_at: i64::MAX / 2,
    };
    assert!(matches!(
        grants.redeem_code("cc-code-1", 2, &start).await.unwrap(),
        CodeRedemption::Redeemed(_)
    ));
    store
        .grants
        .upsert_consent("u", "cc-web", r#"["openid"]"#, 1)
        .await
        .unwrap();
    assert_eq!(clients.delete("cc-web", 50).await.unwrap(), Some(1));
    assert!(clients.find_by_id("cc-web").await.unwrap().is_none());
    let f = store
        .grants
        .find_family("cc-family")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.revoked_at, Some(50));
    assert!(
        store
            .grants
            .find_consent("u", "cc-web")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !matches!(
            grants.redeem_code("cc-code-2", 70, &start).await.unwrap(),
            CodeRedemption::Redeemed(_)
        ),
        "its unused codes are spent"
    );
    assert_eq!(clients.delete("cc-web", 60).await.unwrap(), None);
    let state = store
        .grants
        .bearer_state("u", "jti", Some("cc-family"), "cc-web")
        .await
        .unwrap();
    assert!(!state.client_active && state.family_active == 0);
    let state = store
        .grants
        .bearer_state("u", "jti", None, "cc-spa")
        .await
        .unwrap();
    assert!(state.client_active);
}

fn code(hash: &str) -> CodeRecord {
    CodeRecord {
        code_hash: hash.into(),
        client_id: "cc-web".into(),
        user_id: "u".into(),
        redirect_uri: "https://a.example/cb".into(),
        scope: "openid".into(),
        nonce: None,
        code_challenge: None,
        auth_time: 1,
        amr: None,
        expires_at: i64::MAX / 2,
        family_id: None,
        used_at: None,
        created_at: 1,
    }
}

//! Clients: list, update and secret replacement keep to their row; deleting a client revokes
//! its grants, spends its codes and forgets its consents in one go, and answers `None` after;
//! disabling one revokes and spends the same but keeps it and its consents, and refuses its
//! tokens up to then even after it is enabled again.

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
        disabled_at: None,
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

    disable_contract(store).await;
    deletion_contract(store).await;
}

/// cc-off with a grant (`off-family`, from a redeemed code), an unused code and a consent.
async fn seed_disable(store: &Store) -> GrantStart {
    let grants = &store.grants;
    store
        .clients
        .insert(&client("cc-off", Some("h")))
        .await
        .unwrap();
    grants
        .insert_code(&code_of("cc-off", "off-1"))
        .await
        .unwrap();
    grants
        .insert_code(&code_of("cc-off", "off-2"))
        .await
        .unwrap();
    let start = GrantStart {
        family_id: "off-family".into(),
        expires_at: i64::MAX / 2,
    };
    assert!(matches!(
        grants.redeem_code("off-1", 2, &start).await.unwrap(),
        CodeRedemption::Redeemed(_)
    ));
    grants
        .upsert_consent("u", "cc-off", r#"["openid"]"#, 1)
        .await
        .unwrap();
    start
}

/// cc-off disabled, disabled again, enabled.
async fn disable_contract(store: &Store) {
    let clients = &store.clients;
    let grants = &store.grants;
    let start = seed_disable(store).await;
    let active = |iat: i64| async move {
        let s = grants
            .bearer_state("u", "jti-off", None, "cc-off", iat)
            .await
            .unwrap();
        s.client_active
    };
    assert!(active(30).await);
    // The digest introspection authenticates its caller against, read with the token's state.
    let secret_of = |client_id: &'static str| async move {
        grants
            .bearer_state("u", "jti-off", None, client_id, 30)
            .await
            .unwrap()
            .client_secret_hash
    };
    assert_eq!(secret_of("cc-off").await.as_deref(), Some("h"));
    assert_eq!(secret_of("cc-spa").await, None, "a public client has none");
    assert_eq!(secret_of("cc-none").await, None, "nor an unknown one");
    let done = clients.disable("cc-off", 40).await.unwrap().unwrap();
    assert_eq!(secret_of("cc-off").await, None, "nor a disabled one");
    assert_eq!((done.changed, done.grants_revoked), (true, 1));
    let stored = clients.find_by_id("cc-off").await.unwrap().unwrap();
    assert_eq!(stored.disabled_at, Some(40));
    assert!(
        clients
            .list()
            .await
            .unwrap()
            .iter()
            .any(|c| c.disabled_at == Some(40))
    );
    let f = grants.find_family("off-family").await.unwrap().unwrap();
    assert_eq!(f.revoked_at, Some(40));
    assert!(
        !matches!(
            grants.redeem_code("off-2", 41, &start).await.unwrap(),
            CodeRedemption::Redeemed(_)
        ),
        "its unused codes are spent"
    );
    assert!(grants.find_consent("u", "cc-off").await.unwrap().is_some());
    assert!(
        !active(30).await && !active(99).await,
        "refused while disabled"
    );
    let again = clients.disable("cc-off", 45).await.unwrap().unwrap();
    assert_eq!((again.changed, again.grants_revoked), (false, 0));
    assert_eq!(
        clients
            .find_by_id("cc-off")
            .await
            .unwrap()
            .unwrap()
            .disabled_at,
        Some(40)
    );

    assert_eq!(clients.enable("cc-off").await.unwrap(), Some(true));
    assert_eq!(clients.enable("cc-off").await.unwrap(), Some(false));
    assert_eq!(
        clients
            .find_by_id("cc-off")
            .await
            .unwrap()
            .unwrap()
            .disabled_at,
        None
    );
    assert!(
        !active(30).await && !active(45).await,
        "issued before: still refused"
    );
    assert!(active(46).await, "issued after the last disable");
    let f = grants.find_family("off-family").await.unwrap().unwrap();
    assert_eq!(f.revoked_at, Some(40), "no grant revived");
    assert!(clients.disable("cc-nosuch", 50).await.unwrap().is_none());
    assert!(clients.enable("cc-nosuch").await.unwrap().is_none());
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
        .bearer_state("u", "jti", Some("cc-family"), "cc-web", 10)
        .await
        .unwrap();
    assert!(!state.client_active && state.family_active == 0);
    let state = store
        .grants
        .bearer_state("u", "jti", None, "cc-spa", 10)
        .await
        .unwrap();
    assert!(state.client_active);
}

fn code(hash: &str) -> CodeRecord {
    code_of("cc-web", hash)
}

fn code_of(client_id: &str, hash: &str) -> CodeRecord {
    CodeRecord {
        code_hash: hash.into(),
        client_id: client_id.into(),
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

//! The console's clients, keys and model pages (`/admin/clients|keys|model`, docs/admin.md):
//! who gets in, each action's effect and its `admin_action` event, a created client's secret
//! (shown once, working at `/token`, stored only as a digest), forged CSRF refused with nothing
//! changed, an expired console session sent to sign in, and a promoted model picked up by
//! another instance.

use authd::domain::clock::Clock;
use authd::domain::risk::model::Model;
use authd::events::AuthEvent;
use reqwest::StatusCode;
use time::Duration;

use crate::admin_console::{admin, admin_actions, admin_signed_in};
use crate::helpers::{Page, TestApp, TestClient, raw_rows, spawn_app, spawn_app_on};

const PAGES: [&str; 3] = ["/admin/clients", "/admin/keys", "/admin/model"];

/// The text between `marker` and the next `<` or `"`.
fn after(body: &str, marker: &str) -> String {
    let start = body
        .find(marker)
        .unwrap_or_else(|| panic!("{marker}: {body}"))
        + marker.len();
    let rest = &body[start..];
    rest[..rest.find(['<', '"']).unwrap()].to_owned()
}

pub(crate) async fn admin_id(app: &TestApp, email: &str) -> String {
    let a = app.state.accounts.find_by_email(email).await.unwrap();
    a.unwrap().id
}

pub(crate) fn decisions(events: &[AuthEvent]) -> Vec<String> {
    events.iter().filter_map(|e| e.decision.clone()).collect()
}

/// A client-credentials token of `client` at `/token`.
pub(crate) async fn cc_token(app: &TestApp, id: &str, secret: &str) -> StatusCode {
    let client = TestClient {
        id: id.to_owned(),
        secret: Some(secret.to_owned()),
        redirect_uri: String::new(),
    };
    app.token(&client, &[("grant_type", "client_credentials")])
        .await
        .0
}

async fn create(app: &TestApp, id: &str) -> Page {
    let csrf = app.get("/admin/clients").await.csrf();
    app.post_form(
        "/admin/clients",
        &[
            ("csrf_token", &csrf),
            ("client_id", id),
            ("name", "Reports"),
            ("grants", "client_credentials"),
            ("scopes", "reports"),
        ],
    )
    .await
}

#[tokio::test]
async fn the_pages_let_in_only_an_admin_with_a_second_factor() {
    let app = spawn_app().await;
    for path in PAGES {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert!(page.location().starts_with("/login?next=%2Fadmin%2F"));
    }
    let user = app.user().await;
    app.post_login(&user.email, &user.password).await;
    let csrf = app.get("/account").await.csrf();
    for path in PAGES {
        assert_eq!(app.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    for path in ["/admin/clients", "/admin/keys/rotate", "/admin/model/train"] {
        let page = app.post_form(path, &[("csrf_token", &csrf)]).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
    }
    // An admin signed in with the password only: the step-up page.
    app.post_logout().await;
    let password_only = admin(&app).await;
    app.post_login(&password_only.email, &password_only.password)
        .await;
    for path in PAGES {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.body.contains("id=\"admin-step-up\""));
    }
    assert!(admin_actions(&app).await.is_empty());

    let app = spawn_app().await;
    admin_signed_in(&app).await;
    let home = app.get("/admin").await.body;
    for path in PAGES {
        assert!(home.contains(&format!("href=\"{path}\"")), "{path} linked");
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
    }
    assert!(app.get("/admin/keys").await.body.contains(">active<"));
    assert!(
        app.get("/admin/model")
            .await
            .body
            .contains("data-version=\"0\"")
    );
}

#[tokio::test]
async fn a_client_is_created_its_secret_shown_once_rotated_and_deleted() {
    let app = crate::helpers::spawn_app_with(|c| c.brand.product_name = "Acme ID".into()).await;
    let admin = admin_signed_in(&app).await;
    let admin_id = admin_id(&app, &admin.email).await;
    let made = create(&app, "reports-svc").await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    // The product's name, not authd's, on the console's pages too.
    assert!(
        made.body.contains("Acme ID keeps only its digest"),
        "{}",
        made.body
    );
    assert!(!made.body.contains("authd"), "{}", made.body);
    let secret = after(&made.body, "<code id=\"client-secret\">");
    assert!(secret.len() >= 32, "{secret}");
    // It works at /token; only a digest is stored.
    assert_eq!(cc_token(&app, "reports-svc", &secret).await, StatusCode::OK);
    let rows = raw_rows(
        &app.db,
        "select id, coalesce(secret_hash, '') from client where id = 'reports-svc'",
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert!(!rows[0][1].is_empty() && !rows[0][1].contains(&secret));
    // The list shows it, never the secret again.
    let list = app.get("/admin/clients").await.body;
    assert!(list.contains("data-client-id=\"reports-svc\""));
    assert!(list.contains("data-kind=\"confidential\""));
    assert!(list.contains("client_credentials") && list.contains("Reports"));
    assert!(!list.contains(&secret));

    let csrf = app.get("/admin/clients").await.csrf();
    let rotated = app
        .post_form(
            "/admin/clients/reports-svc/rotate-secret",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    let new_secret = after(&rotated.body, "<code id=\"client-secret\">");
    assert_ne!(new_secret, secret);
    assert_eq!(
        cc_token(&app, "reports-svc", &secret).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        cc_token(&app, "reports-svc", &new_secret).await,
        StatusCode::OK
    );

    // Delete needs the id typed again.
    let path = "/admin/clients/reports-svc/delete";
    let unconfirmed = app
        .post_form(path, &[("csrf_token", &csrf), ("confirm", "nope")])
        .await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        cc_token(&app, "reports-svc", &new_secret).await,
        StatusCode::OK
    );
    let deleted = app
        .post_form(path, &[("csrf_token", &csrf), ("confirm", "reports-svc")])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(deleted.location(), "/admin/clients?deleted=reports-svc");
    let after = app.get(deleted.location()).await.body;
    assert!(!after.contains("data-client-id=\"reports-svc\""));
    assert!(after.contains("Client reports-svc was deleted"), "{after}");
    // The notice says only what the console did: no words of a crafted query.
    let crafted = "/admin/clients?deleted=x%20after%20a%20leak.%20Call%20us&disabled=nobody";
    let page = app.get(crafted).await.body;
    assert!(
        !page.contains("after a leak") && !page.contains("nobody"),
        "{page}"
    );
    assert!(!page.contains("id=\"admin-notice\""));
    assert_eq!(
        cc_token(&app, "reports-svc", &new_secret).await,
        StatusCode::UNAUTHORIZED
    );

    let actions = admin_actions(&app).await;
    assert!(
        actions
            .iter()
            .all(|e| e.user_id.as_deref() == Some(admin_id.as_str()))
    );
    let mut got = decisions(&actions);
    got.sort();
    assert_eq!(
        got,
        [
            "client_add; target reports-svc",
            "client_delete; target reports-svc",
            "client_rotate_secret; target reports-svc",
        ]
    );
    // The secrets are in no event.
    for e in app.events().await {
        let text = format!("{e:?}");
        assert!(!text.contains(&secret) && !text.contains(&new_secret));
    }
}

#[tokio::test]
async fn forged_csrf_changes_nothing() {
    let app = spawn_app().await;
    admin_signed_in(&app).await;
    let made = create(&app, "kept").await;
    let secret = after(&made.body, "<code id=\"client-secret\">");
    let keys_before = app.get("/admin/keys").await.body;
    let clients_before = app.get("/admin/clients").await.body;
    let before = admin_actions(&app).await.len();
    for path in [
        "/admin/clients",
        "/admin/clients/kept/rotate-secret",
        "/admin/clients/kept/delete",
        "/admin/keys/rotate",
        "/admin/model/train",
        "/admin/model/1/promote",
    ] {
        for form in [
            vec![],
            vec![
                ("csrf_token", "forged"),
                ("confirm", "kept"),
                ("client_id", "x"),
            ],
        ] {
            let page = app.post_form(path, &form).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        }
    }
    assert_eq!(admin_actions(&app).await.len(), before);
    assert_eq!(app.get("/admin/keys").await.body, keys_before);
    assert_eq!(app.get("/admin/clients").await.body, clients_before);
    assert_eq!(cc_token(&app, "kept", &secret).await, StatusCode::OK);
}

#[tokio::test]
async fn an_idle_console_session_is_sent_to_sign_in_and_changes_nothing() {
    let app = spawn_app().await;
    admin_signed_in(&app).await;
    let csrf = app.get("/admin/keys").await.csrf();
    let kids = app.state.admin_ops.keys().await.unwrap().len();
    app.clock.advance(Duration::minutes(16));
    let page = app
        .post_form("/admin/keys/rotate", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        page.location().starts_with("/login?next="),
        "{}",
        page.location()
    );
    assert_eq!(app.state.admin_ops.keys().await.unwrap().len(), kids);
    assert!(admin_actions(&app).await.is_empty());
    assert_eq!(app.get("/admin/model").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn keys_rotate_from_the_console() {
    let app = spawn_app().await;
    admin_signed_in(&app).await;
    let page = app.get("/admin/keys").await;
    let old = after(&page.body, "data-kid=\"");
    let done = app
        .post_form("/admin/keys/rotate", &[("csrf_token", &page.csrf())])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), "/admin/keys?rotated=1");
    let after_page = app.get(done.location()).await.body;
    let row = &after_page[after_page.find(&format!("data-kid=\"{old}\"")).unwrap()..];
    assert!(row[..row.find("</tr>").unwrap()].contains("published until"));
    let ring = app.state.admin_ops.keys().await.unwrap();
    let active: Vec<_> = ring.iter().filter(|k| k.retire_after.is_none()).collect();
    assert!(!active.is_empty() && active.iter().all(|k| k.kid != old));
    let actions = decisions(&admin_actions(&app).await);
    assert_eq!(actions.len(), 1);
    assert!(
        actions[0].starts_with("keys_rotate; target "),
        "{actions:?}"
    );
    assert!(actions[0].contains(&active[0].kid));
}

/// Stores a model (the prior's weights) as the next version.
pub(crate) async fn store_model(app: &TestApp) -> i64 {
    store_model_with(app, Model::prior()).await
}

/// Stores a model fitted on another feature set (fewer weights) as the next version.
pub(crate) async fn store_foreign_model(app: &TestApp) -> i64 {
    let mut m = Model::prior();
    m.weights.truncate(2);
    store_model_with(app, m).await
}

async fn store_model_with(app: &TestApp, m: Model) -> i64 {
    let now = app.clock.now().unix_timestamp();
    let json = move |v: i64| {
        let mut m = m.clone();
        m.version = v;
        serde_json::to_string(&m).unwrap()
    };
    app.state.risk_store.save_model(&json, now).await.unwrap()
}

#[tokio::test]
async fn a_stored_model_is_promoted_everywhere_and_training_answers() {
    let app = spawn_app().await;
    admin_signed_in(&app).await;
    let v1 = store_model(&app).await;
    let v2 = store_model(&app).await;
    app.state.risk.reload().await.unwrap();
    app.state
        .risk_store
        .label("some-event", true, app.clock.now().unix_timestamp())
        .await
        .unwrap();
    let page = app.get("/admin/model").await;
    assert!(
        page.body
            .contains(&format!("id=\"model-in-use\" data-version=\"{v2}\""))
    );
    assert!(page.body.contains(&format!("<tr data-version=\"{v1}\">")));
    assert!(page.body.contains("<span id=\"labelled-count\">1</span>"));
    assert!(page.body.contains("some-event"));
    let other = spawn_app_on(app.db.share(), |_| {}).await;
    assert_eq!(other.state.risk.model().version, v2);

    let missing = app
        .post_form("/admin/model/999/promote", &[("csrf_token", &page.csrf())])
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let done = app
        .post_form(
            &format!("/admin/model/{v1}/promote"),
            &[("csrf_token", &page.csrf())],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(app.state.risk.model().version, v1);
    let shown = app.get(done.location()).await.body;
    assert!(shown.contains(&format!("id=\"model-in-use\" data-version=\"{v1}\"")));
    // Another instance picks it up on its model reload, as it would a new model (`false` when
    // its own 30-second reload job got there first on a slow run).
    other.state.risk.reload().await.unwrap();
    assert_eq!(other.state.risk.model().version, v1);

    let trained = app
        .post_form("/admin/model/train", &[("csrf_token", &page.csrf())])
        .await;
    assert_eq!(trained.status, StatusCode::OK, "{}", trained.body);
    assert!(trained.body.contains("id=\"train-message\""));
    let version = after(&trained.body, "<td id=\"train-version\">");
    let actions = decisions(&admin_actions(&app).await);
    assert!(
        actions.contains(&format!("model_promote; target {v1}")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&format!("model_train; target {version}")),
        "{actions:?}"
    );
    assert_eq!(actions.len(), 2);
}

#[tokio::test]
async fn the_console_rolls_back_to_the_prior_and_refuses_a_foreign_model() {
    let app = spawn_app().await;
    admin_signed_in(&app).await;
    let v1 = store_model(&app).await;
    let foreign = store_foreign_model(&app).await;
    app.state.risk.reload().await.unwrap();
    // The newest stored version does not fit: the loaded model stays.
    assert_eq!(app.state.risk.model().version, 0);
    let csrf = app.get("/admin/model").await.csrf();
    let done = app
        .post_form(
            &format!("/admin/model/{v1}/promote"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(app.state.risk.model().version, v1);
    let other = spawn_app_on(app.db.share(), |_| {}).await;
    assert_eq!(other.state.risk.model().version, v1);

    // A version fitted on other features: offered no button, refused, nothing changes.
    let page = app.get("/admin/model").await.body;
    let row = &page[page
        .find(&format!("<tr data-version=\"{foreign}\">"))
        .unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("fitted on other features") && !row.contains("<form"),
        "{row}"
    );
    let refused = app
        .post_form(
            &format!("/admin/model/{foreign}/promote"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.state.risk.model().version, v1);
    // Forged CSRF on the roll back: refused, nothing changes.
    for form in [vec![], vec![("csrf_token", "forged")]] {
        let page = app.post_form("/admin/model/0/promote", &form).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(app.state.risk.model().version, v1);
    assert_eq!(admin_actions(&app).await.len(), 1);

    // Back to the built-in prior, here at once and on the other instance at its reload.
    assert!(page.contains("id=\"use-prior\""));
    let done = app
        .post_form("/admin/model/0/promote", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), "/admin/model?promoted=0");
    assert_eq!(app.state.risk.model().version, 0);
    let shown = app.get(done.location()).await.body;
    assert!(shown.contains("id=\"model-in-use\" data-version=\"0\""));
    assert!(shown.contains("The built-in prior (version 0) is in use here"));
    assert!(!shown.contains("id=\"use-prior\""));
    other.state.risk.reload().await.unwrap(); // `false` if its own reload job came first
    assert_eq!(other.state.risk.model().version, 0);
    // A new instance starts on it too, though versions are stored.
    let third = spawn_app_on(app.db.share(), |_| {}).await;
    assert_eq!(third.state.risk.model().version, 0);
    assert!(!third.state.risk.reload().await.unwrap());
    let actions = decisions(&admin_actions(&app).await);
    assert_eq!(actions.len(), 2);
    assert!(
        actions.contains(&"model_promote; target 0".to_owned()),
        "{actions:?}"
    );
}

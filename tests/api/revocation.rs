//! Revocations reach everything issued before them: a code not yet exchanged when the user's
//! grants are revoked (`authd user revoke`, a password change or reset, "wasn't me", "sign out
//! everywhere"), the access tokens of a client deleted and added again under its id, and this
//! instance's bearer cache at once (other instances within its TTL) — without a client's
//! revocation of its own tokens emptying the cache for every other client.

use reqwest::StatusCode;

use crate::helpers::{TestApp, TestClient, new_client, spawn_app, spawn_app_on, str_of};

/// `authd ARGS` on the test database, which must succeed; stdout as JSON.
async fn cli(app: &TestApp, args: &[&str]) -> serde_json::Value {
    let (ok, out, err) = crate::cli_users::cli(app, args).await;
    assert!(ok, "{err}");
    out
}

#[tokio::test]
async fn revoking_a_user_spends_the_codes_not_yet_exchanged() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let (code, verifier) = app.code_for(&client, &user, "openid").await;
    let done = cli(&app, &["user", "revoke", &user.email]).await;
    assert_eq!(done["grants_revoked"], 0, "{done}");
    let (status, body) = app
        .token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    // A code issued after the revocation is good.
    let tokens = app.tokens_for(&client, &user, "openid").await;
    assert_eq!(
        app.userinfo(str_of(&tokens, "access_token")).await.0,
        StatusCode::OK
    );
}

/// `authd client add` for a client-credentials client holding `admin`.
const ADD_OPS_BOT: [&str; 7] = [
    "client",
    "add",
    "ops-bot",
    "--grant",
    "client_credentials",
    "--scope",
    "admin",
];

/// A client-credentials token of `id` with `secret`.
async fn admin_token(app: &TestApp, id: &str, secret: &str) -> String {
    let client = TestClient {
        id: id.to_owned(),
        secret: Some(secret.to_owned()),
        redirect_uri: String::new(),
    };
    let (status, body) = app
        .token(&client, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    str_of(&body, "access_token").to_owned()
}

/// `GET /admin/api/events` with `token`: the status.
async fn admin_events(app: &TestApp, token: &str) -> StatusCode {
    new_client()
        .get(app.url("/admin/api/events?limit=1"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_client_added_again_under_a_deleted_ones_id_does_not_revive_its_tokens() {
    let app = spawn_app().await;
    let first = cli(&app, &ADD_OPS_BOT).await;
    let old = admin_token(&app, "ops-bot", str_of(&first, "client_secret")).await;
    assert_eq!(admin_events(&app, &old).await, StatusCode::OK);
    let deleted = cli(&app, &["client", "delete", "ops-bot"]).await;
    assert_eq!(deleted["deleted"], true, "{deleted}");
    let again = cli(&app, &ADD_OPS_BOT).await;
    // Past this instance's bearer cache, and past the real clock the commands ran on (the
    // server's clock is a fake one, started with the test); the old token is still unexpired.
    app.clock.advance(time::Duration::seconds(60));
    assert_eq!(
        admin_events(&app, &old).await,
        StatusCode::UNAUTHORIZED,
        "the deleted client's token"
    );
    let new = admin_token(&app, "ops-bot", str_of(&again, "client_secret")).await;
    assert_eq!(admin_events(&app, &new).await, StatusCode::OK);
}

#[tokio::test]
async fn a_user_wide_revocation_clears_this_instance_s_bearer_cache_at_once() {
    use authd::domain::account_security::password::RevokedBy;
    // A long cache: only the clearing can make the revocation show before it runs out.
    let app = crate::helpers::spawn_app_with(|c| c.bearer_cache_secs = 60).await;
    let user = app.user().await;
    let client = app.web_client().await;
    let tokens = app.tokens_for(&client, &user, "openid").await;
    let access = str_of(&tokens, "access_token");
    assert_eq!(app.userinfo(access).await.0, StatusCode::OK, "now cached");
    let id = app.user_id(&user.email).await;
    let ctx =
        authd::domain::context::RequestContext::new([127, 0, 0, 1].into(), "test", "r-1".into());
    let (_, grants) = app
        .state
        .security
        .revoke_everything(&ctx, &id, RevokedBy::Admin)
        .await
        .unwrap();
    assert_eq!(grants, 1);
    // No clock advance.
    assert_eq!(app.userinfo(access).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_client_revoking_its_own_tokens_forgets_only_those_in_the_bearer_cache() {
    // A long cache on A; B shares the database and revokes behind A's cache, so only A
    // forgetting an entry shows at once on A.
    let a = crate::helpers::spawn_app_with(|c| c.bearer_cache_secs = 60).await;
    let b = spawn_app_on(a.db.share(), |c| c.issuer = a.address.parse().unwrap()).await;
    let user = a.user().await;
    let (mine, theirs) = (a.web_client().await, a.web_client().await);
    let own = a.tokens_for(&mine, &user, "openid").await;
    let other = a.tokens_for(&theirs, &user, "openid").await;
    let (own_at, own_rt) = (str_of(&own, "access_token"), str_of(&own, "refresh_token"));
    let other_at = str_of(&other, "access_token");
    for t in [own_at, other_at] {
        assert_eq!(a.userinfo(t).await.0, StatusCode::OK, "now cached on A");
    }
    assert_eq!(b.revoke(&theirs, other_at).await, StatusCode::OK);
    assert_eq!(
        a.userinfo(other_at).await.0,
        StatusCode::OK,
        "revoked on B: A's entry holds for its TTL (what the rest of this test relies on)"
    );
    // The other client's revocations on A: of a token, then of a whole grant.
    let spare = a.tokens_for(&mine, &user, "openid").await;
    let spare_at = str_of(&spare, "access_token");
    assert_eq!(a.userinfo(spare_at).await.0, StatusCode::OK);
    assert_eq!(a.revoke(&mine, spare_at).await, StatusCode::OK);
    assert_eq!(
        a.userinfo(spare_at).await.0,
        StatusCode::UNAUTHORIZED,
        "at once"
    );
    assert_eq!(a.revoke(&mine, own_rt).await, StatusCode::OK);
    assert_eq!(
        a.userinfo(own_at).await.0,
        StatusCode::UNAUTHORIZED,
        "the grant's access token, at once"
    );
    assert_eq!(
        a.userinfo(other_at).await.0,
        StatusCode::OK,
        "another client's entry was not thrown out with them"
    );
    a.clock.advance(time::Duration::seconds(61));
    assert_eq!(a.userinfo(other_at).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn taking_admin_away_from_a_client_closes_the_admin_api_to_its_tokens_at_once() {
    let app = spawn_app().await;
    let made = cli(&app, &ADD_OPS_BOT).await;
    let token = admin_token(&app, "ops-bot", str_of(&made, "client_secret")).await;
    assert_eq!(admin_events(&app, &token).await, StatusCode::OK);
    let updated = cli(&app, &["client", "update", "ops-bot", "--scope", "reports"]).await;
    assert_eq!(
        updated["scopes"],
        serde_json::json!(["reports"]),
        "{updated}"
    );
    // The token still says `admin`, and is unexpired and cached; the client holds it no more.
    assert_eq!(admin_events(&app, &token).await, StatusCode::FORBIDDEN);
}

/// POSTs a new password with the token of the reset link `link` (a full URL) from a fresh
/// browser, whatever the link's own page says.
async fn reset_with(app: &TestApp, link: &str, password: &str) -> crate::helpers::Page {
    let browser = new_client();
    let token = crate::helpers::query_param(link, "token").expect("a token");
    let csrf = crate::helpers::read(browser.get(app.url("/login")).send().await.unwrap())
        .await
        .csrf();
    let form = [
        ("token", token.as_str()),
        ("password", password),
        ("csrf_token", &csrf),
    ];
    crate::helpers::read(
        browser
            .post(app.url("/password/reset"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn ending_every_session_or_changing_the_password_spends_the_reset_links_already_mailed() {
    let app = spawn_app().await;
    let user = app.user().await;
    let asker = new_client();
    let link = || async {
        app.drain_mail().await;
        let mails = app.outbox(0).await;
        mails
            .iter()
            .rev()
            .find_map(|m| crate::smtp::reset_link(m))
            .expect("a reset link")
    };
    crate::password_reset::forgot(&app, &asker, &user.email).await;
    let first = link().await;
    // The owner reports trouble: every session ends (`authd user revoke`, "wasn't me").
    cli(&app, &["user", "revoke", &user.email]).await;
    let page = reset_with(&app, &first, "an attacker's passphrase").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    // A link asked for afterwards is a new one, and works; it spends any other.
    app.clock.advance(time::Duration::minutes(61)); // past the reset-mail budget's hour
    crate::password_reset::forgot(&app, &asker, &user.email).await;
    let second = link().await;
    assert_ne!(second, first);
    let page = reset_with(&app, &second, "the owner's new passphrase").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    // A link mailed, then the password changed on the security page: the link is spent.
    app.clock.advance(time::Duration::minutes(61));
    crate::password_reset::forgot(&app, &asker, &user.email).await;
    let third = link().await;
    assert_ne!(third, second);
    let id = app.user_id(&user.email).await;
    let ctx =
        authd::domain::context::RequestContext::new([127, 0, 0, 1].into(), "test", "r-2".into());
    app.state
        .security
        .change_password(
            &ctx,
            &id,
            &"the owner's new passphrase".to_owned().into(),
            "another new passphrase".to_owned().into(),
            None,
        )
        .await
        .unwrap();
    let page = reset_with(&app, &third, "an attacker's passphrase").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
}

#[tokio::test]
async fn a_user_wide_revocation_catches_a_code_being_redeemed_at_that_moment() {
    grant_of_a_racing_code_is_revoked(false).await;
}

#[tokio::test]
async fn disabling_an_account_catches_a_code_being_redeemed_at_that_moment() {
    grant_of_a_racing_code_is_revoked(true).await;
}

/// A redemption stopped half-way (its code spent and its grant inserted, not committed) while
/// the user's grants are revoked (`disable`: the account disabled): once it commits, its grant
/// is revoked too.
async fn grant_of_a_racing_code_is_revoked(disable: bool) {
    use authd::domain::account_security::password::RevokedBy;
    let app = spawn_app().await;
    // SQLite writes one transaction at a time; PostgreSQL's read committed is where the order
    // of the revocation's two statements decided whether the racing grant was missed.
    if !app.db.is_postgres() {
        return;
    }
    let user = app.user().await;
    let client = app.web_client().await;
    let (code, _) = app.code_for(&client, &user, "openid").await;
    let hash = authd::domain::oauth::digest(&code);
    let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("update auth_code set used_at = 1, family_id = 'race' where code_hash = $1")
        .bind(&hash)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "insert into token_family (id, client_id, user_id, scope, auth_time, amr, expires_at, \
         revoked_at, created_at) select 'race', client_id, user_id, scope, auth_time, amr, \
         4102444800, null, 1 from auth_code where code_hash = $1",
    )
    .bind(&hash)
    .execute(&mut *tx)
    .await
    .unwrap();
    let id = app.user_id(&user.email).await;
    let (security, admin) = (app.state.security.clone(), app.state.account_admin.clone());
    let revoke = tokio::spawn(async move {
        let ctx = authd::domain::context::RequestContext::new(
            [127, 0, 0, 1].into(),
            "test",
            "r-1".into(),
        );
        if disable {
            let cli = authd::domain::accounts::admin::Actor::Cli;
            admin.disable(&ctx, cli, &id).await.map(drop).unwrap();
        } else {
            security
                .revoke_everything(&ctx, &id, RevokedBy::Admin)
                .await
                .map(drop)
                .unwrap();
        }
    });
    // Until the revocation waits on the redemption's row (PostgreSQL says when).
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity \
             where datname = current_database() and wait_event_type = 'Lock'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if waiting > 0 || revoke.is_finished() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    tx.commit().await.unwrap();
    revoke.await.unwrap();
    let revoked: Option<i64> =
        sqlx::query_scalar("select revoked_at from token_family where id = 'race'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        revoked.is_some(),
        "the grant the racing code started is revoked"
    );
    pool.close().await;
}

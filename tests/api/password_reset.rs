//! Password reset: the same answer for known and unknown addresses, a single-use link that
//! expires, every session ended, the password-changed mail, and per-recipient mail limits.

use reqwest::StatusCode;

use authd::events::EventKind;

use crate::helpers::{assert_redirect_to, new_client, read, spawn_app};
use crate::smtp::reset_link;

pub(crate) async fn forgot(
    app: &crate::helpers::TestApp,
    client: &reqwest::Client,
    email: &str,
) -> crate::helpers::Page {
    let csrf = read(
        client
            .get(app.url("/password/forgot"))
            .send()
            .await
            .unwrap(),
    )
    .await
    .csrf();
    read(
        client
            .post(app.url("/password/forgot"))
            .form(&[("email", email), ("csrf_token", &csrf)])
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn reset_by_mailed_link_ends_every_session() {
    let app = spawn_app().await;
    let user = app.signed_in_user().await; // app.client holds a live session
    let other_browser = new_client();
    let csrf = read(other_browser.get(app.url("/login")).send().await.unwrap())
        .await
        .csrf();
    other_browser
        .post(app.url("/login"))
        .form(&[
            ("username", user.email.as_str()),
            ("password", user.password.as_str()),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();

    let asker = new_client();
    let known = forgot(&app, &asker, &user.email).await;
    let unknown = forgot(&app, &asker, "nobody@example.com").await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(
        known.body, unknown.body,
        "the same answer whether or not the account exists"
    );
    assert!(known.body.contains("forgot-sent"));

    // The second browser's sign-in also sent a new-device alert; the reset mail is separate.
    let mails = app.outbox(2).await;
    let resets: Vec<&String> = mails
        .iter()
        .filter(|m| m.contains("Subject: Reset your password"))
        .collect();
    assert_eq!(
        resets.len(),
        1,
        "one reset mail, for the known address only"
    );
    assert!(
        mails
            .iter()
            .any(|m| m.contains("Subject: New sign-in to your account"))
    );
    let mail = resets[0];
    assert!(mail.contains(&format!("To: {}", user.email)));
    assert!(mail.contains("Message-ID: <"));
    assert!(mail.contains("multipart/alternative"));
    let link = reset_link(mail).expect("a reset link");
    assert!(link.starts_with(&app.address));
    let path = link.trim_start_matches(&app.address).to_owned();

    let page = read(asker.get(app.url(&path)).send().await.unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    let token = crate::helpers::input_value(&page.body, "token");
    // A too-short password is refused and does not burn the link.
    let short = post_reset(&app, &asker, &token, "short", &page.csrf()).await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    let done = post_reset(&app, &asker, &token, "a brand new passphrase", &page.csrf()).await;
    assert_redirect_to(&done, "/login?reset=1");

    // Both browsers that were signed in are signed out.
    assert!(app.get("/account").await.location().starts_with("/login"));
    let other = read(other_browser.get(app.url("/account")).send().await.unwrap()).await;
    assert!(other.location().starts_with("/login"));
    // The old password is dead, the new one works, the link is spent.
    let fresh = new_client();
    let csrf = read(fresh.get(app.url("/login")).send().await.unwrap())
        .await
        .csrf();
    let old = fresh
        .post(app.url("/login"))
        .form(&[
            ("username", user.email.as_str()),
            ("password", user.password.as_str()),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let new = fresh
        .post(app.url("/login"))
        .form(&[
            ("username", user.email.as_str()),
            ("password", "a brand new passphrase"),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(new.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        read(asker.get(app.url(&path)).send().await.unwrap())
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let mails = app.outbox(2).await;
    assert!(
        mails
            .iter()
            .any(|m| m.contains("Subject: Your password was changed"))
    );
    let events = app.events().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == EventKind::PasswordResetRequested)
            .count(),
        2
    );
    assert!(events.iter().any(|e| e.kind == EventKind::PasswordChanged));
    assert!(events.iter().any(|e| e.kind == EventKind::SessionRevoked
        && e.decision.as_deref() == Some("password_changed")));
    let dump = serde_json::to_string(&events).unwrap();
    assert!(!dump.contains(&token) && !dump.contains("a brand new passphrase"));
}

#[tokio::test]
async fn reset_links_expire_and_reset_mails_are_limited() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = new_client();
    forgot(&app, &client, &user.email).await;
    let link = reset_link(&app.outbox(1).await[0]).unwrap();
    app.clock.advance(time::Duration::minutes(31));
    let path = link.trim_start_matches(&app.address).to_owned();
    assert_eq!(
        read(client.get(app.url(&path)).send().await.unwrap())
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    // No mail bombing: at most three reset mails an hour per address.
    for _ in 0..5 {
        forgot(&app, &client, &user.email).await;
    }
    assert_eq!(app.outbox(3).await.len(), 3);
    // Every request's work has finished and every mail due has been delivered: still three.
    app.drain_mail().await;
    assert_eq!(
        app.outbox(3).await.len(),
        3,
        "at most three reset mails per address in any hour"
    );
}

/// Issue #15: asking again while a link is live mails that same link (kept sealed, never in the
/// clear), so an account has one live link however often the form is sent; a link with less
/// than ten minutes left, or a spent one, is not mailed again.
#[tokio::test]
async fn asking_again_mails_the_live_link_not_a_new_one() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = new_client();
    forgot(&app, &client, &user.email).await;
    // Each request's work runs after its answer; two at the same instant may each mint a link
    // (one extra live link, never a lost one): the second asks once the first is done.
    app.state.background.settled().await;
    forgot(&app, &client, &user.email).await;
    let mails = app.outbox(2).await;
    let links: Vec<String> = mails.iter().filter_map(|m| reset_link(m)).collect();
    assert_eq!(links.len(), 2, "both requests mailed");
    assert_eq!(links[0], links[1], "the live link again, not a second one");
    let token = crate::helpers::query_param(&links[0], "token").unwrap();
    let rows = crate::helpers::raw_rows(
        &app.db,
        "select token_hash, coalesce(sealed_token, '') from password_reset",
    )
    .await;
    assert_eq!(rows.len(), 1, "one live link: {rows:?}");
    assert!(rows[0][1].starts_with("v2:"), "sealed: {rows:?}");
    assert!(rows.iter().flatten().all(|cell| !cell.contains(&token)));

    // Nine minutes left: a new link is minted (the old one still works until spent).
    app.clock.advance(time::Duration::minutes(21));
    app.state.background.settled().await;
    forgot(&app, &client, &user.email).await;
    let mails = app.outbox(3).await;
    let third = reset_link(&mails[2]).unwrap();
    assert_ne!(
        third, links[0],
        "a link about to expire is not mailed again"
    );

    // Spent: every link of the account is cleared, and the next request mints a new one.
    let path = third.trim_start_matches(&app.address).to_owned();
    let page = read(client.get(app.url(&path)).send().await.unwrap()).await;
    let reset_token = crate::helpers::query_param(&third, "token").unwrap();
    let passphrase = "another long passphrase";
    let done = post_reset(&app, &client, &reset_token, passphrase, &page.csrf()).await;
    assert!(
        done.status.is_success() || done.status.is_redirection(),
        "{}",
        done.body
    );
    let sealed = crate::helpers::raw_rows(
        &app.db,
        "select token_hash from password_reset where sealed_token is not null",
    )
    .await;
    assert!(
        sealed.is_empty(),
        "spending clears the sealed links: {sealed:?}"
    );
}

/// A reset asked for from `ip` by a fresh browser.
async fn forgot_from(app: &crate::helpers::TestApp, ip: &str, email: &str) {
    let client = new_client();
    let get = client
        .get(app.url("/password/forgot"))
        .header("x-forwarded-for", ip);
    let csrf = read(get.send().await.unwrap()).await.csrf();
    let post = client
        .post(app.url("/password/forgot"))
        .header("x-forwarded-for", ip)
        .form(&[("email", email), ("csrf_token", &csrf)]);
    assert_eq!(
        read(post.send().await.unwrap()).await.status,
        StatusCode::OK
    );
}

/// Anyone who knows the address can spend the reset mails of every network they can ask
/// from; the networks the account has signed in from have a share of their own, so the owner
/// asking from home still gets the link.
#[tokio::test]
async fn other_networks_spending_the_reset_mails_leave_the_owners_networks_theirs() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.trusted_proxies = crate::helpers::cidrs(&["127.0.0.1/32"]);
    })
    .await;
    let user = app.user().await;
    let home = new_client();
    let page = app
        .sign_in_from(&home, "198.51.100.7", &user.email, &user.password, None)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    for net in 1..=4 {
        for _ in 0..3 {
            forgot_from(&app, &format!("203.0.{net}.9"), &user.email).await;
        }
    }
    app.state.background.settled().await;
    app.drain_mail().await;
    let resets = |mails: Vec<String>| mails.iter().filter(|m| reset_link(m).is_some()).count();
    assert_eq!(
        resets(app.outbox(0).await),
        10,
        "ten an hour from elsewhere"
    );
    forgot_from(&app, "198.51.100.8", &user.email).await;
    app.state.background.settled().await;
    app.drain_mail().await;
    assert_eq!(
        resets(app.outbox(0).await),
        11,
        "the owner's network has its own"
    );
}

/// A reset sent while a sign-in flood fills the ordinary hash queue is neither refused nor
/// spent for nothing: the new password is hashed (in the known lane: only a live link's holder
/// gets there) before the link is spent. Before, the link was spent first and a full queue's
/// `503` left the owner with a dead link and the old password.
#[tokio::test]
async fn a_reset_during_a_sign_in_flood_is_answered_and_does_not_burn_its_link() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.hash_workers = 1;
        c.hash_queue = 1;
        c.hash_params.memory_kib = 65_536;
        c.hash_params.iterations = 3;
        c.trusted_proxies = crate::helpers::cidrs(&["127.0.0.1/32"]);
    })
    .await;
    let user = app.user().await;
    let asker = new_client();
    forgot(&app, &asker, &user.email).await;
    let link = reset_link(&app.outbox(1).await[0]).unwrap();
    let path = link.trim_start_matches(&app.address).to_owned();
    let page = read(asker.get(app.url(&path)).send().await.unwrap()).await;
    let token = crate::helpers::input_value(&page.body, "token");

    // Unknown names from addresses of their own keep the one worker and its one queue place
    // busy until the reset has its answer; a probe from another address sees the queue full.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood: Vec<_> = (0..8u32)
        .map(|i| {
            let (url, stop) = (app.url("/login"), stop.clone());
            tokio::spawn(async move {
                let mut n = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let ip = format!("{}.{}.{}.7", 20 + i, n / 200, n % 200);
                    guess(&url, &ip, &format!("nobody-{i}-{n}@example.com")).await;
                    n += 1;
                }
            })
        })
        .collect();
    let mut saturated = false;
    for n in 0..300u32 {
        let ip = format!("{}.{}.9.9", 40 + n % 150, n / 150);
        if guess(&app.url("/login"), &ip, "probe@example.com").await
            == StatusCode::SERVICE_UNAVAILABLE
        {
            saturated = true;
            break;
        }
    }
    assert!(saturated, "the flood never filled the ordinary queue");
    let done = post_reset(&app, &asker, &token, "a brand new passphrase", &page.csrf()).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in flood {
        t.await.unwrap();
    }
    assert_redirect_to(&done, "/login?reset=1");
    // The new password is the account's (checked directly: the flood has set off the wave
    // defences, which challenge a sign-in from a new place).
    let account = app.account(&user.email).await;
    let hasher = app.state.accounts.hasher();
    let new = secrecy::SecretString::from("a brand new passphrase");
    assert!(
        hasher
            .verify(&new, Some(&account.password_hash))
            .await
            .unwrap()
    );
}

/// Whoever registered an address they do not own may have named the account; the owner's
/// reset, which proves the mailbox, clears that name with the squatter's factors, so apps are
/// not told the squatter's "Support Team" as the owner's `name`.
#[tokio::test]
async fn a_reset_that_proves_the_address_clears_the_squatters_name() {
    let app = spawn_app().await;
    let squatter = app.signed_in_user().await;
    let csrf = app.get("/account").await.csrf();
    let form = [("name", "Support Team"), ("csrf_token", csrf.as_str())];
    let saved = app.post_form("/account", &form).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let named = app.account(&squatter.email).await;
    assert_eq!(named.name.as_deref(), Some("Support Team"));
    assert!(named.email_verified_at.is_none());

    let owner = new_client();
    forgot(&app, &owner, &squatter.email).await;
    // (The registration's verification mail may come first.)
    let mut link = None;
    for n in 1..=2 {
        if link.is_none() {
            link = app.outbox(n).await.iter().find_map(|m| reset_link(m));
        }
    }
    let link = link.expect("a reset link");
    let path = link.trim_start_matches(&app.address).to_owned();
    let page = read(owner.get(app.url(&path)).send().await.unwrap()).await;
    let token = crate::helpers::input_value(&page.body, "token");
    let passphrase = "the owner's own passphrase";
    let done = post_reset(&app, &owner, &token, passphrase, &page.csrf()).await;
    assert_redirect_to(&done, "/login?reset=1");
    let adopted = app.account(&squatter.email).await;
    assert!(adopted.email_verified_at.is_some());
    assert_eq!(adopted.name, None);
}

/// One wrong sign-in from `ip` (through the trusted proxy header) in a browser of its own.
async fn guess(url: &str, ip: &str, name: &str) -> StatusCode {
    let client = new_client();
    let get = client.get(url).header("x-forwarded-for", ip);
    let csrf = read(get.send().await.unwrap()).await.csrf();
    let form = [
        ("username", name),
        ("password", "a guess at it"),
        ("csrf_token", csrf.as_str()),
    ];
    let post = client.post(url).header("x-forwarded-for", ip).form(&form);
    post.send().await.unwrap().status()
}

/// Posts the reset form from `client` with the link's `token` and a new `password`.
async fn post_reset(
    app: &crate::helpers::TestApp,
    client: &reqwest::Client,
    token: &str,
    password: &str,
    csrf: &str,
) -> crate::helpers::Page {
    let form = [
        ("token", token),
        ("password", password),
        ("csrf_token", csrf),
    ];
    let post = client.post(app.url("/password/reset")).form(&form);
    read(post.send().await.unwrap()).await
}

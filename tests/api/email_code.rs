//! The e-mailed step-up code's send limits (docs/mfa.md: five code mails an hour per network,
//! ten in all from networks the account has not used, five of their own for those it has, and
//! five of its own for each browser carrying the account's device cookie, wherever it is):
//! past it the step-up still stands — the same challenge, no mail, no earlier code accepted —
//! the limit is not visible to anyone without the password (a wrong password answers as for an
//! unknown address), and an hour later codes are mailed again.

use reqwest::StatusCode;

use crate::helpers::{TestApp, TestUser, cidrs, new_client, spawn_app, spawn_app_with};
use crate::smtp::decode_qp;

/// The code mails delivered so far, newest last.
async fn code_mails(app: &TestApp) -> Vec<String> {
    app.outbox(0)
        .await
        .iter()
        .map(|m| decode_qp(m))
        .filter(|m| m.contains("Your sign-in code"))
        .collect()
}

fn code_in(mail: &str) -> String {
    let after = &mail[mail.find("code is:").expect("code text")..];
    let start = after.find(|c: char| c.is_ascii_digit()).unwrap();
    after[start..start + 6].to_owned()
}

/// A user who asked for the e-mailed code at every sign-in (a verified address).
async fn user_with_codes(app: &TestApp) -> TestUser {
    let user = app.user().await;
    let account = app
        .state
        .accounts
        .find_by_email(&user.email)
        .await
        .unwrap()
        .unwrap();
    app.state
        .accounts
        .set_require_mfa(&account.id, true)
        .await
        .unwrap();
    user
}

/// A sign-in with the password from a new browser on `ip` whose code is not mailed: the
/// address's shared budget is spent.
async fn no_more_codes(app: &TestApp, user: &TestUser, ip: &str) {
    let page = app
        .sign_in_from(&new_client(), ip, &user.email, &user.password, None)
        .await;
    assert!(
        page.body.contains("cannot send more codes"),
        "{}",
        page.body
    );
}

async fn answer(app: &TestApp, code: &str) -> StatusCode {
    let csrf = app.get_login().await.csrf();
    app.post_form("/login", &[("email_code", code), ("csrf_token", &csrf)])
        .await
        .status
}

#[tokio::test]
async fn the_email_code_is_sent_five_times_an_hour_and_no_more() {
    let app = spawn_app().await;
    let user = user_with_codes(&app).await;
    for n in 1..=5 {
        let page = app.post_login(&user.email, &user.password).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        assert!(
            page.body.contains("We sent a six-digit code"),
            "{}",
            page.body
        );
        assert_eq!(code_mails(&app).await.len(), n);
    }
    let fifth = code_in(code_mails(&app).await.last().unwrap());

    // The sixth: the same challenge, but nothing is mailed, and the page says so.
    let sixth = app.post_login(&user.email, &user.password).await;
    assert_eq!(sixth.status, StatusCode::UNAUTHORIZED);
    assert!(sixth.body.contains("data-challenge=\"email\""));
    assert!(
        sixth.body.contains("cannot send more codes"),
        "{}",
        sixth.body
    );
    assert_eq!(code_mails(&app).await.len(), 5);
    // "Send a new code" does not get round it.
    let csrf = app.get_login().await.csrf();
    let resend = app
        .post_form("/login", &[("factor", "email"), ("csrf_token", &csrf)])
        .await;
    assert!(resend.body.contains("cannot send more codes"));
    assert_eq!(code_mails(&app).await.len(), 5);
    // The last code mailed belonged to the step-up it was mailed for.
    assert_eq!(answer(&app, &fifth).await, StatusCode::UNAUTHORIZED);
    assert_ne!(app.get("/account").await.status, StatusCode::OK);

    // Without the password nothing tells the limit: a wrong password for this account answers
    // as one for an address nobody has.
    let wrong = app.post_login(&user.email, "not-the-password").await;
    let unknown = app
        .post_login(&TestUser::generate().email, "not-the-password")
        .await;
    for page in [&wrong, &unknown] {
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        assert!(!page.body.contains("data-challenge"), "{}", page.body);
        assert!(!page.body.contains("cannot send more codes"));
        assert!(page.body.contains("name=\"password\""));
    }
    assert_eq!(code_mails(&app).await.len(), 5);

    // An hour later the address gets codes again, and the code signs in.
    app.clock.advance(time::Duration::minutes(61));
    let page = app.post_login(&user.email, &user.password).await;
    assert!(page.body.contains("We sent a six-digit code"));
    let mails = code_mails(&app).await;
    assert_eq!(mails.len(), 6);
    assert_eq!(
        answer(&app, &code_in(mails.last().unwrap())).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
}

#[tokio::test]
async fn someone_with_the_password_cannot_spend_the_owners_codes() {
    let app = spawn_app_with(|c| c.trusted_proxies = cidrs(&["127.0.0.1/32"])).await;
    let user = user_with_codes(&app).await;
    let sent = "We sent a six-digit code";
    // The owner signs in from home once (the code passes): the network is the account's now.
    let home = new_client();
    let page = app
        .sign_in_from(&home, "192.0.2.10", &user.email, &user.password, None)
        .await;
    assert!(page.body.contains(sent), "{}", page.body);
    let page = app.pass_email_step_up(&home, "192.0.2.10").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    // Someone with the password, from networks the account has not used: five codes a network,
    // ten in all (the owner's home sign-in spent one of those), then none.
    let mut mailed = 1;
    for net in ["198.51.100", "203.0.113", "100.64.7"] {
        for i in 0..5 {
            let page = app
                .sign_in_from(
                    &new_client(),
                    &format!("{net}.{i}"),
                    &user.email,
                    &user.password,
                    None,
                )
                .await;
            assert_eq!(page.status, StatusCode::UNAUTHORIZED);
            assert!(page.body.contains("data-challenge=\"email\""));
            mailed += usize::from(page.body.contains(sent));
        }
    }
    assert_eq!(mailed, 10, "per network and in all");
    assert_eq!(code_mails(&app).await.len(), 10);
    no_more_codes(&app, &user, "100.64.8.1").await;

    // The owner's own browser (its device cookie), travelling: a network the account has not
    // used, yet a budget of its own, which the others cannot spend.
    let page = app
        .sign_in_again(&home, "100.64.9.1", &user.email, &user.password)
        .await;
    assert!(page.body.contains(sent), "{}", page.body);
    let page = app.pass_email_step_up(&home, "100.64.9.1").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    // The owner, at home on a new browser, still gets a code and signs in with it.
    let owner = new_client();
    let page = app
        .sign_in_from(&owner, "192.0.2.11", &user.email, &user.password, None)
        .await;
    assert!(page.body.contains(sent), "{}", page.body);
    let page = app.pass_email_step_up(&owner, "192.0.2.11").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    // Spent again by the thief, then the owner sets a new password (the mailed link): the old
    // password's holder spent nothing the owner must wait out, and the owner's next new
    // browser on a new network gets a code at once.
    no_more_codes(&app, &user, "100.64.8.2").await;
    let done = crate::totp::owner_resets(&app, &user).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let (phone, ip) = (new_client(), "100.64.10.1");
    let page = app
        .sign_in_from(&phone, ip, &user.email, "the owner's own passphrase", None)
        .await;
    assert!(page.body.contains(sent), "{}", page.body);
    let page = app.pass_email_step_up(&phone, ip).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
}

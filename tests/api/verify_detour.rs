//! A pending OAuth authorization request survives the registration and e-mail verification
//! detour (INTERFACE: "every detour from the sign-in page"): `/authorize` → the sign-in page →
//! "Create an account" → the verification link from the mail → back to the pending request →
//! the sign-in → the code at the client's redirect URI.

use authd::events::EventKind;
use reqwest::StatusCode;

use crate::helpers::{TestUser, pkce, query_param, spawn_app, urlenc};
use crate::smtp::decode_qp;

/// The `href` of the element carrying `marker`, unescaped.
fn href_of(body: &str, marker: &str) -> String {
    let tag_end = body.find(marker).expect(marker);
    let tag_start = body[..tag_end].rfind('<').unwrap();
    let tag = &body[tag_start..tag_end];
    let start = tag.find("href=\"").expect("an href") + "href=\"".len();
    tag[start..start + tag[start..].find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

#[tokio::test]
async fn a_pending_authorization_request_survives_registration_and_verification() {
    let app = spawn_app().await;
    let web = app.web_client().await;
    let (verifier, challenge) = pkce();
    let authorize = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=st-1\
         &code_challenge={challenge}&code_challenge_method=S256",
        web.id,
        urlenc(&web.redirect_uri)
    );
    let page = app.get(&authorize).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let login = page.location().to_owned();
    assert_eq!(login, format!("/login?next={}", urlenc(&authorize)));

    // "Create an account" on the sign-in page carries the request.
    let register = format!("/register?next={}", urlenc(&authorize));
    let body = app.get(&login).await.body;
    assert!(body.contains(&format!("href=\"{register}\"")), "{body}");
    let form = app.get(&register).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains(&format!("action=\"{register}\"")));
    let user = TestUser::generate();
    let created = app
        .post_form(
            &register,
            &[
                ("email", &user.email),
                ("password", &user.password),
                ("csrf_token", &form.csrf()),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    assert_eq!(
        created.location(),
        format!("/login?registered=1&next={}", urlenc(&authorize))
    );

    // The verification link, opened in the same browser: confirmed, then back to the request.
    let mails: Vec<String> = app.outbox(1).await.iter().map(|m| decode_qp(m)).collect();
    let mail = mails
        .iter()
        .find(|m| m.contains("/verify-email?token="))
        .expect("a verification mail");
    let start = mail.find("/verify-email?token=").unwrap() + "/verify-email?token=".len();
    let token: String = mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    let ask = app.get(&format!("/verify-email?token={token}")).await;
    assert_eq!(ask.status, StatusCode::OK);
    let done = app
        .post_form(
            "/verify-email",
            &[("token", token.as_str()), ("csrf_token", &ask.csrf())],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    let back = href_of(&done.body, "data-continue");
    assert_eq!(back, authorize);

    // The request again: the sign-in page (the account is new), then the code for the client.
    let page = app.get(&back).await;
    assert_eq!(page.location(), login);
    let signed_in = app.post_login_to(&login, &user.email, &user.password).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    assert_eq!(signed_in.location(), authorize);
    let redirect = app.get(&authorize).await;
    assert_eq!(redirect.status, StatusCode::SEE_OTHER);
    let to = redirect.location();
    assert!(to.starts_with(&web.redirect_uri), "{to}");
    assert_eq!(query_param(to, "state").as_deref(), Some("st-1"));
    let code = query_param(to, "code").expect("a code");
    let (status, tokens) = app
        .token(
            &web,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &web.redirect_uri),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(
        app.events()
            .await
            .iter()
            .any(|e| e.kind == EventKind::EmailVerified)
    );
    assert!(
        app.get("/account")
            .await
            .body
            .contains("data-email-verified=\"true\"")
    );
}

#[tokio::test]
async fn a_next_that_is_not_a_local_path_is_not_carried() {
    let app = spawn_app().await;
    let form = app.get("/register?next=https://evil.example/").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(!form.body.contains("evil.example"));
    let user = TestUser::generate();
    let created = app
        .post_form(
            "/register?next=//evil.example/",
            &[
                ("email", &user.email),
                ("password", &user.password),
                ("csrf_token", &form.csrf()),
            ],
        )
        .await;
    assert_eq!(created.location(), "/login?registered=1");
}

//! The pending request (`next`: a local path, most often a client's `/authorize?…`) carried
//! through the sign-in page's detours — registration, the verification link, forgot and reset,
//! the lockout notice's unlock link — so they end where the sign-in would have. In links and forms it travels as `?next=`, parsed
//! as a `LocalPath` wherever it is read. Across a mailed link it waits in this browser's
//! server-side session (`keep`), never in the mail: a link carries nothing that redirects.

use crate::app::state::AppState;
use crate::domain::redirect::LocalPath;
use crate::http::error::{HttpError, urlencode};
use crate::http::extract::{WebSession, session_failed};

/// The session key of the request a detour that mails a link started from.
pub(crate) const DETOUR_NEXT: &str = "detour_next";

/// Where a sign-in continues: `next` if it is a local path, else `/account`.
pub(crate) fn target(next: Option<&str>) -> LocalPath {
    next.and_then(LocalPath::parse)
        .unwrap_or_else(LocalPath::account)
}

/// `path` (which may have a query already), with `next=` added when `next` is a local path;
/// anything else (`https://…`, `//host`, `/\host`) is dropped, never passed on.
pub(crate) fn with_next(path: &str, next: Option<&str>) -> String {
    match next.and_then(LocalPath::parse) {
        Some(p) => {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{path}{sep}next={}", urlencode(p.as_str()))
        }
        None => path.to_owned(),
    }
}

/// `?next=…` for a link to another page of the detour (empty without a local `next`).
pub(crate) fn next_query(next: Option<&str>) -> String {
    with_next("", next)
}

/// The name of the client whose authorization request `next` is, if it is one (INTERFACE:
/// the pages on the way name the application asking).
pub(crate) async fn app_name(
    state: &AppState,
    next: Option<&str>,
) -> Result<Option<String>, HttpError> {
    let Some(query) = next
        .and_then(LocalPath::parse)
        .and_then(|p| p.as_str().strip_prefix("/authorize?").map(str::to_owned))
    else {
        return Ok(None);
    };
    let Some((_, id)) =
        url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "client_id")
    else {
        return Ok(None);
    };
    let client = state.oauth.clients().find(&id).await?;
    Ok(client.map(|c| c.profile.display_name(&c.id).to_owned()))
}

impl WebSession {
    /// Keeps `next` (a local path only; anything else clears it) for the page a mailed link
    /// opens in this browser: the verification and reset links carry no `next` themselves.
    pub(crate) async fn keep_detour(&self, next: Option<&str>) -> Result<(), HttpError> {
        match next.and_then(LocalPath::parse) {
            Some(p) => self.put(DETOUR_NEXT, p.as_str()).await,
            None => self.forget_detour().await,
        }
    }

    /// Keeps `next` for a mailed link this sign-in's answer may lead to (the lockout notice's
    /// unlock link): only a local path, and only when it is not kept already (no session write
    /// for a repeat). Unlike `keep_detour`, a sign-in without `next` leaves a kept one alone.
    pub(crate) async fn keep_detour_for_links(&self, next: Option<&str>) -> Result<(), HttpError> {
        let Some(path) = next.and_then(LocalPath::parse) else {
            return Ok(());
        };
        if self.detour().await?.as_deref() == Some(path.as_str()) {
            return Ok(());
        }
        self.put(DETOUR_NEXT, path.as_str()).await
    }

    /// The kept request, parsed again as a local path.
    pub(crate) async fn detour(&self) -> Result<Option<String>, HttpError> {
        let kept = self
            .0
            .get::<String>(DETOUR_NEXT)
            .await
            .map_err(session_failed)?;
        Ok(kept
            .as_deref()
            .and_then(LocalPath::parse)
            .map(|p| p.as_str().to_owned()))
    }

    /// Drops the kept request (a sign-in reached it, or a new detour has none).
    pub(crate) async fn forget_detour(&self) -> Result<(), HttpError> {
        self.take(DETOUR_NEXT).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTHORIZE: &str = "/authorize?client_id=a&state=b";

    #[test]
    fn with_next_passes_local_paths_on_and_drops_the_rest() {
        assert_eq!(
            with_next("/register", Some(AUTHORIZE)),
            "/register?next=%2Fauthorize%3Fclient_id%3Da%26state%3Db"
        );
        assert_eq!(
            with_next("/login?reset=1", Some("/account/security")),
            "/login?reset=1&next=%2Faccount%2Fsecurity"
        );
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "",
        ] {
            assert_eq!(with_next("/login", Some(bad)), "/login", "{bad:?}");
        }
        assert_eq!(with_next("/login", None), "/login");
        assert_eq!(next_query(None), "");
        assert_eq!(next_query(Some("/a")), "?next=%2Fa");
    }

    #[test]
    fn target_falls_back_to_the_account_page() {
        assert_eq!(target(Some(AUTHORIZE)).as_str(), AUTHORIZE);
        assert_eq!(target(Some("//evil.example")).as_str(), "/account");
        assert_eq!(target(None).as_str(), "/account");
    }
}

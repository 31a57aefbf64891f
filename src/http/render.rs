//! Pages rendered with the deployment's brand and template overrides. A page's `IntoResponse`
//! (from [`crate::page!`]) renders it with authd's own look (so a response made outside the router's
//! layers still has a body) and attaches the page itself; the `brand_pages` middleware, which
//! holds the state, renders it again through `Branding::render` (the override, or the
//! built-in template with the product name, logo and colour). A failing override is logged and
//! the built-in template used instead, so a page never goes blank.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::state::AppState;
use crate::render::{Branding, Entry, Named, RenderError, entry};

type Job = Box<dyn FnOnce(&Branding) -> Result<String, RenderError> + Send>;

/// A response extension: the page to render with the deployment's brand.
#[derive(Clone)]
pub struct PendingPage(Arc<Mutex<Option<Job>>>);

/// The response for `page`: rendered with authd's own look, the page attached for
/// `brand_pages`.
pub fn page_response<T: Named + Send + 'static>(page: T) -> Response {
    let body = match Branding::default().render_builtin(&page) {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(error = %e, "page template failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut res = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response();
    let job: Job = Box::new(move |brand: &Branding| brand.render(&page));
    res.extensions_mut()
        .insert(PendingPage(Arc::new(Mutex::new(Some(job)))));
    res
}

/// Renders the page a response carries with the deployment's brand.
pub async fn brand_pages(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let Some(PendingPage(job)) = res.extensions_mut().remove::<PendingPage>() else {
        return res;
    };
    let job = job.lock().ok().and_then(|mut j| j.take());
    if let Some(job) = job {
        match job(&state.brand) {
            Ok(html) => {
                res.headers_mut().remove(header::CONTENT_LENGTH);
                *res.body_mut() = Body::from(html);
            }
            Err(e) => tracing::error!(error = %e, "page template failed"),
        }
    }
    res
}

/// Every page template with its variables (the override catalogue; docs/branding.md).
pub fn templates() -> Vec<Entry> {
    use crate::http::{error, oauth, pages};
    vec![
        entry::<pages::login::LoginPage>(),
        entry::<pages::register::RegisterPage>(),
        entry::<pages::password::ForgotPage>(),
        entry::<pages::password::ResetPage>(),
        entry::<pages::account::AccountPage>(),
        entry::<pages::security::SecurityPage>(),
        entry::<pages::not_me::NotMePage>(),
        entry::<pages::unlock::UnlockPage>(),
        entry::<pages::verify::VerifyPage>(),
        entry::<oauth::authorize::ConsentPage>(),
        entry::<oauth::end_session::SignedOutPage>(),
        entry::<error::ErrorPage>(),
        entry::<pages::admin::StepUpPage>(),
        entry::<pages::admin::overview::OverviewPage>(),
        entry::<pages::admin::users::SearchPage>(),
        entry::<pages::admin::users::UserPage>(),
        entry::<pages::admin::events::EventsPage>(),
        entry::<pages::admin::clients::ClientsPage>(),
        entry::<pages::admin::clients::SecretPage>(),
        entry::<pages::admin::keys::KeysPage>(),
        entry::<pages::admin::model::ModelPage>(),
        entry::<pages::admin::model::TrainedPage>(),
    ]
}

/// `GET /static/brand.css`: the accent colour as the stylesheet's `--accent` variable.
pub async fn brand_css_get(State(state): State<AppState>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        state.brand.stylesheet(),
    )
}

/// Implements [`crate::render::Named`] for a page struct (listing its fields) and its
/// `IntoResponse` through [`page_response`].
#[macro_export]
macro_rules! page {
    ($ty:ident, $name:literal, [$($field:ident),* $(,)?]) => {
        $crate::named!($ty, $name, [$($field),*]);
        impl axum::response::IntoResponse for $ty {
            fn into_response(self) -> axum::response::Response {
                $crate::http::render::page_response(self)
            }
        }
    };
}

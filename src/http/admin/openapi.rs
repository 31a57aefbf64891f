//! The OpenAPI document, generated from the handlers' annotations; `docs/openapi.json` is the
//! committed copy, and a test fails when the two drift apart.

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The admin API.
#[derive(OpenApi)]
#[openapi(
    info(title = "authd admin API", description = "Operator API of authd. Bearer: a client-credentials access token of a client holding the `admin` scope."),
    paths(
        crate::http::admin::events::events_get,
        crate::http::admin::events::export_get,
        crate::http::admin::model::labels_post,
        crate::http::admin::model::train_post,
        crate::http::admin::user_page::users_get,
        crate::http::admin::user_page::user_get,
        crate::http::admin::users::sessions_get,
        crate::http::admin::users::unlock_post,
        crate::http::admin::users::revoke_all_post,
        crate::http::admin::users::revoke_one_post,
        crate::http::admin::users::reset_post,
        crate::http::admin::users::mfa_reset_post,
        crate::http::admin::users::disable_post,
        crate::http::admin::users::enable_post,
        crate::http::admin::clients::clients_get,
        crate::http::admin::clients::clients_post,
        crate::http::admin::clients::rotate_post,
        crate::http::admin::clients::client_delete,
        crate::http::admin::clients::disable_post,
        crate::http::admin::clients::enable_post,
        crate::http::admin::keys_model::keys_get,
        crate::http::admin::keys_model::keys_rotate_post,
        crate::http::admin::keys_model::model_get,
        crate::http::admin::keys_model::promote_post
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
        }
    }
}

/// `GET /openapi.json`.
pub async fn openapi_get() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regenerate with `UPDATE_OPENAPI=1 cargo test openapi`.
    #[test]
    fn committed_openapi_matches_the_code() {
        let generated = ApiDoc::openapi().to_pretty_json().unwrap() + "\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
        if std::env::var("UPDATE_OPENAPI").is_ok() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/openapi.json is stale: run UPDATE_OPENAPI=1 cargo test openapi"
        );
    }
}

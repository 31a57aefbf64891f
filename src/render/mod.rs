//! Rendering every page and mail template through one function, with the deployment's brand
//! (`AUTHD_PRODUCT_NAME`, `AUTHD_LOGO_URL`, `AUTHD_ACCENT_COLOR`) and the operator's
//! overrides (`AUTHD_TEMPLATE_DIR`; docs/branding.md).
//!
//! askama (compiled in) is the default. Each template struct also derives `Serialize` and names
//! itself ([`Named`](crate::render::Named)); when the override directory holds a file of that name, it is rendered
//! with minijinja instead, with the same variables (the struct's fields) plus the brand's
//! (`product`, `logo_url`, `accent_color`). Built-in templates read the brand as askama runtime
//! values (`"product"|value::<String>`). Overrides are read and parsed once at start-up
//! ([`Branding::load`](crate::render::Branding::load)); one that fails to parse stops start-up naming its file. Imports
//! nothing of `http`, `mail` or `domain`: both the pages and the mails render through here.

/// The override directory: loading, checking, rendering with minijinja.
pub mod overrides;

use std::any::Any;

use crate::config::BrandSettings;
pub use overrides::{OverrideError, Overrides};

/// A template that can be overridden: its name (the path under `templates/`, which is also the
/// file name an override uses) and the variables it gets.
pub trait Named: askama::Template + serde::Serialize {
    /// E.g. `pages/login.html`, `mail/password_reset.txt`.
    const NAME: &'static str;
    /// The struct's fields: the variables the template gets (besides the brand's).
    const FIELDS: &'static [&'static str];
}

/// One catalogued template: its name and its variables (docs/branding.md lists them all).
pub type Entry = (&'static str, &'static [&'static str]);

/// The catalogue entry of `T`.
pub const fn entry<T: Named>() -> Entry {
    (T::NAME, T::FIELDS)
}

/// The brand's variables, which every template gets besides its own.
pub const BRAND_VARIABLES: &[&str] = &["product", "logo_url", "accent_color"];

/// Implements [`Named`] for a template struct, listing its fields; a compile-time check (an
/// exhaustive destructuring) keeps the list equal to the struct's fields.
#[macro_export]
macro_rules! named {
    ($ty:ident<$lt:lifetime>, $name:literal, [$($field:ident),* $(,)?]) => {
        impl<$lt> $crate::render::Named for $ty<$lt> {
            const NAME: &'static str = $name;
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];
        }
        const _: fn(&$ty<'static>) = |t| {
            let $ty { $($field: _),* } = t;
        };
    };
    ($ty:ident, $name:literal, [$($field:ident),* $(,)?]) => {
        impl $crate::render::Named for $ty {
            const NAME: &'static str = $name;
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];
        }
        const _: fn(&$ty) = |t| {
            let $ty { $($field: _),* } = t;
        };
    };
}

/// A rendering failure (askama's, or an override's at run time).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The built-in template failed.
    #[error("template {name}: {source}")]
    Askama {
        /// The template.
        name: &'static str,
        /// Why.
        source: askama::Error,
    },
    /// An override failed while rendering.
    #[error("override {name}: {reason}")]
    Override {
        /// The template.
        name: &'static str,
        /// Why (minijinja's message).
        reason: String,
    },
}

/// What people see of the deployment: the product's name, logo, accent colour, and the
/// operator's template overrides. Built once at start; shared by the pages and the mails.
#[derive(Debug, Clone)]
pub struct Branding {
    /// The product's name (`AUTHD_PRODUCT_NAME`).
    pub product: String,
    /// The header's logo (`AUTHD_LOGO_URL`).
    pub logo_url: Option<String>,
    /// The accent colour (`AUTHD_ACCENT_COLOR`), `#rgb` or `#rrggbb`.
    pub accent_color: Option<String>,
    overrides: Overrides,
}

impl Default for Branding {
    /// authd's own look, no overrides.
    fn default() -> Self {
        Self {
            product: "authd".to_owned(),
            logo_url: None,
            accent_color: None,
            overrides: Overrides::default(),
        }
    }
}

impl Branding {
    /// The brand of `settings`, with the overrides of its template directory read and parsed;
    /// `catalog` lists the templates that can be overridden.
    pub fn load(settings: &BrandSettings, catalog: &[Entry]) -> Result<Self, OverrideError> {
        let overrides = match &settings.template_dir {
            Some(dir) => Overrides::load(dir, catalog)?,
            None => Overrides::default(),
        };
        Ok(Self {
            product: settings.product_name.clone(),
            logo_url: settings.logo_url.clone(),
            accent_color: settings.accent_color.clone(),
            overrides,
        })
    }

    /// The templates overridden, by name.
    pub fn overridden(&self) -> Vec<&str> {
        self.overrides.names()
    }

    /// Renders `template`: its override when there is one, else the built-in template — and
    /// the built-in one, with the override's failure logged, when the override fails while
    /// rendering (start-up checks only that it parses: an unknown filter, a missing field
    /// used in a test, fail here), so no page goes blank and no mail is lost.
    pub fn render<T: Named>(&self, template: &T) -> Result<String, RenderError> {
        match self.overrides.render(T::NAME, self, template) {
            Some(Ok(out)) => Ok(out),
            Some(Err(e)) => {
                tracing::error!(error = %e, "template override failed; the built-in one is used");
                self.render_builtin(template)
            }
            None => self.render_builtin(template),
        }
    }

    /// Renders the built-in (askama) template, whatever the overrides.
    pub fn render_builtin<T: Named>(&self, template: &T) -> Result<String, RenderError> {
        template
            .render_with_values(self)
            .map_err(|source| RenderError::Askama {
                name: T::NAME,
                source,
            })
    }

    /// `/static/brand.css`: the accent colour as the stylesheet's variable (empty without one).
    pub fn stylesheet(&self) -> String {
        match &self.accent_color {
            Some(c) => format!(":root {{ --accent: {c}; }}\n"),
            None => String::new(),
        }
    }
}

impl askama::Values for Branding {
    fn get_value<'a>(&'a self, key: &str) -> Option<&'a dyn Any> {
        match key {
            "product" => Some(&self.product),
            "logo_url" => Some(&self.logo_url),
            "accent_color" => Some(&self.accent_color),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    /// docs/branding.md's table of templates and variables, rendered from the catalogue.
    fn table() -> String {
        let mut all = [crate::http::templates(), crate::mail::templates()].concat();
        all.sort();
        let mut out = String::from("| template | variables |\n| --- | --- |\n");
        for (name, fields) in all {
            let vars: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
            out.push_str(&format!("| `{name}` | {} |\n", vars.join(", ")));
        }
        out
    }

    #[test]
    fn docs_branding_lists_every_template_with_its_variables() {
        let doc = include_str!("../../docs/branding.md");
        let section = doc
            .split("<!-- templates:start -->\n")
            .nth(1)
            .and_then(|s| s.split("<!-- templates:end -->").next())
            .expect("docs/branding.md has the templates section");
        assert_eq!(
            section,
            table(),
            "docs/branding.md's table differs; the table to paste:\n{}",
            table()
        );
    }

    #[test]
    fn every_catalogued_template_is_a_file_and_every_file_is_catalogued() {
        let names: Vec<&str> = [crate::http::templates(), crate::mail::templates()]
            .concat()
            .iter()
            .map(|e| e.0)
            .collect();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        for name in &names {
            assert!(root.join(name).is_file(), "{name} has no file");
        }
        let mut dirs = vec!["pages".to_owned(), "mail".to_owned()];
        while let Some(dir) = dirs.pop() {
            for f in std::fs::read_dir(root.join(&dir)).unwrap() {
                let f = f.unwrap();
                let name = format!("{dir}/{}", f.file_name().to_string_lossy());
                if f.file_type().unwrap().is_dir() {
                    dirs.push(name);
                    continue;
                }
                assert!(names.contains(&name.as_str()), "{name} is not catalogued");
            }
        }
    }
}

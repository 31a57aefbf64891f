//! The override directory (`AUTHD_TEMPLATE_DIR`): every file under it is read and parsed by
//! minijinja at start-up. A file named like a catalogued template (`pages/login.html`,
//! `mail/lockout.txt`) replaces it; any other file is a helper the overrides may `extends` or
//! `include` (a layout of your own). Autoescape is on for `.html` (minijinja's default by file
//! extension), off for `.txt`. A file that cannot be read or parsed stops start-up naming it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{BRAND_VARIABLES, Branding, Entry, Named, RenderError};

/// Why the override directory cannot be used; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    /// A file or directory could not be read.
    #[error("AUTHD_TEMPLATE_DIR: cannot read {path}: {reason}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A template failed to parse.
    #[error("AUTHD_TEMPLATE_DIR: template {path} does not parse: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// minijinja's message (with the line).
        reason: String,
    },
}

/// The loaded overrides (none by default).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The environment holding every file of the directory, and the catalogued names among them.
    env: Option<Arc<(minijinja::Environment<'static>, Vec<String>)>>,
}

/// Files under `dir`, as `/`-separated names relative to it (sorted).
fn files(dir: &Path) -> Result<Vec<(String, PathBuf)>, OverrideError> {
    let read = |path: &Path, e: std::io::Error| OverrideError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let mut out = Vec::new();
    let mut todo = vec![(String::new(), dir.to_owned())];
    while let Some((prefix, path)) = todo.pop() {
        for item in std::fs::read_dir(&path).map_err(|e| read(&path, e))? {
            let item = item.map_err(|e| read(&path, e))?;
            let name = item.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let full = item.path();
            let rel = format!("{prefix}{name}");
            if item.file_type().map_err(|e| read(&full, e))?.is_dir() {
                todo.push((format!("{rel}/"), full));
            } else {
                out.push((rel, full));
            }
        }
    }
    out.sort();
    Ok(out)
}

impl Overrides {
    /// Reads and parses every file under `dir`; those named in `catalog` become overrides.
    pub fn load(dir: &Path, catalog: &[Entry]) -> Result<Self, OverrideError> {
        let mut env = minijinja::Environment::new();
        let mut names = Vec::new();
        for (name, path) in files(dir)? {
            let source = std::fs::read_to_string(&path).map_err(|e| OverrideError::Read {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            env.add_template_owned(name.clone(), source)
                .map_err(|e| OverrideError::Parse {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            if catalog.iter().any(|(n, _)| *n == name) {
                names.push(name);
            }
        }
        Ok(Self {
            env: Some(Arc::new((env, names))),
        })
    }

    /// The overridden templates' names.
    pub fn names(&self) -> Vec<&str> {
        self.env
            .as_ref()
            .map(|e| e.1.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// `template` rendered by its override, or `None` when it has none.
    pub(super) fn render<T: Named>(
        &self,
        name: &'static str,
        brand: &Branding,
        template: &T,
    ) -> Option<Result<String, RenderError>> {
        let env = self.env.as_ref()?;
        if !env.1.iter().any(|n| n == name) {
            return None;
        }
        Some(render_with(&env.0, name, brand, template))
    }
}

/// Renders `name` from `env` with `template`'s fields and the brand's variables.
fn render_with<T: Named>(
    env: &minijinja::Environment<'static>,
    name: &'static str,
    brand: &Branding,
    template: &T,
) -> Result<String, RenderError> {
    let failed = |reason: String| RenderError::Override { name, reason };
    let mut vars = match serde_json::to_value(template) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(_) => serde_json::Map::new(),
        Err(e) => return Err(failed(e.to_string())),
    };
    let brand_values = [
        Some(brand.product.clone()),
        brand.logo_url.clone(),
        brand.accent_color.clone(),
    ];
    for (key, value) in BRAND_VARIABLES.iter().zip(brand_values) {
        vars.insert(
            (*key).to_owned(),
            value.map_or(serde_json::Value::Null, Into::into),
        );
    }
    env.get_template(name)
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(&vars))))
        .map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrandSettings;

    #[derive(askama::Template, serde::Serialize)]
    #[template(source = "<p>{{ name }}</p>", ext = "html")]
    struct Sample {
        name: String,
    }
    crate::named!(Sample, "pages/sample.html", [name]);

    const CATALOG: &[Entry] = &[super::super::entry::<Sample>()];

    fn dir_with(files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("authd-overrides-{}", uuid::Uuid::new_v4()));
        for (name, body) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        dir
    }

    fn brand(dir: Option<PathBuf>) -> Result<Branding, OverrideError> {
        let settings = BrandSettings {
            product_name: "Acme ID".into(),
            logo_url: None,
            accent_color: Some("#ff0066".into()),
            template_dir: dir,
        };
        Branding::load(&settings, CATALOG)
    }

    #[test]
    fn an_override_gets_the_same_variables_and_the_brand_escaped_in_html() {
        let dir = dir_with(&[
            (
                "pages/sample.html",
                "{% extends \"layout.html\" %}{% block body %}{{ name }} @ {{ product }} {{ accent_color }}{% endblock %}",
            ),
            ("layout.html", "<main>{% block body %}{% endblock %}</main>"),
        ]);
        let b = brand(Some(dir)).unwrap();
        assert_eq!(b.overridden(), ["pages/sample.html"]);
        let html = b
            .render(&Sample {
                name: "<b>Ann</b>".into(),
            })
            .unwrap();
        assert_eq!(
            html,
            "<main>&lt;b&gt;Ann&lt;&#x2f;b&gt; @ Acme ID #ff0066</main>"
        );
        // Without an override, the built-in template (askama) renders.
        let plain = brand(None).unwrap();
        assert_eq!(
            plain.render(&Sample { name: "x".into() }).unwrap(),
            "<p>x</p>"
        );
    }

    #[test]
    fn an_override_that_fails_while_rendering_gives_way_to_the_built_in_template() {
        // It parses (start-up accepts it); the unknown filter fails only when rendered.
        let dir = dir_with(&[("pages/sample.html", "{{ name|no_such_filter }}")]);
        let b = brand(Some(dir)).unwrap();
        assert_eq!(b.overridden(), ["pages/sample.html"]);
        assert_eq!(b.render(&Sample { name: "x".into() }).unwrap(), "<p>x</p>");
    }

    #[test]
    fn a_template_that_does_not_parse_is_refused_naming_its_file() {
        let dir = dir_with(&[("mail/password_reset.txt", "Hello {% if %}")]);
        let err = brand(Some(dir)).unwrap_err().to_string();
        assert!(err.contains("AUTHD_TEMPLATE_DIR"), "{err}");
        assert!(err.contains("mail/password_reset.txt"), "{err}");
        let missing = brand(Some(PathBuf::from("/nonexistent/authd-templates")));
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("/nonexistent/authd-templates")
        );
    }
}

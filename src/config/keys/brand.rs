//! Branding's keys (`AUTHD_PRODUCT_NAME`, `AUTHD_LOGO_URL`, `AUTHD_ACCENT_COLOR`,
//! `AUTHD_TEMPLATE_DIR`; docs/branding.md), part of the one key table in `keys.rs` (listed in
//! its `ALL`, in the README's order). Imports nothing of the crate.

use super::Shown::{Empty, Value};
use super::{Key, key};

pub(crate) const PRODUCT_NAME: Key = key(
    "product_name",
    Value("authd"),
    "the name pages, titles and mails show (also the authenticator apps' issuer and the passkey prompt's name); at most 64 characters",
);
pub(crate) const LOGO_URL: Key = key(
    "logo_url",
    Empty,
    "the logo in every page's header: an `https://`/`http://` URL (its origin is added to the CSP's `img-src`) or a path on this server; empty = the product name alone",
);
pub(crate) const ACCENT_COLOR: Key = key(
    "accent_color",
    Empty,
    "buttons' and links' colour, `#rgb` or `#rrggbb`; served in `/static/brand.css` (no inline style); empty = the built-in blue",
);
pub(crate) const TEMPLATE_DIR: Key = key(
    "template_dir",
    Empty,
    "a directory whose files override page and mail templates by name (`pages/login.html`, `mail/password_reset.txt`; minijinja, docs/branding.md); read and checked at start",
);

//! Calls from the server to third parties over the network (reqwest). Each implements a
//! domain trait, so the domain stays free of HTTP clients and tests inject fakes.

/// Server-side verification of third-party CAPTCHA tokens (`siteverify`).
pub mod siteverify;

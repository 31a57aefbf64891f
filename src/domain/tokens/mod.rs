//! Signing keys and JWTs: the key ring (generation, rotation, encryption at rest, JWKS) and
//! the access- and ID-token formats with their validation.

/// The signing algorithms, as authd's own type.
pub mod alg;
/// JWT claims, signing and validation.
pub mod jwt;
/// The key ring.
pub mod keys;
/// Why a token was refused.
pub mod rejection;
/// Access-token signatures already verified.
pub(crate) mod verified;

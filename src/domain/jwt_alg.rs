//! The signing algorithm a deployment is configured with.

/// The signing algorithms authgate can be configured with; exactly one is accepted at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum JwtAlg {
    /// Ed25519 (default): small, fast, no parameter choices to get wrong.
    #[value(name = "EdDSA")]
    EdDSA,
    /// ECDSA P-256 with SHA-256.
    #[value(name = "ES256")]
    ES256,
    /// RSA 2048 PKCS#1 v1.5 with SHA-256.
    #[value(name = "RS256")]
    RS256,
    /// HMAC-SHA256 with a shared secret, for services written like the tutorials.
    #[value(name = "HS256")]
    HS256,
}

impl JwtAlg {
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            JwtAlg::EdDSA => "EdDSA",
            JwtAlg::ES256 => "ES256",
            JwtAlg::RS256 => "RS256",
            JwtAlg::HS256 => "HS256",
        }
    }
}

//! The second factor's request and response bodies (issue #11).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::service::{MfaConfirmed, MfaStatus, TotpEnrolment};

/// The `mfa` member of `GET /users/me`.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct MfaBody {
    /// A confirmed TOTP factor is on.
    pub totp: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
}

impl From<MfaStatus> for MfaBody {
    fn from(s: MfaStatus) -> Self {
        Self {
            totp: s.totp,
            recovery_codes_left: s.recovery_codes_left,
        }
    }
}

/// `POST /users/me/mfa/totp`.
#[derive(Deserialize, ToSchema)]
pub struct EnrolTotpRequest {
    pub current_password: String,
}

/// What an authenticator app needs; shown once (the secret is never returned again).
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolmentResponse {
    /// The 160-bit secret, base32 (for typing in).
    pub secret: String,
    /// `otpauth://totp/<issuer>:<e-mail>?secret=…&issuer=…` (SHA-1, 6 digits, 30 s).
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_svg: String,
}

impl From<TotpEnrolment> for TotpEnrolmentResponse {
    fn from(e: TotpEnrolment) -> Self {
        Self {
            secret: e.secret,
            otpauth_uri: e.otpauth_uri,
            qr_svg: e.qr_svg,
        }
    }
}

/// `POST /users/me/mfa/totp/confirm` and `POST /users/me/mfa/recovery-codes`.
#[derive(Deserialize, ToSchema)]
pub struct TotpCodeRequest {
    /// The current 6-digit code of the authenticator app.
    pub code: String,
}

/// Ten recovery codes, shown once; each works once in place of an authenticator code.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodesResponse {
    /// `XXXX-XXXX-XXXX`; case, spaces and dashes do not matter when typed.
    pub recovery_codes: Vec<String>,
    /// Confirmation only: a new access token of the caller's session, which now counts as
    /// having passed the second factor (`amr: ["pwd","otp"]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// Confirmation only: seconds until that access token expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
}

impl From<MfaConfirmed> for RecoveryCodesResponse {
    fn from(c: MfaConfirmed) -> Self {
        Self {
            recovery_codes: c.recovery_codes,
            access_token: Some(c.access_token),
            expires_in: Some(c.expires_in),
        }
    }
}

/// `DELETE /users/me/mfa/totp`.
#[derive(Deserialize, ToSchema)]
pub struct DisableTotpRequest {
    pub current_password: String,
    /// A current authenticator code, or one of the recovery codes.
    pub code: String,
}

/// `POST /auth/mfa`: the `mfa_token` of the login's `mfa_required` answer and exactly one of
/// `code` or `recovery_code`.
#[derive(Deserialize, ToSchema)]
pub struct MfaLoginRequest {
    pub mfa_token: String,
    /// The current 6-digit code of the authenticator app.
    pub code: Option<String>,
    /// One of the recovery codes (used up).
    pub recovery_code: Option<String>,
    /// A passkey's answer, for the ceremony begun at `POST /auth/mfa/passkey/start`.
    pub passkey: Option<MfaPasskeyAnswer>,
}

/// The `passkey` member of `POST /auth/mfa`.
#[derive(Deserialize, ToSchema)]
pub struct MfaPasskeyAnswer {
    pub ceremony_id: uuid::Uuid,
    /// What `navigator.credentials.get` returned, as JSON (binary fields base64url).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

//! The bottom layer: values with rules and nothing else (no I/O, no HTTP, no database).
//! Types that can only be built by parsing (once a handler holds an `Email`, it is valid), the
//! shapes of abuse limits, who a request comes from, and the configured signing algorithm.

pub mod abuse;
mod client;
mod duration;
mod email;
mod jwt_alg;
pub mod password;
pub mod role;
mod username;

#[cfg(feature = "internals")]
pub use abuse::AbusePolicy;
pub use abuse::{Limit, LockoutPolicy, Rate, RateLimit};
pub use client::{Actor, ClientInfo, ForwardedHeader};
pub use duration::parse_duration;
pub use email::Email;
pub use jwt_alg::JwtAlg;
pub use password::Password;
pub use role::RoleName;
pub use username::Username;

use unicode_normalization::UnicodeNormalization;

/// The key an e-mail or username is unique under and looked up by: trimmed, NFKC-normalised
/// (fullwidth letters, ligatures and the Kelvin sign become their plain forms), lowercased. Two
/// spellings with the same key are the same account, so a look-alike cannot become a second one.
pub fn login_key(input: &str) -> String {
    input.trim().nfkc().collect::<String>().to_lowercase()
}

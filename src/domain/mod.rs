//! Domain types that can only be built by parsing: once a handler holds an `Email`, it is valid.

mod email;
pub mod password;
pub mod role;
mod username;

pub use email::Email;
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

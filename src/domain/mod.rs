//! Domain types that can only be built by parsing: once a handler holds an `Email`, it is valid.

mod email;
pub mod password;
pub mod role;
mod username;

pub use email::Email;
pub use password::Password;
pub use role::RoleName;
pub use username::Username;

//! CSRF tokens for cookie sessions (the SPA refresh cookie and the hosted pages): issued per
//! session, checked statelessly (see `crate::token::csrf`).

use uuid::Uuid;

use super::error::{Error, Result};
use super::state::AuthState;
use crate::token::csrf;

impl AuthState {
    /// A fresh CSRF token bound to `session`.
    pub fn csrf_token(&self, session: Uuid) -> Result<String> {
        Ok(csrf::issue(&self.issuer()?.csrf_key, session))
    }

    /// `Ok` if `presented` is a CSRF token issued for `session`; `Error::CsrfFailed` if not.
    pub fn check_csrf(&self, session: Uuid, presented: Option<&str>) -> Result<()> {
        let key = &self.issuer()?.csrf_key;
        match presented {
            Some(token) if csrf::verify(key, session, token) => Ok(()),
            Some(_) => Err(Error::CsrfFailed(
                "the CSRF token does not match this session; reload the page and try again",
            )),
            None => Err(Error::CsrfFailed(
                "a CSRF token is required: send the authgate_csrf cookie's value in X-CSRF-Token",
            )),
        }
    }
}

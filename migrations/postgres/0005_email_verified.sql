-- Whether the account's e-mail address has been confirmed by a one-time link sent to it.
-- Accounts that existed before verification was built start unverified; nothing refuses them
-- unless AUTHGATE_REQUIRE_VERIFIED_EMAIL is turned on.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;

"""Verify authgate's access tokens in FastAPI.

``AuthgateBearer`` is a FastAPI dependency: it reads ``Authorization: Bearer <token>``,
verifies the token against authgate's published JWKS with one pinned algorithm, checks
``iss``, ``aud``, ``exp``/``nbf``/``iat`` and the JOSE ``typ: at+jwt``, and, given a verifier
credential, follows authgate's revocation feed in a background thread so that a logout,
deactivation or role change applies within a second. ``require_roles("admin")`` guards a route.
"""

from .bearer import AuthgateBearer, Claims, require_roles
from .feed import RevocationFollower

__all__ = ["AuthgateBearer", "Claims", "RevocationFollower", "require_roles"]

"""``AuthgateBearer``: the FastAPI dependency, and ``require_roles``."""

from __future__ import annotations

import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import httpx
import jwt
from fastapi import Depends, FastAPI, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from .feed import RevocationFollower

#: The JOSE ``typ`` of authgate's access tokens (RFC 9068).
ACCESS_TYP = "at+jwt"
#: Longest token even parsed; authgate's are well under 1 KiB.
MAX_TOKEN_LEN = 4096
#: Seconds between two JWKS fetches caused by unknown ``kid``s.
REFETCH_INTERVAL = 30.0
#: How long a JWKS is kept when its answer names no ``max-age``.
DEFAULT_JWKS_MAX_AGE = 300.0


def _max_age(cache_control: str | None) -> float:
    """The ``max-age`` of a ``Cache-Control`` value, in seconds."""
    for part in (cache_control or "").split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() == "max-age" and value.isdigit():
            return float(value)
    return DEFAULT_JWKS_MAX_AGE


@dataclass(frozen=True)
class Claims:
    """The verified claims of an access token."""

    sub: str
    """The user's immutable id (a UUID)."""
    sid: str
    """The session the token belongs to."""
    roles: list[str]
    """Current roles: the token's, or newer ones from the revocation feed."""
    email: str | None = None
    """Only when authgate runs with ``AUTHGATE_TOKEN_CLAIMS=email``."""
    username: str | None = None
    """Only when authgate runs with ``AUTHGATE_TOKEN_CLAIMS=username``."""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    """Every claim as issued."""

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


def _unauthorized(token_sent: bool) -> HTTPException:
    challenge = 'Bearer error="invalid_token"' if token_sent else "Bearer"
    detail = "invalid or expired access token" if token_sent else "missing access token"
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": challenge})


class AuthgateBearer:
    """A FastAPI dependency that yields the caller's verified :class:`Claims`.

    ``base_url`` is where this service reaches authgate. ``issuer`` is the ``iss`` its tokens
    carry (``AUTHGATE_ISSUER``; if not given, read once at start from authgate's discovery
    document at ``base_url``, which is as trustworthy as the JWKS read there), ``audience`` their ``aud``
    (``AUTHGATE_AUDIENCE``, default ``authgate``) and ``algorithm`` the one algorithm accepted
    (``AUTHGATE_JWT_ALG``: ``EdDSA``, ``ES256`` or ``RS256``; HS256 secrets are never
    published). With ``verifier_credential`` (from ``authgate verifier create NAME``) it follows
    the revocation feed; when the feed has been silent for more than ``max_staleness`` seconds it
    answers 503 (``fail_closed=False`` keeps accepting instead).
    """

    def __init__(
        self,
        base_url: str,
        *,
        issuer: str | None = None,
        audience: str = "authgate",
        algorithm: str = "EdDSA",
        verifier_credential: str | None = None,
        max_staleness: float = 10.0,
        fail_closed: bool = True,
        leeway: int = 30,
    ) -> None:
        if algorithm.upper().startswith("HS"):
            raise ValueError("HS256 keys are secret and never published; verify with a public-key algorithm")
        self.base_url = base_url.rstrip("/")
        self.issuer = issuer
        self.audience = audience
        self.algorithm = algorithm
        self.leeway = leeway
        self.fail_closed = fail_closed
        self.jwks_url = f"{self.base_url}/.well-known/jwks.json"
        self.feed = (
            RevocationFollower(f"{self.base_url}/revocations", verifier_credential, max_staleness)
            if verifier_credential
            else None
        )
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._max_age = DEFAULT_JWKS_MAX_AGE
        self._started = False
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Fetch the JWKS and start following the feed. Called by :meth:`lifespan`, or at the
        first request."""
        with self._lock:
            if self._started:
                return
            if self.issuer is None:
                meta = httpx.get(f"{self.base_url}/.well-known/oauth-authorization-server", timeout=5.0)
                meta.raise_for_status()
                self.issuer = meta.json()["issuer"]
            self._fetch_keys()
            if self.feed is not None:
                self.feed.start()
            self._started = True

    def close(self) -> None:
        if self.feed is not None:
            self.feed.close()

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """``FastAPI(lifespan=bearer.lifespan)``: start at start-up, stop at shutdown, and make
        this bearer the one :func:`require_roles` uses."""
        app.state.authgate = self
        await run_in_threadpool(self.start)
        try:
            yield
        finally:
            self.close()

    def _fetch_keys(self) -> None:
        resp = httpx.get(self.jwks_url, timeout=5.0)
        resp.raise_for_status()
        keys = {}
        for jwk in resp.json().get("keys", []):
            if jwk.get("alg") == self.algorithm and jwk.get("kid"):
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm=self.algorithm)
        self._keys = keys
        self._fetched_at = time.monotonic()
        # authgate publishes a new key at least this long before it signs with it, so a cache
        # renewed this often knows every kid before it is used (issue #12, key rotation).
        self._max_age = _max_age(resp.headers.get("cache-control"))

    async def _key(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return None
        age = time.monotonic() - self._fetched_at
        if age > self._max_age or (kid not in self._keys and age > REFETCH_INTERVAL):
            # The cache is older than the JWKS's max-age, or a kid is unknown (then at most
            # every REFETCH_INTERVAL seconds): fetch again. If that fails, the keys at hand stay.
            try:
                await run_in_threadpool(self._fetch_keys)
            except httpx.HTTPError:
                pass
        return self._keys.get(kid)

    # -- verification ------------------------------------------------------------------------

    async def verify(self, token: str) -> Claims:
        """Verify ``token``; raises ``HTTPException`` 401 (or 503 with a stale feed)."""
        if not self._started:
            await run_in_threadpool(self.start)
        if len(token) > MAX_TOKEN_LEN:
            raise _unauthorized(True)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _unauthorized(True) from None
        # Pinned: one algorithm, our typ, one of the published kids; never a key from the token.
        if header.get("alg") != self.algorithm or header.get("typ") != ACCESS_TYP:
            raise _unauthorized(True)
        key = await self._key(header.get("kid"))
        if key is None:
            raise _unauthorized(True)
        try:
            raw = jwt.decode(
                token,
                key.key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "nbf", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError:
            raise _unauthorized(True) from None
        if not isinstance(raw.get("sid"), str) or not isinstance(raw.get("roles"), list):
            raise _unauthorized(True)
        roles = [r for r in raw["roles"] if isinstance(r, str)]
        if self.feed is not None:
            roles = self._apply_feed(raw["sub"], raw["sid"], roles)
        return Claims(
            sub=raw["sub"],
            sid=raw["sid"],
            roles=roles,
            email=raw.get("email"),
            username=raw.get("username"),
            raw=raw,
        )

    def _apply_feed(self, sub: str, sid: str, roles: list[str]) -> list[str]:
        assert self.feed is not None
        if self.fail_closed and not self.feed.is_fresh():
            raise HTTPException(
                503,
                detail="the revocation feed is unreachable; retry shortly",
                headers={"Retry-After": "5"},
            )
        now = int(time.time())
        if self.feed.session_revoked(sid, now):
            raise _unauthorized(True)
        state = self.feed.user_state(sub, now)
        if state is not None:
            active, current = state
            if not active:
                raise _unauthorized(True)
            return current
        return roles

    async def __call__(self, request: Request) -> Claims:
        header = request.headers.get("authorization")
        if header is None:
            raise _unauthorized(False)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized(True)
        return await self.verify(token.strip())

    def require_roles(self, *roles: str):
        """A dependency that yields the claims if the caller has any of ``roles``, else 403."""

        async def guard(claims: Claims = Depends(self)) -> Claims:
            if not claims.has_role(*roles):
                raise HTTPException(403, detail=f"requires one of the roles: {', '.join(roles)}")
            return claims

        return guard


def require_roles(*roles: str):
    """``Depends(require_roles("admin"))``: the claims if the caller has any of ``roles``
    (403 otherwise), verified by the bearer installed with ``FastAPI(lifespan=bearer.lifespan)``."""

    async def guard(request: Request) -> Claims:
        bearer = getattr(request.app.state, "authgate", None)
        if not isinstance(bearer, AuthgateBearer):
            raise RuntimeError(
                "require_roles() needs FastAPI(lifespan=bearer.lifespan), or use bearer.require_roles()"
            )
        claims = await bearer(request)
        if not claims.has_role(*roles):
            raise HTTPException(403, detail=f"requires one of the roles: {', '.join(roles)}")
        return claims

    return guard

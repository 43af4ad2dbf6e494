"""Bearer tokens for the HTTP gateway: who is calling, from verified JWT claims only.

Two ways to verify, chosen by settings:

- a shared secret (HS256, ``CONVOFLOW_JWT_SECRET``) for local use; ``convoflow token`` mints
  tokens with it;
- a JWKS (RS256), from a file (``CONVOFLOW_JWT_JWKS_PATH``) or a URL
  (``CONVOFLOW_JWT_JWKS_URL``, e.g. a Cognito or Auth0 ``.well-known/jwks.json``).

Every token must carry ``exp``; ``iss`` and ``aud`` are checked when configured (both default
to ``convoflow``). Tenant and user come from configurable claims (``tenant`` and ``sub`` by
default) and must be valid ids. The algorithm is pinned per key type, so an HS256 token can
never be checked against a public RSA key (no algorithm confusion) and ``none`` never passes.
"""

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from models import InvalidIdError, validate_id
from models.settings import Settings

HS_ALGORITHMS = ["HS256"]
RS_ALGORITHMS = ["RS256"]
MIN_SECRET_BYTES = 32


class AuthError(Exception):
    """The request carries no usable credentials (HTTP 401); the text says why."""


class AuthConfigError(Exception):
    """The gateway was started without any way to verify tokens."""


@dataclass(frozen=True)
class Principal:
    """The verified caller: a user within a tenant."""

    tenant_id: str
    user_id: str

    @property
    def key(self) -> str:
        """One string per user, for rate limiting."""
        return f"{self.tenant_id}/{self.user_id}"


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or raise :class:`AuthError`."""
    if not authorization:
        raise AuthError("missing Authorization: Bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization header must be 'Bearer <token>'")
    return token.strip()


def _check_secret(secret: str) -> bytes:
    raw = secret.encode()
    if len(raw) < MIN_SECRET_BYTES:
        raise AuthConfigError(
            f"CONVOFLOW_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes "
            "(e.g. `openssl rand -hex 32`)"
        )
    return raw


class TokenVerifier:
    """Checks bearer tokens and turns their claims into a :class:`Principal`."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        jwks: dict[str, Any] | None = None,
        jwks_url: str | None = None,
        issuer: str | None = "convoflow",
        audience: str | None = "convoflow",
        tenant_claim: str = "tenant",
        user_claim: str = "sub",
        leeway: float = 30.0,
    ) -> None:
        """Give at least one of ``secret`` (HS256), ``jwks`` (a JWKS document) or ``jwks_url``."""
        if secret is None and jwks is None and jwks_url is None:
            raise AuthConfigError(
                "no way to verify tokens: set CONVOFLOW_JWT_SECRET, CONVOFLOW_JWT_JWKS_PATH or "
                "CONVOFLOW_JWT_JWKS_URL (or run with --insecure-dev on your own machine)"
            )
        self._secret = _check_secret(secret) if secret is not None else None
        self._jwks = jwt.PyJWKSet.from_dict(jwks) if jwks is not None else None
        self._jwks_client = (
            jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=10)
            if jwks_url
            else None
        )
        self.issuer = issuer
        self.audience = audience
        self.tenant_claim = tenant_claim
        self.user_claim = user_claim
        self.leeway = leeway

    @property
    def fetches_keys(self) -> bool:
        """True when verifying may fetch keys over the network (run it off the event loop)."""
        return self._jwks_client is not None

    def _key_for(self, token: str) -> tuple[Any, list[str]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as err:
            raise AuthError(f"invalid token: {err}") from None
        algorithm = header.get("alg")
        if algorithm in HS_ALGORITHMS:
            if self._secret is None:
                raise AuthError("invalid token: HS256 tokens are not accepted here")
            return self._secret, HS_ALGORITHMS
        if algorithm in RS_ALGORITHMS:
            kid = header.get("kid")
            if self._jwks is not None:
                for key in self._jwks.keys:
                    if kid is None or key.key_id == kid:
                        return key.key, RS_ALGORITHMS
            if self._jwks_client is not None:
                try:
                    return self._jwks_client.get_signing_key_from_jwt(token).key, RS_ALGORITHMS
                except jwt.PyJWKClientError as err:
                    raise AuthError(f"invalid token: {err}") from None
            raise AuthError("invalid token: no key matches its key id")
        raise AuthError(f"invalid token: algorithm {algorithm!r} is not accepted")

    def verify(self, token: str) -> Principal:
        """The caller named by a valid ``token``; raise :class:`AuthError` otherwise."""
        key, algorithms = self._key_for(token)
        required = ["exp", self.user_claim, self.tenant_claim]
        if self.issuer is not None:
            required.append("iss")
        if self.audience is not None:
            required.append("aud")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": required, "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("invalid token: expired") from None
        except jwt.PyJWTError as err:
            raise AuthError(f"invalid token: {err}") from None
        for name in ("exp", "nbf", "iat"):
            # NumericDate (RFC 7519): a JSON number, never a string or a boolean.
            value = claims.get(name)
            if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise AuthError(f"invalid token: claim {name!r} must be a NumericDate")
        try:
            tenant = validate_id("tenant", claims[self.tenant_claim])
            user = validate_id("user", claims[self.user_claim])
        except InvalidIdError:
            raise AuthError(
                f"invalid token: claims {self.tenant_claim!r} and {self.user_claim!r} must be "
                "ids of 1-128 characters from A-Z a-z 0-9 . _ -"
            ) from None
        return Principal(tenant_id=tenant, user_id=user)


def verifier_from_settings(settings: Settings) -> TokenVerifier:
    """The verifier the settings describe; raise :class:`AuthConfigError` if none is."""
    jwks: dict[str, Any] | None = None
    if settings.gateway.jwt_jwks_path is not None:
        try:
            jwks = json.loads(Path(settings.gateway.jwt_jwks_path).read_text())
        except (OSError, ValueError) as err:
            raise AuthConfigError(
                f"cannot read JWKS {settings.gateway.jwt_jwks_path}: {err}"
            ) from None
    secret = settings.gateway.jwt_secret.get_secret_value() if settings.gateway.jwt_secret else None
    try:
        return TokenVerifier(
            secret=secret,
            jwks=jwks,
            jwks_url=settings.gateway.jwt_jwks_url,
            issuer=settings.gateway.jwt_issuer or None,
            audience=settings.gateway.jwt_audience or None,
            tenant_claim=settings.gateway.jwt_tenant_claim,
            user_claim=settings.gateway.jwt_user_claim,
            leeway=settings.gateway.jwt_leeway_seconds,
        )
    except jwt.PyJWTError as err:
        raise AuthConfigError(f"unusable JWKS: {err}") from None


def make_token(
    secret: str,
    *,
    user: str,
    tenant: str,
    ttl_seconds: float = 3600,
    issuer: str | None = "convoflow",
    audience: str | None = "convoflow",
    tenant_claim: str = "tenant",
    user_claim: str = "sub",
    now: float | None = None,
) -> str:
    """An HS256 token for ``user`` in ``tenant`` that the gateway accepts (``convoflow token``)."""
    validate_id("user", user)
    validate_id("tenant", tenant)
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        user_claim: user,
        tenant_claim: tenant,
        "iat": issued,
        "exp": issued + int(ttl_seconds),
    }
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, _check_secret(secret), algorithm="HS256")


def token_from_settings(
    settings: Settings, *, user: str, tenant: str, ttl_seconds: float = 3600
) -> str:
    """A token signed with ``CONVOFLOW_JWT_SECRET`` and the configured issuer/audience/claims."""
    if settings.gateway.jwt_secret is None:
        raise AuthConfigError("set CONVOFLOW_JWT_SECRET (the gateway must use the same secret)")
    return make_token(
        settings.gateway.jwt_secret.get_secret_value(),
        user=user,
        tenant=tenant,
        ttl_seconds=ttl_seconds,
        issuer=settings.gateway.jwt_issuer or None,
        audience=settings.gateway.jwt_audience or None,
        tenant_claim=settings.gateway.jwt_tenant_claim,
        user_claim=settings.gateway.jwt_user_claim,
    )

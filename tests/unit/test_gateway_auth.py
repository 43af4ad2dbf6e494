"""Bearer token verification for the gateway: HS256 secret and RS256 JWKS, claims, refusals."""

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from jwt.utils import base64url_encode
from pydantic import SecretStr

from gateway.auth import (
    AuthConfigError,
    AuthError,
    Principal,
    TokenVerifier,
    bearer_token,
    make_token,
    token_from_settings,
    verifier_from_settings,
)
from models.settings import Settings

SECRET = "unit-test-secret-0123456789abcdefghijklmnopqrstuvwxyz"


def rsa_key() -> rsa.RSAPrivateKey:
    """A fresh RSA signing key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_of(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    """The JWKS document publishing ``key``'s public half as ``kid``."""
    public = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**public, "kid": kid, "use": "sig", "alg": "RS256"}]}


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims (overrides replace or, with None, remove one)."""
    values: dict[str, Any] = {
        "sub": "alice",
        "tenant": "acme",
        "iss": "convoflow",
        "aud": "convoflow",
        "exp": int(time.time()) + 300,
    }
    for name, value in overrides.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value
    return values


def test_hs256_round_trip() -> None:
    verifier = TokenVerifier(secret=SECRET)
    token = make_token(SECRET, user="alice", tenant="acme")
    assert verifier.verify(token) == Principal(tenant_id="acme", user_id="alice")
    assert Principal("acme", "alice").key == "acme/alice"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": -3600}, "expired"),
        ({"exp": None}, "exp"),
        ({"aud": "someone-else"}, "(?i)audience"),
        ({"aud": None}, "aud"),
        ({"iss": "evil"}, "(?i)issuer"),
        ({"iss": None}, "iss"),
        ({"tenant": None}, "tenant"),
        ({"sub": None}, "sub"),
        ({"tenant": "acme corp"}, "ids"),
        ({"sub": "../etc"}, "ids"),
    ],
)
def test_bad_claims_are_refused(overrides: dict[str, Any], reason: str) -> None:
    # Claims are built when the test runs (not at collection): a long suite must not let
    # the "valid" ones expire first. An integer "exp" here is relative to now.
    if isinstance(overrides.get("exp"), int):
        overrides = {**overrides, "exp": int(time.time()) + overrides["exp"]}
    token = jwt.encode(claims(**overrides), SECRET, algorithm="HS256")
    with pytest.raises(AuthError, match=reason):
        TokenVerifier(secret=SECRET).verify(token)


def test_forged_unsigned_and_garbage_tokens_are_refused() -> None:
    verifier = TokenVerifier(secret=SECRET)
    forged = jwt.encode(claims(), "another-secret-of-enough-length-0123456789", algorithm="HS256")
    with pytest.raises(AuthError, match="Signature"):
        verifier.verify(forged)
    unsigned = ".".join(
        base64url_encode(json.dumps(part).encode()).decode()
        for part in ({"alg": "none", "typ": "JWT"}, claims())
    )
    with pytest.raises(AuthError, match="'none' is not accepted"):
        verifier.verify(unsigned + ".")
    with pytest.raises(AuthError, match="invalid token"):
        verifier.verify("not.a.jwt")
    hs384 = jwt.encode(claims(), SECRET, algorithm="HS384")
    with pytest.raises(AuthError, match="HS384"):
        verifier.verify(hs384)


def test_custom_claim_names_and_optional_issuer_audience() -> None:
    verifier = TokenVerifier(
        secret=SECRET, issuer=None, audience=None, tenant_claim="org", user_claim="email_id"
    )
    token = jwt.encode(
        {"org": "globex", "email_id": "bob", "exp": int(time.time()) + 60}, SECRET, "HS256"
    )
    assert verifier.verify(token) == Principal("globex", "bob")


def test_leeway_accepts_small_clock_skew() -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 5), SECRET, algorithm="HS256")
    assert TokenVerifier(secret=SECRET, leeway=30).verify(token).user_id == "alice"
    with pytest.raises(AuthError, match="expired"):
        TokenVerifier(secret=SECRET, leeway=0).verify(token)


def test_rs256_with_a_jwks() -> None:
    key, other = rsa_key(), rsa_key()
    verifier = TokenVerifier(jwks=jwks_of(key, "k1"))
    good = jwt.encode(claims(), key, algorithm="RS256", headers={"kid": "k1"})
    assert verifier.verify(good) == Principal("acme", "alice")
    wrong_key = jwt.encode(claims(), other, algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(AuthError, match="Signature"):
        verifier.verify(wrong_key)
    unknown_kid = jwt.encode(claims(), key, algorithm="RS256", headers={"kid": "k2"})
    with pytest.raises(AuthError, match="no key"):
        verifier.verify(unknown_kid)
    # Without a secret, HS256 tokens are refused outright.
    with pytest.raises(AuthError, match="HS256"):
        verifier.verify(make_token(SECRET, user="alice", tenant="acme"))


def test_no_algorithm_confusion_with_the_public_key() -> None:
    key = rsa_key()
    verifier = TokenVerifier(jwks=jwks_of(key, "k1"))
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = base64url_encode(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    body = base64url_encode(json.dumps(claims()).encode())
    signature = base64url_encode(
        hmac.new(public_pem, header + b"." + body, hashlib.sha256).digest()
    )
    with pytest.raises(AuthError):
        verifier.verify((header + b"." + body + b"." + signature).decode())


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer   abc") == "abc"
    for bad in (None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   "):
        with pytest.raises(AuthError):
            bearer_token(bad)


def test_configuration_from_settings(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="CONVOFLOW_JWT_SECRET"):
        verifier_from_settings(Settings())
    with pytest.raises(AuthConfigError, match="at least 32 bytes"):
        verifier_from_settings(Settings(jwt_secret=SecretStr("short")))

    settings = Settings(jwt_secret=SecretStr(SECRET), jwt_issuer="me", jwt_audience="")
    token = token_from_settings(settings, user="alice", tenant="acme", ttl_seconds=60)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["iss"] == "me" and "aud" not in payload
    assert payload["exp"] - payload["iat"] == 60
    assert verifier_from_settings(settings).verify(token) == Principal("acme", "alice")

    key = rsa_key()
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks_of(key, "prod")))
    verifier = verifier_from_settings(Settings(jwt_jwks_path=path))
    token = jwt.encode(claims(), key, algorithm="RS256", headers={"kid": "prod"})
    assert verifier.verify(token).tenant_id == "acme"
    assert not verifier.fetches_keys
    with pytest.raises(AuthConfigError, match="cannot read JWKS"):
        verifier_from_settings(Settings(jwt_jwks_path=tmp_path / "missing.json"))
    with pytest.raises(AuthConfigError, match="CONVOFLOW_JWT_SECRET"):
        token_from_settings(Settings(), user="alice", tenant="acme")

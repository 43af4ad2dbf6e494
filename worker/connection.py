"""Where and how every Convoflow process connects to Temporal: address, namespace, TLS, API key.

Built on the SDK's own configuration, ``temporalio.envconfig``: a TOML profile (default
``~/.config/temporalio/temporal.toml``, profile ``default``) and the standard ``TEMPORAL_*``
variables, which override the profile. Precedence, highest first:

* address: ``CONVOFLOW_TEMPORAL_ADDRESS`` (or ``--address``) when set, ``TEMPORAL_ADDRESS``,
  the profile's ``address``, then ``localhost:7233``;
* namespace: ``CONVOFLOW_NAMESPACE`` (or ``--namespace``) when set, ``TEMPORAL_NAMESPACE``,
  the profile's ``namespace``, then ``default``;
* profile: ``CONVOFLOW_TEMPORAL_PROFILE``, ``TEMPORAL_PROFILE``, then ``default``; file:
  ``CONVOFLOW_TEMPORAL_CONFIG_FILE``, ``TEMPORAL_CONFIG_FILE``, then the default location;
* API key and TLS (``TEMPORAL_API_KEY``, ``TEMPORAL_TLS``, ``TEMPORAL_TLS_SERVER_CA_CERT_PATH``,
  ``TEMPORAL_TLS_SERVER_NAME``, ``TEMPORAL_TLS_CLIENT_CERT_PATH``,
  ``TEMPORAL_TLS_CLIENT_KEY_PATH``, or their ``*_DATA`` forms): the variable, then the
  profile. An API key turns TLS on (system roots) unless TLS is configured otherwise.

Every mistake a person can make here (a file that cannot be read, a certificate or key that
is not PEM, a key that does not match its certificate, an untrusted server, a rejected key or
client certificate) becomes one :class:`ConnectionConfigError` line that names the setting.
"""

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS, DataSource
from temporalio.service import TLSConfig

from client.errors import ConvoflowError
from models.settings import Settings

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"
DEFAULT_PROFILE = "default"


class ConnectionConfigError(ConvoflowError):
    """The Temporal connection settings are wrong; the message names the setting to fix."""


def default_config_file(environ: Mapping[str, str]) -> Path:
    """Where the SDK looks for ``temporal.toml`` when no file is named."""
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    else:
        base = Path(environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "temporalio" / "temporal.toml"


@dataclass(frozen=True)
class Origins:
    """Which setting each value came from, for error messages."""

    profile: str
    config_file: str
    address: str
    namespace: str
    api_key: str
    tls: str
    server_name: str
    server_ca: str
    client_cert: str
    client_key: str


@dataclass(frozen=True)
class ConnectionOptions:
    """The resolved arguments of ``Client.connect`` and where each came from."""

    target_host: str
    namespace: str
    api_key: str | None
    tls: bool | TLSConfig
    rpc_metadata: Mapping[str, str] = field(default_factory=dict)
    origins: Origins | None = None

    @property
    def has_client_cert(self) -> bool:
        """Whether a client certificate is presented (mTLS)."""
        return isinstance(self.tls, TLSConfig) and self.tls.client_cert is not None


class _Labeller:
    """Names settings: the ``TEMPORAL_*`` variable when it is set, else the profile key."""

    def __init__(self, environ: Mapping[str, str], profile: str, config_file: str) -> None:
        self.environ = environ
        self.profile = profile
        self.config_file = config_file

    def env_or_profile(self, variable: str, key: str, value: object) -> str:
        """``variable`` if it is set or nothing is (it is the usual fix), else the profile key."""
        if self.environ.get(variable) or value is None or value == "":
            return variable
        return f"{key} of profile {self.profile!r} ({self.config_file})"

    def source(self, source: DataSource | None, variable: str, key: str) -> str:
        """Label of a TLS file setting (``*_PATH``/``*_path`` or ``*_DATA``/``*_data``)."""
        suffix = "PATH" if isinstance(source, Path) or source is None else "DATA"
        return self.env_or_profile(f"{variable}_{suffix}", f"{key}_{suffix.lower()}", source)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _config_file(settings: Settings, environ: Mapping[str, str]) -> tuple[Path, str, bool]:
    """The TOML file, the setting naming it, and whether it was named explicitly."""
    if settings.connection.temporal_config_file is not None:
        return settings.connection.temporal_config_file, "CONVOFLOW_TEMPORAL_CONFIG_FILE", True
    if environ.get("TEMPORAL_CONFIG_FILE"):
        return Path(environ["TEMPORAL_CONFIG_FILE"]), "TEMPORAL_CONFIG_FILE", True
    return default_config_file(environ), "the default configuration file", False


def load_profile(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> tuple[ClientConfigProfile, _Labeller, str, str]:
    """The selected profile with the ``TEMPORAL_*`` overrides applied, plus labels."""
    env = dict(os.environ if environ is None else environ)
    path, file_label, explicit_file = _config_file(settings, env)
    if settings.connection.temporal_profile:
        profile_name, profile_label = (
            settings.connection.temporal_profile,
            "CONVOFLOW_TEMPORAL_PROFILE",
        )
    elif env.get("TEMPORAL_PROFILE"):
        profile_name, profile_label = env["TEMPORAL_PROFILE"], "TEMPORAL_PROFILE"
    else:
        profile_name, profile_label = DEFAULT_PROFILE, "the default profile"
    source: Path | None = None
    if not explicit_file and not path.exists() and profile_name != DEFAULT_PROFILE:
        raise ConnectionConfigError(
            f"{profile_label}: profile {profile_name!r} not found (no file at {path})"
        )
    if explicit_file or path.exists():
        try:
            with path.open("rb"):
                pass
        except OSError as err:
            raise ConnectionConfigError(
                f"{file_label}: cannot read {path}: {err.strerror or err}"
            ) from None
        source = path
    try:
        profile = ClientConfigProfile.load(
            profile_name,
            config_source=source,
            disable_file=source is None,
            override_env_vars=env,
        )
    except Exception as err:  # the bridge's ConfigError is not importable as a type
        text = _one_line(str(err))
        if "not found" in text and "rofile" in text:
            where = f"in {path}" if source is not None else f"(no file at {path})"
            raise ConnectionConfigError(
                f"{profile_label}: profile {profile_name!r} not found {where}"
            ) from None
        if "TOML" in text:
            raise ConnectionConfigError(f"{file_label} {path}: {text}") from None
        raise ConnectionConfigError(f"Temporal connection settings: {text}") from None
    return profile, _Labeller(env, profile_name, str(path)), profile_label, file_label


def _read(source: DataSource | None, label: str) -> bytes | None:
    if source is None:
        return None
    if isinstance(source, Path):
        try:
            return source.read_bytes()
        except OSError as err:
            raise ConnectionConfigError(
                f"{label}: cannot read {source}: {err.strerror or err}"
            ) from None
    return source.encode() if isinstance(source, str) else source


def _what(source: DataSource | None) -> str:
    return str(source) if isinstance(source, Path) else "the inline data"


def _certificates(data: bytes, source: DataSource | None, label: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConnectionConfigError(f"{label}: {_what(source)} holds no PEM certificate") from None


def _tls_config(tls: ClientConfigTLS, labels: Origins) -> TLSConfig:
    """Read and check every TLS file, so a mistake is named before connecting."""
    ca = _read(tls.server_root_ca_cert, labels.server_ca)
    cert = _read(tls.client_cert, labels.client_cert)
    key = _read(tls.client_private_key, labels.client_key)
    if ca is not None:
        _certificates(ca, tls.server_root_ca_cert, labels.server_ca)
    if (cert is None) != (key is None):
        missing, given = (
            (labels.client_key, labels.client_cert)
            if key is None
            else (labels.client_cert, labels.client_key)
        )
        raise ConnectionConfigError(
            f"{missing}: not set, but {given} is (a client certificate needs its key)"
        )
    if cert is not None and key is not None:
        leaf = _certificates(cert, tls.client_cert, labels.client_cert)[0]
        try:
            private_key = serialization.load_pem_private_key(key, password=None)
        except (ValueError, TypeError) as err:
            reason = "is encrypted" if isinstance(err, TypeError) else "is not a PEM private key"
            raise ConnectionConfigError(
                f"{labels.client_key}: {_what(tls.client_private_key)} {reason}"
                " (an unencrypted PEM key is needed)"
            ) from None
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        encoding = serialization.Encoding.DER
        if private_key.public_key().public_bytes(
            encoding, public
        ) != leaf.public_key().public_bytes(encoding, public):
            raise ConnectionConfigError(
                f"{labels.client_key}: the key in {_what(tls.client_private_key)} does not match"
                f" the client certificate {_what(tls.client_cert)}"
            )
    return TLSConfig(
        server_root_ca_cert=ca,
        domain=tls.server_name or None,
        client_cert=cert,
        client_private_key=key,
    )


def connection_options(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> ConnectionOptions:
    """Resolve the connection (see the module docstring for the precedence) and check it.

    Raises :class:`ConnectionConfigError` naming the setting when a profile is missing or a
    TLS file cannot be read or is not what it should be.
    """
    profile, labeller, profile_label, file_label = load_profile(settings, environ)
    explicit = settings.connection.model_fields_set
    if "temporal_address" in explicit:
        address, address_label = settings.connection.temporal_address, "CONVOFLOW_TEMPORAL_ADDRESS"
    elif profile.address:
        address = profile.address
        address_label = labeller.env_or_profile("TEMPORAL_ADDRESS", "address", address)
    else:
        address, address_label = settings.connection.temporal_address, "CONVOFLOW_TEMPORAL_ADDRESS"
    if "namespace" in explicit:
        namespace, namespace_label = settings.connection.namespace, "CONVOFLOW_NAMESPACE"
    elif profile.namespace:
        namespace = profile.namespace
        namespace_label = labeller.env_or_profile("TEMPORAL_NAMESPACE", "namespace", namespace)
    else:
        namespace, namespace_label = settings.connection.namespace, "CONVOFLOW_NAMESPACE"
    tls_profile = profile.tls or ClientConfigTLS()
    origins = Origins(
        profile=profile_label,
        config_file=file_label,
        address=address_label,
        namespace=namespace_label,
        api_key=labeller.env_or_profile("TEMPORAL_API_KEY", "api_key", profile.api_key),
        tls=labeller.env_or_profile("TEMPORAL_TLS", "tls.disabled", tls_profile.disabled),
        server_name=labeller.env_or_profile(
            "TEMPORAL_TLS_SERVER_NAME", "tls.server_name", tls_profile.server_name
        ),
        server_ca=labeller.source(
            tls_profile.server_root_ca_cert, "TEMPORAL_TLS_SERVER_CA_CERT", "tls.server_ca_cert"
        ),
        client_cert=labeller.source(
            tls_profile.client_cert, "TEMPORAL_TLS_CLIENT_CERT", "tls.client_cert"
        ),
        client_key=labeller.source(
            tls_profile.client_private_key, "TEMPORAL_TLS_CLIENT_KEY", "tls.client_key"
        ),
    )
    tls: bool | TLSConfig = bool(profile.api_key)
    if profile.tls is not None:
        tls = False if profile.tls.disabled is True else _tls_config(profile.tls, origins)
    return ConnectionOptions(
        target_host=address,
        namespace=namespace,
        api_key=profile.api_key or None,
        tls=tls,
        rpc_metadata=dict(profile.grpc_meta),
        origins=origins,
    )


_STATUS = re.compile(r'Status \{ code: (\w+), message: "((?:[^"\\]|\\.)*)"')


def explain_connect_error(
    options: ConnectionOptions, err: BaseException
) -> ConnectionConfigError | None:
    """The one-line error naming the setting behind a failed ``Client.connect``, if known.

    ``None`` means the failure is not about TLS or credentials (for example an unreachable
    address); the caller lets the original error through.
    """
    origins = options.origins
    if origins is None:
        return None
    text = _one_line(str(err))
    where = options.target_host
    tls = options.tls
    custom_ca = isinstance(tls, TLSConfig) and tls.server_root_ca_cert is not None
    status = _STATUS.search(text)
    code, message = (status.group(1), status.group(2)) if status else ("", "")

    if "NotValidForName" in text:
        name = tls.domain if isinstance(tls, TLSConfig) and tls.domain else where.rsplit(":", 1)[0]
        label = (
            origins.server_name if isinstance(tls, TLSConfig) and tls.domain else origins.address
        )
        return ConnectionConfigError(
            f"{label}: the TLS certificate of {where} is not valid for {name!r}"
            " (set TEMPORAL_TLS_SERVER_NAME to a name it holds)"
        )
    if "UnknownIssuer" in text or "BadSignature" in text or "Expired" in text:
        reason = "has expired" if "Expired" in text else "is not signed by "
        if "Expired" not in text:
            reason += "that CA" if custom_ca else "a CA the system trusts"
        label = origins.server_ca if custom_ca else "TEMPORAL_TLS_SERVER_CA_CERT_PATH"
        hint = "" if custom_ca else " (set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the cluster's CA)"
        return ConnectionConfigError(
            f"{label}: TLS handshake with {where} failed: the server certificate {reason}{hint}"
        )
    client_cert_rejected = (
        "CertificateRequired" in text
        or "BadCertificate" in text
        or "UnknownCA" in text
        or "certificate required" in text
        or ("400 Bad Request" in text and tls is not False)
    )
    if client_cert_rejected:
        if options.has_client_cert:
            return ConnectionConfigError(
                f"{origins.client_cert}: {where} rejected the client certificate"
                " (is it signed by a CA the server trusts?)"
            )
        return ConnectionConfigError(
            f"TEMPORAL_TLS_CLIENT_CERT_PATH: {where} requires a client certificate (mTLS) and"
            " none is set (set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)"
        )
    if code in ("Unauthenticated", "PermissionDenied"):
        kind = "UNAUTHENTICATED" if code == "Unauthenticated" else "PERMISSION_DENIED"
        detail = f"{kind}: {message}" if message else kind
        if options.api_key:
            scope = f" for namespace {options.namespace!r}" if kind == "PERMISSION_DENIED" else ""
            return ConnectionConfigError(
                f"{origins.api_key}: {where} rejected the API key{scope} ({detail})"
            )
        if options.has_client_cert:
            return ConnectionConfigError(
                f"{origins.client_cert}: {where} rejected the client certificate ({detail})"
            )
        return ConnectionConfigError(
            f"TEMPORAL_API_KEY: {where} requires credentials and none are set ({detail})"
        )
    if "KeyMismatch" in text or "PrivateKeyParseError" in text:
        return ConnectionConfigError(
            f"{origins.client_key}: the client key is not usable with the client certificate"
        )
    # A TLS port answers a plaintext HTTP/2 preface with an HTTP/1 error page and closes:
    # the client sees the page as a bad frame, or only the close, whichever it reads first.
    plain_refused = ("FRAME_SIZE_ERROR", "h2 protocol error", '"connection closed"')
    if tls is False and any(sign in text for sign in plain_refused):
        return ConnectionConfigError(
            f"{origins.tls}: {where} did not answer plain gRPC; it probably requires TLS"
            " (TLS is off)"
        )
    if tls is not False and ("InvalidContentType" in text or "CorruptMessage" in text):
        return ConnectionConfigError(
            f"{origins.tls}: {where} did not answer TLS; is it a plaintext server?"
        )
    return None

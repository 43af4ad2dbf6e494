"""nginx as a TLS-terminating gRPC proxy in front of the Temporal dev server.

Each proxy runs in the foreground (``daemon off``) with a private prefix: its configuration,
pid file, logs and temp directories live under the test's ``tmp_path``, and it listens on a
free loopback port. Two modes, like the secured clusters users connect to:

* ``api_key``: server TLS; requests whose ``authorization`` metadata is not ``Bearer <key>``
  get gRPC status UNAUTHENTICATED (what Temporal Cloud answers to a bad API key).
* ``mtls``: server TLS and ``ssl_verify_client on``: a client certificate signed by the CA is
  required.
"""

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.tls.pki import Pem

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")


def nginx_binary() -> str | None:
    """Path of the nginx executable, or None if it is not installed."""
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Proxy:
    """A running nginx proxy: where it listens and where its logs are."""

    address: str
    error_log: Path
    access_log: Path


_CONFIG = """\
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    client_max_body_size 16m;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {server_cert};
        ssl_certificate_key {server_key};
{client_verification}
        # Temporal long polls last up to about a minute.
        grpc_read_timeout 300s;
        grpc_send_timeout 300s;
        location / {{
{api_key_check}
            grpc_pass grpc://{upstream};
        }}
        location @unauthenticated {{
            default_type application/grpc;
            add_header grpc-status 16 always;
            add_header grpc-message "invalid API key" always;
            return 204;
        }}
    }}
}}
"""


def render_config(
    root: Path,
    port: int,
    upstream: str,
    server: Pem,
    *,
    api_key: str | None = None,
    client_ca: Path | None = None,
) -> str:
    """The nginx configuration of one proxy."""
    client_verification = ""
    if client_ca is not None:
        client_verification = (
            f"        ssl_client_certificate {client_ca};\n        ssl_verify_client on;"
        )
    api_key_check = ""
    if api_key is not None:
        api_key_check = (
            f'            if ($http_authorization != "Bearer {api_key}") {{ return 401; }}\n'
            "            error_page 401 = @unauthenticated;"
        )
    return _CONFIG.format(
        root=root,
        port=port,
        upstream=upstream,
        server_cert=server.cert,
        server_key=server.key,
        client_verification=client_verification,
        api_key_check=api_key_check,
    )


def _wait_listening(process: "subprocess.Popen[bytes]", port: int, error_log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = error_log.read_text() if error_log.exists() else ""
            raise RuntimeError(f"nginx exited with {process.returncode}:\n{log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on 127.0.0.1:{port} within 15 s")


@contextlib.contextmanager
def running_proxy(
    root: Path,
    upstream: str,
    server: Pem,
    *,
    api_key: str | None = None,
    client_ca: Path | None = None,
) -> Iterator[Proxy]:
    """Start nginx proxying to ``upstream`` (host:port of the dev server); stop it on exit."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed")
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = root / "nginx.conf"
    config.write_text(
        render_config(root, port, upstream, server, api_key=api_key, client_ca=client_ca)
    )
    error_log = root / "error.log"
    # -e: nginx opens its error log before reading the configuration; keep it private too.
    command = [binary, "-p", str(root), "-c", str(config), "-e", str(error_log)]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise RuntimeError(f"nginx rejected its configuration:\n{check.stderr}")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(process, port, error_log)
        yield Proxy(f"127.0.0.1:{port}", error_log, root / "access.log")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

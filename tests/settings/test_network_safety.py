"""Network safety: verified TLS from the OS trust store, the system proxy honoured (loopback
always direct), plain http:// only to this computer, downloads capped and checked over a real
socket, and server-supplied names that never leave the library."""

from __future__ import annotations

import logging
import ssl
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from rhdesk.api import transport
from rhdesk.api.client import RunningHubClient
from rhdesk.api.errors import DownloadRejectedError, InsecureURLError, NetworkError
from rhdesk.core.naming import NameFields, result_path, safe_extension

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class _Files(BaseHTTPRequestHandler):
    """Serves /big (over the cap), /html (not an image), /ok.png; records proxy requests."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        type(self).seen.append(self.path)
        body = {"/big": PNG + b"\x00" * 5000, "/html": b"<html>sign in</html>" * 10}.get(
            self.path, PNG
        )
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        if self.path != "/big":  # the cap must hold without a Content-Length too
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_CONNECT(self) -> None:  # noqa: N802 - what a proxy receives for https
        type(self).seen.append(f"CONNECT {self.path}")
        self.send_response(502)
        self.end_headers()

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def server():
    _Files.seen = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", _Files.seen
    srv.shutdown()
    srv.server_close()


# -- plain http ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url", ["http://www.runninghub.cn", "http://10.0.0.5:8080", "http://127.0.0.1.evil.example"]
)
def test_plain_http_to_another_host_is_refused(url: str) -> None:
    with pytest.raises(InsecureURLError):
        RunningHubClient("a-good-key-123", url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"])
def test_plain_http_to_this_computer_is_allowed(url: str) -> None:
    RunningHubClient("a-good-key-123", url)


async def test_a_result_link_over_plain_http_elsewhere_is_never_fetched(tmp_path: Path) -> None:
    async with RunningHubClient("a-good-key-123", "https://www.runninghub.cn") as client:
        with pytest.raises(InsecureURLError):
            await client.download("http://cdn.example.com/x.png?sig=1", tmp_path / "x.part")
    assert not (tmp_path / "x.part").exists()


# -- downloads over a real socket ------------------------------------------------------------
async def test_downloads_are_capped_and_must_be_images(server, tmp_path: Path) -> None:
    base, _seen = server
    async with RunningHubClient(
        "a-good-key-123", base, download_max_bytes=1000, max_retries=0
    ) as client:
        with pytest.raises(DownloadRejectedError, match="larger"):
            await client.download(f"{base}/big", tmp_path / "big.part")
        with pytest.raises(DownloadRejectedError, match="not an image"):
            await client.download(f"{base}/html", tmp_path / "html.part")
        assert await client.download(f"{base}/ok.png", tmp_path / "ok.part") == len(PNG)
    assert not (tmp_path / "big.part").exists() and not (tmp_path / "html.part").exists()
    assert (tmp_path / "ok.part").read_bytes() == PNG


# -- names from the server -------------------------------------------------------------------
@pytest.mark.parametrize(
    "source",
    ["../../x", "/etc/passwd", "C:\\Windows\\evil", "..", "CON", "nul.txt", "LPT1 .", "aux",
     "COM9", "a/../../b", "\x00\x1f", "x" * 500],
)  # fmt: skip
def test_hostile_names_stay_inside_the_library(tmp_path: Path, source: str) -> None:
    library = tmp_path / "library"
    library.mkdir()
    fields = NameFields(source=source, model="../seedream", when=datetime(2025, 1, 2), n=1)
    for template in ("{source}_{n}", "{model}/{source}", "../{source}", "/abs/{source}"):
        path = result_path(library, template, fields, safe_extension("../../exe"))
        assert library.resolve() in path.parents, (template, path)
        assert path.suffix == ".png"
        for part in path.relative_to(library.resolve()).parts:
            assert part.split(".")[0].strip().upper() not in {"CON", "NUL", "AUX", "LPT1", "COM9"}
            assert len(part) <= 130


# -- TLS -------------------------------------------------------------------------------------
def test_tls_uses_the_system_trust_store_and_always_verifies() -> None:
    ctx = transport.tls_context()
    assert type(ctx).__module__.startswith("truststore")
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname


def test_without_truststore_certifi_still_verifies(monkeypatch, caplog) -> None:
    import builtins

    real_import = builtins.__import__

    def no_truststore(name, *args, **kwargs):
        if name == "truststore":
            raise ImportError("no native trust store here")
        return real_import(name, *args, **kwargs)

    transport.tls_context.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_truststore)
    try:
        with caplog.at_level(logging.WARNING, logger="rhdesk.api"):
            ctx = transport.tls_context()
        assert isinstance(ctx, ssl.SSLContext) and not type(ctx).__module__.startswith("trust")
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
        assert "no native trust store here" in caplog.text  # says why
    finally:
        monkeypatch.undo()
        transport.tls_context.cache_clear()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_a_server_with_an_unknown_certificate_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    cert, key = _self_signed(tmp_path)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"https://127.0.0.1:{srv.server_address[1]}"
        async with RunningHubClient("a-good-key-123", url, max_retries=0) as client:
            with pytest.raises(NetworkError):
                await client.account_status()
    finally:
        srv.shutdown()
        srv.server_close()


# -- proxies ---------------------------------------------------------------------------------
def test_system_proxies_come_from_urllib(monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://user:secret@proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "intranet.corp")
    proxies = transport.system_proxies()
    assert proxies["https"] == "http://user:secret@proxy.corp:3128"
    t = transport.SystemProxyTransport(proxies, transport.tls_context())
    transport._bypasses_proxy.cache_clear()
    assert t.route(httpx.URL("https://www.runninghub.cn/x")) is t.proxied["https"]
    assert t.route(httpx.URL("https://files.intranet.corp/x")) is t.direct
    for loopback in ("http://127.0.0.1:8187/", "http://localhost/", "http://[::1]:9/"):
        assert t.route(httpx.URL(loopback)) is t.direct
    transport._bypasses_proxy.cache_clear()


async def test_requests_elsewhere_go_through_the_proxy_and_loopback_does_not(
    server, monkeypatch, caplog, tmp_path: Path
) -> None:
    base, seen = server
    monkeypatch.setenv("HTTPS_PROXY", base.replace("http://", "http://someone:pw@"))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    transport._bypasses_proxy.cache_clear()
    caplog.set_level(logging.INFO, logger="rhdesk.api")
    async with RunningHubClient("a-good-key-123", "https://www.runninghub.invalid",
                                max_retries=0) as client:  # fmt: skip
        with pytest.raises(NetworkError):
            await client.account_status()
        # The emulator and other local servers are reached directly, proxy or not.
        assert await client.download(f"{base}/ok.png", tmp_path / "p.part") == len(PNG)
    assert "CONNECT www.runninghub.invalid:443" in seen
    assert "pw" not in caplog.text and "someone" not in caplog.text
    transport._bypasses_proxy.cache_clear()

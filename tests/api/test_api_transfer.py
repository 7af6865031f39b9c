"""upload (streamed multipart with progress) and download (streamed, checked, to a file)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from rhdesk.api import (
    AuthError,
    BadParameterError,
    DownloadRejectedError,
    InsecureURLError,
    ResultExpiredError,
    ServerBusyError,
)

MakeClient = Callable[..., Any]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(300 * 1024)
UPLOAD_OK = {
    "code": 0,
    "message": "success",
    "data": {
        "type": "image",
        "download_url": "https://cdn.test/openapi/abc.png",
        "fileName": "openapi/abc.png",
        "size": "3490",
    },
}
RESULT_URL = "https://cdn.test/results/x.png?sig=s3cr3tsig"


def parse_multipart(request: httpx.Request) -> tuple[dict[str, str], bytes]:
    """Parse a one-part multipart/form-data body strictly, as a server would."""
    media_type, _, boundary = request.headers["Content-Type"].partition("; boundary=")
    assert media_type == "multipart/form-data" and boundary
    body = request.content
    assert int(request.headers["Content-Length"]) == len(body)
    assert "Transfer-Encoding" not in request.headers
    opening = f"--{boundary}\r\n".encode()
    closing = f"\r\n--{boundary}--\r\n".encode()
    assert body.startswith(opening) and body.endswith(closing)
    inner = body[len(opening) : -len(closing)]
    head, data = inner.split(b"\r\n\r\n", 1)
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
    return headers, data


# -- upload -----------------------------------------------------------------------------------------


async def test_upload_streams_a_well_formed_multipart_body(make_client: MakeClient) -> None:
    seen: list[tuple[dict[str, str], bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(parse_multipart(request))
        return httpx.Response(200, json=UPLOAD_OK)

    progress: list[tuple[int, int]] = []
    h = make_client(handler)
    result = await h.client.upload(
        PNG, "photo.png", "image/png", progress=lambda s, t: progress.append((s, t))
    )

    assert result.download_url == "https://cdn.test/openapi/abc.png"
    assert result.file_name == "openapi/abc.png"
    assert result.size == 3490 and result.type == "image"
    ((headers, data),) = seen
    assert headers["Content-Disposition"] == 'form-data; name="file"; filename="photo.png"'
    assert headers["Content-Type"] == "image/png"
    assert data == PNG
    (request,) = h.requests
    assert request.url.path == "/openapi/v2/media/upload/binary"
    assert request.headers["Authorization"] == f"Bearer {h.api_key}"
    total = int(request.headers["Content-Length"])
    assert progress[-1] == (total, total)
    assert len(progress) >= 300 // 64
    sent = [s for s, _ in progress]
    assert sent == sorted(sent) and all(t == total for _, t in progress)


async def test_upload_escapes_the_filename(make_client: MakeClient) -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(parse_multipart(request)[0])
        return httpx.Response(200, json=UPLOAD_OK)

    h = make_client(handler)
    await h.client.upload(b"\xff\xd8\xff\xe0", 'a "b"\r\n.jpg', "image/jpeg")
    assert seen[0]["Content-Disposition"] == (
        'form-data; name="file"; filename="a %22b%22%0D%0A.jpg"'
    )
    assert seen[0]["Content-Type"] == "image/jpeg"


async def test_upload_reads_msg_and_tolerates_extra_fields(make_client: MakeClient) -> None:
    reply = {"code": "0", "msg": "success", "data": {"download_url": "https://c/x", "n": 1}}
    h = make_client(httpx.Response(200, json=reply))
    result = await h.client.upload(b"GIF89a....", "x.gif", "image/gif")
    assert result.download_url == "https://c/x"
    assert result.size is None and result.file_name == ""


@pytest.mark.parametrize(
    "first",
    [
        httpx.Response(401, json={"code": 401, "message": "ApiKey verification failed"}),
        httpx.Response(200, json={"code": 401, "message": "ApiKey verification failed"}),
    ],
)
async def test_upload_retries_a_401_once(make_client: MakeClient, first: httpx.Response) -> None:
    h = make_client(first, httpx.Response(200, json=UPLOAD_OK))
    result = await h.client.upload(PNG, "p.png")
    assert result.download_url.endswith("abc.png")
    assert h.sleeps == [1.5]
    assert len(h.requests) == 2


async def test_upload_gives_up_after_a_second_401(make_client: MakeClient) -> None:
    h = make_client(httpx.Response(401, json={"code": 401, "message": "API Key不存在"}))
    with pytest.raises(AuthError):
        await h.client.upload(PNG, "p.png")
    assert len(h.requests) == 2
    assert h.sleeps == [1.5]


async def test_upload_retries_network_errors_and_restarts_progress(
    make_client: MakeClient,
) -> None:
    progress: list[tuple[int, int]] = []
    h = make_client(
        httpx.ReadError("reset"),
        httpx.Response(502),
        httpx.Response(200, json=UPLOAD_OK),
    )
    await h.client.upload(PNG, "p.png", progress=lambda s, t: progress.append((s, t)))
    assert len(h.requests) == 3
    assert all(request.content.endswith(b"--\r\n") for request in h.requests)
    total = progress[-1][1]
    assert progress[-1] == (total, total)
    assert sum(1 for s, _ in progress if s == total) == 3


async def test_upload_file_too_large_is_not_retried(make_client: MakeClient) -> None:
    h = make_client(httpx.Response(200, json={"code": 809, "msg": "file too large"}))
    with pytest.raises(BadParameterError, match="too large"):
        await h.client.upload(PNG, "p.png")
    assert len(h.requests) == 1


async def test_upload_without_link_is_a_protocol_error(make_client: MakeClient) -> None:
    from rhdesk.api import ProtocolError

    h = make_client(httpx.Response(200, json={"code": 0, "msg": "ok", "data": None}))
    with pytest.raises(ProtocolError):
        await h.client.upload(PNG, "p.png")
    assert len(h.requests) == 5


# -- download ---------------------------------------------------------------------------------------


def image_response(body: bytes = PNG, **headers: str) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"Content-Type": "image/png", **headers})


def streamed(*chunks: bytes | Exception) -> Callable[[httpx.Request], httpx.Response]:
    """A reply without Content-Length whose body arrives in chunks (an exception drops it)."""

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            if isinstance(chunk, Exception):
                raise chunk
            yield chunk

    return lambda request: httpx.Response(200, content=body())


async def test_download_writes_exact_bytes_without_auth(
    make_client: MakeClient, tmp_path: Path
) -> None:
    dest = tmp_path / "part.tmp"
    progress: list[tuple[int, int | None]] = []
    h = make_client(image_response())
    written = await h.client.download(RESULT_URL, dest, lambda n, t: progress.append((n, t)))
    assert written == len(PNG)
    assert dest.read_bytes() == PNG
    (request,) = h.requests
    assert "Authorization" not in request.headers
    assert h.api_key not in str(request.headers)
    assert str(request.url) == RESULT_URL
    assert progress[-1] == (len(PNG), len(PNG))


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"x" * 100,
        b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"x" * 100,
        b"GIF89a" + b"x" * 10,
        b"BM" + b"x" * 40,
        b"II*\x00" + b"x" * 40,
        b"MM\x00*" + b"x" * 40,
        b"\xff\xd8\xff",  # shorter than the longest signature
    ],
)
async def test_download_accepts_image_formats(
    make_client: MakeClient, tmp_path: Path, body: bytes
) -> None:
    h = make_client(image_response(body))
    dest = tmp_path / "part.tmp"
    assert await h.client.download(RESULT_URL, dest) == len(body)
    assert dest.read_bytes() == body


async def test_download_streamed_without_length(make_client: MakeClient, tmp_path: Path) -> None:
    chunks = [PNG[:5], PNG[5:70000], PNG[70000:]]
    progress: list[tuple[int, int | None]] = []
    h = make_client(streamed(*chunks))
    dest = tmp_path / "part.tmp"
    await h.client.download(RESULT_URL, dest, lambda n, t: progress.append((n, t)))
    assert dest.read_bytes() == PNG
    assert progress[-1] == (len(PNG), None)


@pytest.mark.parametrize("status", [403, 404, 410])
async def test_download_expired(make_client: MakeClient, tmp_path: Path, status: int) -> None:
    h = make_client(httpx.Response(status, text="AccessDenied"))
    dest = tmp_path / "part.tmp"
    with pytest.raises(ResultExpiredError) as info:
        await h.client.download(RESULT_URL, dest)
    assert info.value.http_status == status
    assert len(h.requests) == 1
    assert not dest.exists()


async def test_download_too_large_by_content_length(
    make_client: MakeClient, tmp_path: Path
) -> None:
    h = make_client(image_response(), download_max_bytes=1000)
    dest = tmp_path / "part.tmp"
    with pytest.raises(DownloadRejectedError, match="more than"):
        await h.client.download(RESULT_URL, dest)
    assert not dest.exists()
    assert len(h.requests) == 1


async def test_download_too_large_while_streaming(make_client: MakeClient, tmp_path: Path) -> None:
    h = make_client(streamed(PNG[:40000], PNG[40000:80000], PNG[80000:]), download_max_bytes=50000)
    dest = tmp_path / "part.tmp"
    with pytest.raises(DownloadRejectedError, match="larger than"):
        await h.client.download(RESULT_URL, dest)
    assert not dest.exists()
    assert len(h.requests) == 1


@pytest.mark.parametrize(
    "body", [b"<html><body>Access denied</body></html>", b"", b'{"code":0}', b"\x89PN"]
)
async def test_download_not_an_image(make_client: MakeClient, tmp_path: Path, body: bytes) -> None:
    h = make_client(httpx.Response(200, content=body))
    dest = tmp_path / "part.tmp"
    with pytest.raises(DownloadRejectedError, match="not an image"):
        await h.client.download(RESULT_URL, dest)
    assert not dest.exists()


async def test_download_restarts_after_errors(make_client: MakeClient, tmp_path: Path) -> None:
    h = make_client(
        httpx.Response(503, headers={"Retry-After": "1"}),
        streamed(PNG[:70000], httpx.ReadError("connection reset")),
        httpx.ConnectError("refused"),
        image_response(),
    )
    dest = tmp_path / "part.tmp"
    assert await h.client.download(RESULT_URL, dest) == len(PNG)
    assert dest.read_bytes() == PNG
    assert len(h.requests) == 4
    assert h.sleeps[0] == 1.0 and len(h.sleeps) == 3


async def test_download_gives_up_on_persistent_5xx(make_client: MakeClient, tmp_path: Path) -> None:
    h = make_client(httpx.Response(500), max_retries=1)
    dest = tmp_path / "part.tmp"
    with pytest.raises(ServerBusyError):
        await h.client.download(RESULT_URL, dest)
    assert len(h.requests) == 2
    assert not dest.exists()


async def test_download_other_status_is_rejected(make_client: MakeClient, tmp_path: Path) -> None:
    h = make_client(httpx.Response(400))
    with pytest.raises(DownloadRejectedError, match="HTTP 400"):
        await h.client.download(RESULT_URL, tmp_path / "part.tmp")
    assert len(h.requests) == 1


async def test_download_refuses_plain_http_before_any_request(
    make_client: MakeClient, tmp_path: Path
) -> None:
    h = make_client(image_response())
    with pytest.raises(InsecureURLError):
        await h.client.download("http://example.com/x.png", tmp_path / "part.tmp")
    assert h.requests == []
    assert not (tmp_path / "part.tmp").exists()


async def test_download_allows_plain_http_to_loopback(
    make_client: MakeClient, tmp_path: Path
) -> None:
    h = make_client(image_response())
    for url in ("http://127.0.0.1:8123/x.png", "http://localhost/x.png", "http://[::1]:9/x.png"):
        assert await h.client.download(url, tmp_path / "part.tmp") == len(PNG)
    assert len(h.requests) == 3


async def test_download_follows_redirects_under_the_url_policy(
    make_client: MakeClient, tmp_path: Path
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "cdn.test":
            return httpx.Response(302, headers={"Location": "https://mirror.test/y.png"})
        return image_response()

    h = make_client(handler)
    dest = tmp_path / "part.tmp"
    assert await h.client.download(RESULT_URL, dest) == len(PNG)
    assert [r.url.host for r in h.requests] == ["cdn.test", "mirror.test"]

    h = make_client(httpx.Response(302, headers={"Location": "http://evil.test/y.png"}))
    with pytest.raises(InsecureURLError):
        await h.client.download(RESULT_URL, dest)
    assert len(h.requests) == 1
    assert not dest.exists()


async def test_download_redirect_loop_is_rejected(make_client: MakeClient, tmp_path: Path) -> None:
    h = make_client(httpx.Response(302, headers={"Location": "/again"}))
    with pytest.raises(DownloadRejectedError, match="redirected"):
        await h.client.download(RESULT_URL, tmp_path / "part.tmp")
    assert len(h.requests) == 6

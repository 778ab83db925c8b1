"""Signed media links, against a real uvicorn server on loopback.

Through uvicorn rather than TestClient: httpx normalises '..' and re-encodes paths client-side, so it
cannot send the traversal forms an attacker would. http.client sends the request target verbatim,
and uvicorn percent-decodes it once, exactly as in production, before the route sees it.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlencode

import httpx
import pytest
import uvicorn

from retail_pipeline.api.app import create_app
from retail_pipeline.media.links import MediaPathError, media_signature, media_url, sign_media_path
from retail_pipeline.settings import Settings

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) + b"\xff\xd9"
SECRET = b"top secret: not media"
LABEL_PDF = b"%PDF-1.4\n% a shipping label\n%%EOF\n"


@dataclass(frozen=True)
class Server:
    base_url: str
    settings: Settings

    def get(self, target: str) -> tuple[int, dict[str, str], bytes]:
        """GET ``target`` (path and query) byte for byte as given."""
        host, port = self.base_url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            conn.request("GET", target)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def detail(self, target: str) -> tuple[int, str]:
        status, _, body = self.get(target)
        return status, json.loads(body)["detail"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("media-test")
    root = base / "var" / "media"
    (root / "photos").mkdir(parents=True)
    (root / "photos" / "p1.jpg").write_bytes(JPEG)
    (root / "docs").mkdir()
    (root / "docs" / "label.pdf").write_bytes(b"%PDF-1.7\n")
    (root / "docs" / "blob").write_bytes(b"\x00\x01")
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_bytes(SECRET)
    (root / "escape.txt").symlink_to(base / "outside" / "secret.txt")
    (root / "escape_dir").symlink_to(base / "outside", target_is_directory=True)
    (root / "alias.jpg").symlink_to(root / "photos" / "p1.jpg")
    labels = base / "var" / "labels" / "2026"  # labels live under the data root, beside the media root
    labels.mkdir(parents=True)
    (labels / "abc123.pdf").write_bytes(LABEL_PDF)
    (labels / "escape.pdf").symlink_to(base / "outside" / "secret.txt")
    (base / "var" / "media_signing.key").write_text("not served")

    # The media route never touches the database, so these tests need none.
    settings = Settings(retail_data_dir=base / "var", media_signing_key="test-signing-key")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    uv = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    host, port = sock.getsockname()
    yield Server(f"http://{host}:{port}", settings)
    uv.should_exit = True
    thread.join(timeout=5)


def _signed(server: Server, rel_path: str, **overrides: str) -> str:
    return (
        f"/media/{rel_path}?{urlencode({**sign_media_path(rel_path, settings=server.settings), **overrides})}"
    )


@pytest.mark.parametrize(
    ("rel_path", "content_type", "content"),
    [
        ("photos/p1.jpg", "image/jpeg", JPEG),
        ("docs/label.pdf", "application/pdf", b"%PDF-1.7\n"),
        ("docs/blob", "application/octet-stream", b"\x00\x01"),
        ("alias.jpg", "image/jpeg", JPEG),  # a symlink that stays inside the root is fine
    ],
)
def test_a_signed_link_streams_the_file(
    server: Server, rel_path: str, content_type: str, content: bytes
) -> None:
    response = httpx.get(media_url(rel_path, base_url=server.base_url, settings=server.settings))

    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == content


def test_forged_expired_or_other_path_tokens_are_403(server: Server) -> None:
    valid = sign_media_path("photos/p1.jpg", settings=server.settings)
    forged = valid["token"][:-2] + ("AA" if not valid["token"].endswith("AA") else "BB")
    other_path = sign_media_path("docs/label.pdf", settings=server.settings)["token"]
    wrong_key = media_signature("photos/p1.jpg", int(valid["expires"]), b"not-our-key")
    expired = sign_media_path("photos/p1.jpg", ttl=-1, settings=server.settings)

    cases = {
        "forged": _signed(server, "photos/p1.jpg", token=forged),
        "other path": _signed(server, "photos/p1.jpg", token=other_path),
        "wrong key": _signed(server, "photos/p1.jpg", token=wrong_key),
        "extended": _signed(server, "photos/p1.jpg", expires=str(int(valid["expires"]) + 3600)),
        "expired": f"/media/photos/p1.jpg?{urlencode(expired)}",
        "unsigned": "/media/photos/p1.jpg",
    }
    details = {name: server.detail(target) for name, target in cases.items()}

    assert {name: status for name, (status, _) in details.items()} == dict.fromkeys(cases, 403)
    assert details["forged"][1].startswith("invalid media token")
    assert details["expired"][1].startswith("media link expired at")
    assert "expires and token" in details["unsigned"][1]


# Request targets as an attacker sends them. Each carries a token correctly signed for whatever
# uvicorn decodes it to, so only the path check stands between the request and the file.
TRAVERSALS = [
    "/media/../outside/secret.txt",
    "/media/photos/../../outside/secret.txt",
    "/media/%2e%2e/outside/secret.txt",
    "/media/%2E%2E%2Foutside%2Fsecret.txt",
    "/media/..%2foutside%2fsecret.txt",
    "/media/%252e%252e%252foutside%252fsecret.txt",  # double-encoded: arrives with a literal '%'
    "/media/..%5coutside%5csecret.txt",  # encoded backslash
    "/media/..\\outside\\secret.txt",
    "/media//etc/passwd",  # absolute
    "/media/%2fetc%2fpasswd",
    "/media/photos/p1.jpg%00.txt",  # NUL byte
    "/media/%c0%ae%c0%ae/outside/secret.txt",  # overlong UTF-8 dots
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_is_refused_even_with_a_valid_signature(server: Server, target: str) -> None:
    reaches_route = unquote(target).removeprefix("/media/")
    expires = int(time.time()) + 60
    token = media_signature(reaches_route, expires, server.settings.signing_key())

    status, detail = server.detail(f"{target}?{urlencode({'expires': expires, 'token': token})}")

    assert status == 400 and detail.startswith("invalid media path")


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_paths_are_never_signed(target: str) -> None:
    with pytest.raises(MediaPathError):
        sign_media_path(unquote(target).removeprefix("/media/"), settings=Settings(media_signing_key="k"))


@pytest.mark.parametrize("rel_path", ["escape.txt", "escape_dir/secret.txt"])
def test_symlinks_out_of_the_root_are_refused(server: Server, rel_path: str) -> None:
    status, headers, body = server.get(_signed(server, rel_path))

    assert status == 403
    assert "leads outside the media root" in json.loads(body)["detail"]
    assert SECRET not in body


def test_missing_file_is_404(server: Server) -> None:
    assert server.detail(_signed(server, "photos/nope.jpg")) == (404, "no media file at 'photos/nope.jpg'")


def test_a_label_under_the_data_root_opens_inline_as_a_pdf(server: Server):
    status, headers, body = server.get(_signed(server, "labels/2026/abc123.pdf"))
    assert (status, body) == (200, LABEL_PDF)
    assert headers["content-type"] == "application/pdf"
    assert headers["content-disposition"] == 'inline; filename="abc123.pdf"'
    assert headers["x-content-type-options"] == "nosniff"
    # Still signed, still inside its own directory: the rest of the data root is not reachable.
    assert server.get("/media/labels/2026/abc123.pdf")[0] == 403
    assert server.detail(_signed(server, "labels/2026/escape.pdf"))[0] == 403
    expires = int(time.time()) + 60
    key = server.settings.signing_key()
    traversal = "labels/../media_signing.key"
    token = media_signature(traversal, expires, key)
    assert server.detail(f"/media/{traversal}?expires={expires}&token={token}")[0] == 400
    assert server.detail(_signed(server, "labels/2026/none.pdf"))[0] == 404

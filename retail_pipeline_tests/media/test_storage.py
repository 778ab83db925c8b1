"""The media storage contract, held by both implementations (local disk and S3 on moto's server), the
/media route over S3, and the photo URLs channels are handed."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from retail_pipeline.api.app import create_app
from retail_pipeline.media.links import media_signature, media_url, photo_url_signer
from retail_pipeline.media.storage import (
    LocalStorage,
    MediaNotFound,
    MediaPathError,
    MediaStorage,
    S3Storage,
    get_storage,
)
from retail_pipeline.settings import Settings

IMAGE_KEY = "images/ab/cd/abcd.jpg"
LABEL_KEY = "labels/2026/beef.pdf"
DATA = b"\xff\xd8\xff\xe0 some jpeg bytes \xff\xd9"
HOSTILE = [
    "",
    "../secret",
    "images/../../etc/passwd",
    "/abs/path",
    ".hidden",
    "a//b",
    "a\\b",
    "a%2e%2e",
    "a\x00b",
]


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path: Path) -> MediaStorage:
    if request.param == "local":
        return LocalStorage(tmp_path / "media", tmp_path / "labels")
    return request.getfixturevalue("s3_bucket")


def test_put_is_atomic_once_and_reads_back(storage: MediaStorage):
    assert not storage.exists(IMAGE_KEY)
    assert storage.put(IMAGE_KEY, DATA, "image/jpeg") is True
    assert storage.put(IMAGE_KEY, DATA, "image/jpeg") is False  # same content-addressed key: a no-op
    assert storage.exists(IMAGE_KEY) and storage.read(IMAGE_KEY) == DATA
    assert b"".join(storage.chunks(IMAGE_KEY)) == DATA
    storage.put(LABEL_KEY, b"%PDF-1.4 label", "application/pdf")
    assert storage.read(LABEL_KEY) == b"%PDF-1.4 label"
    storage.delete(IMAGE_KEY)
    storage.delete(IMAGE_KEY)  # already gone: no error
    assert not storage.exists(IMAGE_KEY)
    with pytest.raises(MediaNotFound):
        storage.read(IMAGE_KEY)
    with pytest.raises(MediaNotFound):
        storage.chunks("images/none.jpg")


def test_a_damaged_copy_is_replaced(storage: MediaStorage):
    storage.put(IMAGE_KEY, DATA[:5])  # e.g. a torn upload by another tool
    assert storage.put(IMAGE_KEY, DATA) is True and storage.read(IMAGE_KEY) == DATA


@pytest.mark.parametrize("key", HOSTILE)
def test_hostile_keys_are_refused_before_any_io(storage: MediaStorage, key: str):
    for operation in (storage.exists, storage.read, storage.delete, lambda k: storage.put(k, DATA)):
        with pytest.raises(MediaPathError):
            operation(key)


def test_where_each_implementation_keeps_the_bytes(storage: MediaStorage, tmp_path: Path):
    storage.put(IMAGE_KEY, DATA)
    storage.put(LABEL_KEY, b"%PDF")
    if isinstance(storage, LocalStorage):  # today's layout: labels beside the media root
        assert (tmp_path / "media" / IMAGE_KEY).read_bytes() == DATA
        assert (tmp_path / "labels" / "2026" / "beef.pdf").read_bytes() == b"%PDF"
        assert not [p for p in tmp_path.rglob(".tmp-*")]
        assert storage.presigned_url(IMAGE_KEY, 60) is None
    else:
        listed = storage.client.list_objects_v2(Bucket=storage.bucket)["Contents"]
        assert sorted(o["Key"] for o in listed) == [f"shop/{IMAGE_KEY}", f"shop/{LABEL_KEY}"]
        head = storage.client.head_object(Bucket=storage.bucket, Key=f"shop/{IMAGE_KEY}")
        assert head["ContentLength"] == len(DATA)


def test_local_symlinks_out_of_the_root_are_refused(tmp_path: Path):
    storage = LocalStorage(tmp_path / "media", tmp_path / "labels")
    (tmp_path / "media").mkdir()
    (tmp_path / "secret.txt").write_bytes(b"secret")
    (tmp_path / "media" / "escape.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(MediaPathError, match="outside"):
        storage.read("escape.txt")


def test_presigned_urls_fetch_the_bytes_over_http(s3_bucket: S3Storage):
    """(moto checks neither a presigned URL's signature nor its expiry: S3's own job, not tested here.)"""
    s3_bucket.put(IMAGE_KEY, DATA, "image/jpeg")
    url = s3_bucket.presigned_url(IMAGE_KEY, 30 * 24 * 3600)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["604800"]  # capped at S3's 7 days
    assert query["X-Amz-Credential"][0].startswith("testing/") and query["X-Amz-Signature"]
    answer = httpx.get(url)
    assert answer.status_code == 200 and answer.content == DATA
    assert answer.headers["content-type"] == "image/jpeg"


def _s3_settings(tmp_path: Path, s3_bucket: S3Storage, **changes) -> Settings:
    endpoint = s3_bucket.client.meta.endpoint_url
    return Settings(
        retail_data_dir=tmp_path / "var",
        media_signing_key="test-signing-key",
        media_storage="s3",
        media_s3_bucket=s3_bucket.bucket,
        media_s3_prefix="shop/",
        media_s3_endpoint_url=endpoint,
        **changes,
    )


def test_media_route_streams_objects_from_s3_and_refuses_bad_links(tmp_path: Path, s3_bucket: S3Storage):
    settings = _s3_settings(tmp_path, s3_bucket)
    assert isinstance(get_storage(settings), S3Storage)
    s3_bucket.put(IMAGE_KEY, DATA, "image/jpeg")
    s3_bucket.put(LABEL_KEY, b"%PDF-1.4 label", "application/pdf")
    with TestClient(create_app(settings)) as client:
        image = client.get(media_url(IMAGE_KEY, settings=settings))
        assert image.status_code == 200 and image.content == DATA
        assert image.headers["content-type"] == "image/jpeg"
        assert image.headers["x-content-type-options"] == "nosniff"
        label = client.get(media_url(LABEL_KEY, settings=settings))
        assert label.status_code == 200 and label.content == b"%PDF-1.4 label"
        assert label.headers["content-disposition"] == 'inline; filename="beef.pdf"'

        missing = client.get(media_url("images/none.jpg", settings=settings))
        assert missing.status_code == 404
        forged = media_url(IMAGE_KEY, settings=settings).replace("token=", "token=x")
        assert client.get(forged).status_code == 403
        expired = media_url(IMAGE_KEY, -10, settings=settings)
        assert client.get(expired).status_code == 403 and "expired" in client.get(expired).json()["detail"]
        other = media_url(LABEL_KEY, settings=settings).replace(LABEL_KEY, IMAGE_KEY)  # token for another key
        assert client.get(other).status_code == 403
        assert client.get("/media/.hidden?expires=9999999999&token=x").status_code == 400


def test_channel_photo_urls(tmp_path: Path, s3_bucket: S3Storage):
    week = 7 * 24 * 3600
    local = Settings(retail_data_dir=tmp_path / "var", media_signing_key="k")
    assert photo_url_signer(local)(IMAGE_KEY).startswith("http://127.0.0.1:8000/media/images/")  # the demo
    real = Settings(retail_data_dir=tmp_path / "var", media_signing_key="k", use_simulators=False)
    assert photo_url_signer(real)(IMAGE_KEY) is None  # 127.0.0.1 is unreachable to a real channel

    public = Settings(
        retail_data_dir=tmp_path / "var", media_signing_key="k", media_public_base_url="https://shop.example/"
    )
    url = photo_url_signer(public)(IMAGE_KEY)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"https://shop.example/media/{IMAGE_KEY}"
    assert week - 60 < int(query["expires"]) - time.time() <= week  # days, not the console's hour
    assert query["token"] == media_signature(IMAGE_KEY, int(query["expires"]), b"k")

    s3_bucket.put(IMAGE_KEY, DATA, "image/jpeg")
    presigned = photo_url_signer(_s3_settings(tmp_path, s3_bucket, use_simulators=False))(IMAGE_KEY)
    assert "127.0.0.1" not in urlsplit(presigned).path and "X-Amz-Signature=" in presigned
    assert httpx.get(presigned).content == DATA
    # A public base wins over the store's own URLs: the bucket may sit on a private network.
    both = _s3_settings(tmp_path, s3_bucket, media_public_base_url="https://shop.example")
    assert photo_url_signer(both)(IMAGE_KEY).startswith("https://shop.example/media/")


def test_s3_storage_needs_a_bucket():
    with pytest.raises(ValueError, match="MEDIA_S3_BUCKET"):
        Settings(media_storage="s3")

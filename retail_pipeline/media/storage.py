"""Where media bytes live: product images, label PDFs and browser traces, under '/'-separated keys.

One interface, two implementations, chosen by MEDIA_STORAGE:

- ``LocalStorage`` (default): files on this machine's disk, in today's layout. ``labels/…`` keys live
  under the data dir (``<data dir>/labels/…``), every other key under the media root. Writes go to a
  temporary file beside the target, are fsynced, then renamed into place: a crash leaves the whole file
  or none. Temporary names start with a dot, which no key may.
- ``S3Storage``: an S3-compatible bucket (AWS S3, MinIO) via boto3, keys under an optional prefix. A
  PutObject is atomic (the object appears whole or not at all). Workers on other machines see the same
  objects, and a key can be handed out as a presigned GET URL.

Every key names its content (a sha256 or a unique trace name), so ``put`` writes once: a second put of a
key that is already held (same size) is a no-op and answers False. Keys are checked before any I/O:
'/'-separated names of ``[A-Za-z0-9._-]`` that do not start with '.', which rules out '..', absolute
paths, backslashes, NUL bytes and percent signs.
"""

from __future__ import annotations

import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from retail_pipeline.settings import Settings, get_settings

SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
LABELS = "labels/"  # label PDFs: under the data dir on local disk (shipments.label_path is the key)
S3_MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs last at most 7 days
CHUNK = 256 * 1024


class MediaPathError(ValueError):
    """A key that could name something outside the store."""


class MediaNotFound(LookupError):
    """No object under that key."""


def check_media_path(rel_path: str) -> str:
    if not rel_path or not all(SAFE_NAME.fullmatch(name) for name in rel_path.split("/")):
        raise MediaPathError(
            f"invalid media path {rel_path!r}: use '/'-separated names of letters, digits, '.', '_' "
            "and '-' that do not start with '.'"
        )
    return rel_path


class MediaStorage(ABC):
    """Bytes under checked keys. Implementations raise MediaPathError for a hostile key and
    MediaNotFound for a missing one."""

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        """Keep ``data`` under ``key`` atomically; False (and nothing written) when already held."""

    @abstractmethod
    def read(self, key: str) -> bytes: ...

    @abstractmethod
    def chunks(self, key: str) -> Iterator[bytes]:
        """The object's bytes in pieces (for streaming a large file); MediaNotFound before the first."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; no error when it is already gone."""

    def local_path(self, key: str) -> Path | None:
        """The file on this machine's disk, where there is one (the sidecar serves it as a file)."""
        return None

    def presigned_url(self, key: str, ttl_seconds: int) -> str | None:
        """A URL anyone can GET the object from for ``ttl_seconds``; None when the store has none of
        its own (local disk: the sidecar's signed /media links stand in)."""
        return None


class LocalStorage(MediaStorage):
    def __init__(self, media_root: Path, labels_root: Path):
        self.media_root, self.labels_root = media_root.resolve(), labels_root.resolve()

    def path(self, key: str) -> Path:
        """The file for ``key``, which must stay inside its root once symlinks are followed."""
        check_media_path(key)
        if key.startswith(LABELS):
            root, path = self.labels_root, self.labels_root / key.removeprefix(LABELS)
        else:
            root, path = self.media_root, self.media_root / key
        if not path.resolve().is_relative_to(root):
            raise MediaPathError(f"media path {key!r} leads outside the media root")
        return path

    def local_path(self, key: str) -> Path:
        return self.path(key)

    def put(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        target = self.path(key)
        try:
            if target.stat().st_size == len(data):
                return False  # same key = same content; the size guards against a damaged copy
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as temp:
                temp.write(data)
                temp.flush()
                os.fsync(temp.fileno())
            os.chmod(temp_name, 0o644)  # mkstemp makes 0600; the sidecar may run as another user
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)  # the rename itself survives a power cut
        return True

    def read(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise MediaNotFound(key) from None

    def chunks(self, key: str) -> Iterator[bytes]:
        try:
            handle = self.path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise MediaNotFound(key) from None
        return _file_chunks(handle)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


def _file_chunks(handle) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3Storage(MediaStorage):
    def __init__(self, client, bucket: str, prefix: str = ""):
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def object_key(self, key: str) -> str:
        return self.prefix + check_media_path(key)

    def _head(self, key: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def put(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        head = self._head(key)
        if head is not None and head.get("ContentLength") == len(data):
            return False
        extra = {"ContentType": content_type} if content_type else {}
        self.client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data, **extra)
        return True

    def _get(self, key: str):
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))["Body"]
        except self.client.exceptions.NoSuchKey:
            raise MediaNotFound(key) from None

    def read(self, key: str) -> bytes:
        with self._get(key) as body:
            return body.read()

    def chunks(self, key: str) -> Iterator[bytes]:
        return _body_chunks(self._get(key))

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def presigned_url(self, key: str, ttl_seconds: int) -> str:
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self.object_key(key)},
            ExpiresIn=min(ttl_seconds, S3_MAX_PRESIGN_SECONDS),
        )


def _body_chunks(body) -> Iterator[bytes]:
    with body:
        yield from body.iter_chunks(CHUNK)


@lru_cache(maxsize=8)
def s3_client(endpoint_url: str | None):
    """One boto3 client per endpoint (clients are thread-safe and slow to build). Credentials and region
    come from boto3's own chain: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, profiles."""
    import boto3
    from botocore.config import Config

    # MinIO and most S3-compatibles want path-style addressing; "standard" retries back off on throttling
    # and 5xx as well as connection errors.
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        retries={"mode": "standard", "max_attempts": 5},
    )
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)


def get_storage(settings: Settings | None = None) -> MediaStorage:
    """The store MEDIA_STORAGE selects."""
    settings = settings or get_settings()
    if settings.media_storage == "s3":
        return S3Storage(
            s3_client(settings.media_s3_endpoint_url), settings.media_s3_bucket, settings.media_s3_prefix
        )
    return LocalStorage(settings.media_dir, settings.data_dir / LABELS.rstrip("/"))

"""The media store: one file per content, atomic writes, and only real images kept."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os

import pytest
from PIL import Image

from retail_pipeline.media.links import check_media_path
from retail_pipeline.media.storage import LocalStorage
from retail_pipeline.media.store import BadImage, ImageLimits, MediaStore, inspect_image


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), colour: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "ext", "content_type"),
    [
        ("JPEG", "jpg", "image/jpeg"),
        ("PNG", "png", "image/png"),
        ("WEBP", "webp", "image/webp"),
        ("GIF", "gif", "image/gif"),
    ],
)
def test_each_format_is_stored_once_by_sha256(tmp_path, fmt, ext, content_type):
    store = MediaStore(LocalStorage(tmp_path, tmp_path / "labels"))
    data = image_bytes(fmt)
    first = store.put_image(data)
    sha = hashlib.sha256(data).hexdigest()
    assert first.rel_path == f"images/{sha[:2]}/{sha[2:4]}/{sha}.{ext}"
    assert check_media_path(first.rel_path)  # the sidecar will serve it
    assert (first.sha256, first.content_type, first.bytes, first.width, first.height, first.created) == (
        sha,
        content_type,
        len(data),
        64,
        48,
        True,
    )
    again = store.put_image(data)
    assert again == dataclasses.replace(first, created=False)
    assert store.storage.path(first.rel_path).read_bytes() == data
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [f"{sha}.{ext}"]


def test_different_images_are_different_files(tmp_path):
    store = MediaStore(LocalStorage(tmp_path, tmp_path / "labels"))
    a, b = store.put_image(image_bytes(colour="red")), store.put_image(image_bytes(colour="blue"))
    assert a.sha256 != b.sha256 and a.created and b.created


def _truncated_jpeg() -> bytes:
    data = image_bytes(size=(400, 300))
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty body"),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "not a JPEG, PNG, WebP or GIF"),
        (image_bytes("BMP"), "not a JPEG, PNG, WebP or GIF"),  # a real image, not a format we list
        (image_bytes("PNG")[:-20], "corrupt PNG"),  # verify() catches the broken checksum
        (_truncated_jpeg(), "corrupt JPEG"),  # verify() passes; decoding finds the missing data
        (image_bytes(size=(8, 8)), "smaller than 16 pixels"),
    ],
)
def test_bad_images_are_refused_with_a_reason_and_not_written(tmp_path, data, reason):
    store = MediaStore(LocalStorage(tmp_path, tmp_path / "labels"))
    with pytest.raises(BadImage, match=reason):
        store.put_image(data)
    assert not any(tmp_path.iterdir())


def test_size_limits(tmp_path):
    data = image_bytes(size=(200, 100))
    with pytest.raises(BadImage, match="over the size limit"):
        inspect_image(data, ImageLimits(max_pixels=10_000))
    with pytest.raises(BadImage, match="over the size limit"):
        inspect_image(data, ImageLimits(max_side=150))
    with pytest.raises(BadImage, match="byte limit"):
        inspect_image(data, ImageLimits(max_bytes=len(data) - 1))


def test_a_crash_before_the_rename_leaves_no_file_and_no_temporary(tmp_path, monkeypatch):
    store = MediaStore(LocalStorage(tmp_path, tmp_path / "labels"))
    data = image_bytes()

    def power_cut(src, dst):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError, match="power cut"):
        store.put_image(data)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    monkeypatch.undo()
    assert store.put_image(data).created  # the next run writes it


def test_a_damaged_copy_under_the_final_name_is_replaced(tmp_path):
    store = MediaStore(LocalStorage(tmp_path, tmp_path / "labels"))
    data = image_bytes()
    stored = store.put_image(data)
    store.storage.path(stored.rel_path).write_bytes(data[:10])
    assert store.put_image(data).created
    assert store.storage.path(stored.rel_path).read_bytes() == data
    assert oct(store.storage.path(stored.rel_path).stat().st_mode & 0o777) == "0o644"

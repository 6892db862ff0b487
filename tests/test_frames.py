"""A task's reference still: upload (admins), see (members), delete; hostile images refused with
`invalid_image` and nothing stored; metadata gone from the stored copy; the ROI's frame is real."""

from __future__ import annotations

import io
import json
import struct
import zlib

import pytest
from PIL import Image

from tasks.models import AuditEvent, TaskFrame
from tasks.services.task_fetch import task_fetch
from vassim.simulator import SEEDED_IDS, TASK_A_ID

# Transactional: files are deleted after the commit, as in production.
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FACE = "c-face-edge"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def frame_url(project, task_id=TASK_A_ID, service=FACE) -> str:
    return f"/api/v1/projects/{project.public_id}/services/{service}/tasks/{task_id}/frame/"


def task_url(project, task_id=TASK_A_ID, service=FACE) -> str:
    return f"/api/v1/projects/{project.public_id}/services/{service}/tasks/{task_id}/"


def png(width=64, height=36, colour=(200, 30, 30), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG", **save)
    return out.getvalue()


def jpeg_with_gps(width=80, height=60) -> bytes:
    image = Image.new("RGB", (width, height), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (39.0, 54.0, 27.0)
    gps[3] = "E"
    gps[4] = (116.0, 23.0, 10.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, icc_profile=b"fake-icc-profile-data" * 4)
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def put_image(client, url, data: bytes, content_type="image/png"):
    return client.put(url, data=data, content_type=content_type)


@pytest.fixture
def as_admin(client, alice):
    client.force_login(alice)
    return client


def stored_files(media) -> list:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def test_an_admin_uploads_a_png_201_then_replaces_it_200(as_admin, sim_project, media):
    first = put_image(as_admin, frame_url(sim_project), png(1280, 720))
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["width"] == 1280 and body["height"] == 720 and body["uploaded_by"] == "alice"
    assert body["uploaded_at"]
    old_files = stored_files(media)
    assert len(old_files) == 1
    second = put_image(as_admin, frame_url(sim_project), png(640, 360))
    assert second.status_code == 200 and second.json()["width"] == 640
    files = stored_files(media)
    assert len(files) == 1 and files != old_files  # the replaced file is gone
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="task.frame")] == [
        "task.frame_uploaded",
        "task.frame_uploaded",
    ]


def test_members_get_the_image_privately_and_never_from_a_public_url(
    client, alice, bob, charlie, sim_project, media, settings
):
    client.force_login(alice)
    put_image(client, frame_url(sim_project), png())
    client.force_login(bob)
    response = client.get(frame_url(sim_project))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"].startswith("private")
    data = b"".join(response.streaming_content)
    assert Image.open(io.BytesIO(data)).size == (64, 36)
    client.force_login(charlie)
    assert client.get(frame_url(sim_project)).status_code == 404
    # Stored outside the static files, and no URL serves the media directory.
    stored = stored_files(media)[0]
    assert settings.STATIC_ROOT not in stored.parents
    assert all(d not in stored.parents for d in settings.STATICFILES_DIRS)
    client.force_login(alice)
    relative = stored.relative_to(media).as_posix()
    for prefix in ("/media/", "/static/", "/"):
        assert client.get(prefix + relative).status_code == 404


def test_viewers_cannot_upload_or_delete_and_outsiders_see_nothing(
    client, alice, bob, charlie, sim_project, media
):
    client.force_login(bob)
    assert put_image(client, frame_url(sim_project), png()).status_code == 403
    assert client.delete(frame_url(sim_project)).status_code == 403
    client.force_login(charlie)
    assert put_image(client, frame_url(sim_project), png()).status_code == 404
    assert client.delete(frame_url(sim_project)).status_code == 404
    assert stored_files(media) == []


def test_exif_gps_and_the_icc_profile_are_gone_from_the_stored_copy(as_admin, sim_project, media):
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the input has GPS
    response = put_image(as_admin, frame_url(sim_project), original, "image/jpeg")
    assert response.status_code == 201
    stored = stored_files(media)[0].read_bytes()
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    assert len(image.getexif()) == 0 and not image.getexif().get_ifd(0x8825)
    assert "icc_profile" not in image.info and "exif" not in image.info
    assert b"CameraMaker" not in stored and b"fake-icc-profile" not in stored


def test_png_text_chunks_are_gone_too(as_admin, sim_project, media):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "GPS 39.9N 116.4E secret-location")
    put_image(as_admin, frame_url(sim_project), png(pnginfo=info))
    stored = stored_files(media)[0].read_bytes()
    assert b"secret-location" not in stored and b"tEXt" not in stored


HOSTILE = {
    "a PNG declaring 30000 x 30000": (png_declaring(30_000, 30_000), "image/png"),
    "a PNG declaring 8193 wide": (png_declaring(8193, 10), "image/png"),
    "a truncated JPEG": (jpeg_with_gps(400, 300)[:600], "image/jpeg"),
    "an SVG": (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>alert(1)</script></svg>",
        "image/svg+xml",
    ),
    "an HTML polyglot named .png": (
        b"<html><body><script>alert(document.cookie)</script></body></html>\x89PNG\r\n\x1a\n",
        "image/png",
    ),
    "a GIF": (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"),
    "an empty body": (b"", "image/png"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_image_is_invalid_image_and_nothing_is_stored(as_admin, sim_project, media, name):
    data, content_type = HOSTILE[name]
    response = put_image(as_admin, frame_url(sim_project), data, content_type)
    assert response.status_code == 400, (name, response.content)
    assert response.json()["error"]["code"] == "invalid_image"
    assert stored_files(media) == [] and not TaskFrame.objects.exists()
    assert not AuditEvent.objects.filter(action="task.frame_uploaded").exists()


def test_a_50_mib_body_is_refused_before_it_is_read(as_admin, sim_project, media):
    response = put_image(as_admin, frame_url(sim_project), b"\x89PNG" + b"\0" * (50 * 1024 * 1024))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_image"
    assert stored_files(media) == []


def test_a_multipart_upload_in_the_image_field_works(as_admin, sim_project, media):
    upload = io.BytesIO(png(320, 180))
    upload.name = "still.png"
    response = as_admin.put(
        frame_url(sim_project),
        data=encode_multipart({"image": upload}),
        content_type="multipart/form-data; boundary=BoUnDaRy",
    )
    assert response.status_code == 201, response.content
    assert response.json()["width"] == 320


def encode_multipart(files: dict) -> bytes:
    from django.test.client import encode_multipart as encode

    return encode("BoUnDaRy", files)


def test_with_a_frame_the_roi_frame_is_real_and_its_problems_are_recomputed(
    as_admin, sim_project, media
):
    task_fetch(project=sim_project, service=FACE, task_id=TASK_A_ID)  # cached, assumed frame
    put_image(as_admin, frame_url(sim_project), png(1280, 720))
    roi = as_admin.get(task_url(sim_project) + "roi/").json()  # from the cache, no refetch
    assert roi["frame"] == {"width": 1280, "height": 720, "assumed": False, "source": "frame"}
    assert [p["code"] for p in roi["problems"]] == ["out_of_frame"]  # 1800 > 1280
    fresh = as_admin.get(task_url(sim_project) + "?refresh=true").json()
    assert fresh["roi"]["frame"]["assumed"] is False
    page = as_admin.get(f"/projects/{sim_project.public_id}/services/{FACE}/tasks/{TASK_A_ID}/")
    html = page.content.decode()
    assert "1280×720" in html and 'data-frame-url="' in html
    assert as_admin.delete(frame_url(sim_project)).status_code == 204
    roi = as_admin.get(task_url(sim_project) + "roi/").json()
    assert roi["frame"]["assumed"] is True and roi["problems"] == []
    assert stored_files(media) == []
    assert AuditEvent.objects.filter(action="task.frame_deleted").count() == 1
    assert as_admin.get(frame_url(sim_project)).status_code == 404
    assert as_admin.delete(frame_url(sim_project)).status_code == 404


def test_the_roi_update_checks_points_against_the_real_frame(as_admin, sim_project, media):
    put_image(as_admin, frame_url(sim_project), png(640, 360))
    loaded = task_fetch(project=sim_project, service=FACE, task_id=TASK_A_ID, refresh=True)
    response = as_admin.put(
        task_url(sim_project) + "roi/",
        data=json.dumps(
            {
                "shapes": [{"kind": "polygon", "points": [[10, 10], [700, 10], [10, 300]]}],
                "expected_snapshot_id": loaded.meta["snapshot_id"],
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 400
    problem = response.json()["error"]["problems"][0]
    assert problem["code"] == "out_of_frame" and "640×360" in problem["message"]


def test_the_frame_goes_with_the_project(as_admin, sim_project, media):
    put_image(as_admin, frame_url(sim_project), png())
    assert len(stored_files(media)) == 1
    response = as_admin.delete(f"/api/v1/projects/{sim_project.public_id}/")
    assert response.status_code == 204
    assert not TaskFrame.objects.exists() and stored_files(media) == []


def test_a_frame_for_an_unknown_task_is_the_upstreams_404(as_admin, sim_project, media):
    response = put_image(as_admin, frame_url(sim_project, "0" * 32), png())
    assert response.status_code == 404 and response.json()["error"]["code"] == "task_not_found"
    assert stored_files(media) == []


def test_a_snapshot_page_draws_over_the_frame_too(as_admin, sim_project, media):
    snap = task_fetch(project=sim_project, service=FACE, task_id=SEEDED_IDS["seed"]).meta
    put_image(as_admin, frame_url(sim_project, SEEDED_IDS["seed"]), png(1920, 1080))
    page = as_admin.get(
        f"/projects/{sim_project.public_id}/services/{FACE}/tasks/{SEEDED_IDS['seed']}/"
        f"?snapshot={snap['snapshot_id']}"
    )
    assert page.status_code == 200 and 'data-frame-url="' in page.content.decode()


def test_the_editor_page_uploads_and_deletes_the_still(client, alice, bob, sim_project, media):
    edit = f"/projects/{sim_project.public_id}/services/{FACE}/tasks/{TASK_A_ID}/roi/edit/"
    form = f"/projects/{sim_project.public_id}/services/{FACE}/tasks/{TASK_A_ID}/roi/frame/"
    client.force_login(bob)
    assert client.post(form, {"image": _upload(png())}).status_code == 403
    client.force_login(alice)
    response = client.post(form, {"image": _upload(jpeg_with_gps(), "still.jpg")}, follow=True)
    assert response.redirect_chain[-1][0] == edit
    assert "Reference still stored (80×60" in response.content.decode()
    assert TaskFrame.objects.get().content_type == "image/jpeg"
    assert 'id="frame-delete"' in response.content.decode()
    bad = client.post(form, {"image": _upload(HOSTILE["an SVG"][0], "x.png")}, follow=True)
    assert "not a JPEG or PNG" in bad.content.decode()
    assert TaskFrame.objects.get().content_type == "image/jpeg"  # the old one is kept
    gone = client.post(form, {"delete": "1"}, follow=True)
    assert "was deleted" in gone.content.decode() and not TaskFrame.objects.exists()
    assert stored_files(media) == []


def _upload(data: bytes, name: str = "still.png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)

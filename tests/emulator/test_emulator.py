"""The emulator over real loopback sockets: shapes, task lifecycle, validation, money, links."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat

from rhdesk.emulator import Emulator, EmulatorConfig


def _image(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def test_upload_reply_has_documented_shape(api) -> None:
    data = api.photo()
    reply = api.upload_bytes(data).json()
    assert reply["code"] == 0 and reply["message"] == "success"
    d = reply["data"]
    assert d["type"] == "image"
    assert d["size"] == str(len(data))
    assert d["fileName"].startswith("openapi/") and d["fileName"].endswith(".png")
    url = urlsplit(d["download_url"])
    assert url.path == f"/emu/files/{d['fileName'].removeprefix('openapi/')}"
    assert set(parse_qs(url.query)) == {"expires", "sig"}
    got = httpx.get(d["download_url"])
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-length"] == str(len(data))


def test_jpeg_upload_is_named_jpg(api) -> None:
    reply = api.upload_bytes(api.photo("rocket.jpg"), "rocket.jpg").json()
    assert reply["data"]["fileName"].endswith(".jpg")
    assert httpx.get(reply["data"]["download_url"]).headers["content-type"] == "image/jpeg"


def test_task_walks_queued_running_success_and_result_is_an_edit(api, emu: Emulator) -> None:
    url = api.upload("astronaut.png")
    submitted = api.submit(api.edit_body([url]))
    assert submitted["status"] == "QUEUED"
    assert submitted["errorCode"] == "" and submitted["errorMessage"] == ""
    assert submitted["results"] is None
    assert len(submitted["taskId"]) == 19 and submitted["taskId"].isdigit()
    assert json.loads(submitted["promptTips"])["result"] is True

    reply, seen = api.wait(submitted["taskId"])
    assert seen == ["QUEUED", "RUNNING", "SUCCESS"]
    assert reply["taskId"] == submitted["taskId"]
    assert reply["usage"] == {
        "thirdPartyConsumeMoney": None,
        "consumeMoney": "0.14",
        "consumeCoins": "20",
        "taskCostTime": "1",
    }
    [result] = reply["results"]
    assert result["outputType"] == "png"
    got = httpx.get(result["url"])
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-length"] == str(len(got.content))
    out = _image(got.content)
    assert out.size == (1280, 720)
    source = ImageOps.fit(_image(api.photo()).convert("RGB"), out.size)
    diff = ImageChops.difference(out.convert("RGB"), source)
    assert diff.getbbox() is not None
    assert sum(ImageStat.Stat(diff).mean) / 3 > 20  # an obvious edit, not noise
    assert emu.submit_count == 1
    assert emu.balance == 100_000 - 20


def test_task_finishes_and_is_charged_when_nobody_polls(api, emu: Emulator) -> None:
    task_id = api.submit(api.edit_body([api.upload()]))["taskId"]
    api.wait_for(lambda: emu.tasks()[0]["status"] == "SUCCESS", what="SUCCESS without polling")
    assert emu.balance == 100_000 - 20
    snap = emu.tasks()[0]
    assert snap["taskId"] == task_id and snap["endpoint"] == api.I2I
    assert snap["body"]["prompt"].startswith("Turn the scene")
    assert snap["created_at"] < snap["finished_at"]


def test_same_request_gives_same_bytes_and_other_prompt_differs(api) -> None:
    url = api.upload("coffee.png")
    ids = [
        api.submit(api.edit_body([url]))["taskId"],
        api.submit(api.edit_body([url]))["taskId"],
        api.submit(api.edit_body([url], prompt="Make the cup look like gold"))["taskId"],
    ]
    blobs = [httpx.get(api.wait(t)[0]["results"][0]["url"]).content for t in ids]
    assert blobs[0] == blobs[1]
    assert blobs[0] != blobs[2]


def test_sequential_set_has_max_images_distinct_results(api, emu: Emulator) -> None:
    urls = [api.upload("chelsea.png"), api.upload("logo.png")]
    body = api.edit_body(urls, sequentialImageGeneration="auto", maxImages=3, width=960, height=960)
    reply, _ = api.wait(api.submit(body)["taskId"])
    blobs = [httpx.get(r["url"]).content for r in reply["results"]]
    assert len(blobs) == 3 and len(set(blobs)) == 3
    assert all(_image(b).size == (960, 960) for b in blobs)
    assert reply["usage"]["consumeCoins"] == "60"
    assert reply["usage"]["consumeMoney"] == "0.42"
    assert emu.balance == 100_000 - 60


def test_text_to_image_with_resolution_and_jpg_output(launch) -> None:
    api = launch(output_format="jpg")
    body = {"prompt": "A lighthouse on a cliff at dusk", "resolution": "1k", "width": 4000}
    reply, _ = api.wait(api.submit(body, api.T2I)["taskId"])
    [result] = reply["results"]
    assert result["outputType"] == "jpg"
    got = httpx.get(result["url"])
    assert got.headers["content-type"] == "image/jpeg"
    out = _image(got.content)
    assert out.format == "JPEG" and out.size == (1024, 1024)


def test_text_to_image_refuses_input_images(api) -> None:
    body = {"prompt": "A lighthouse on a cliff", "width": 960, "height": 960}
    reply = api.submit({**body, "imageUrls": [api.upload()]}, api.T2I)
    assert reply["errorCode"] == "301" and "imageUrls" in reply["errorMessage"]


def test_unsupported_resolution_is_refused(api) -> None:
    body = api.edit_body([api.upload()], resolution="3k")
    reply = api.submit(body)
    assert reply["errorCode"] == "301" and "resolution" in reply["errorMessage"]


# ---- bad keys ------------------------------------------------------------------------------


def test_bad_key_on_every_endpoint(emu: Emulator, api) -> None:
    good = api
    url = good.upload()
    task_id = good.submit(api.edit_body([url]))["taskId"]
    bad = api.as_key("nope")
    http = bad.http

    up = bad.upload_bytes(api.photo("logo.png")).json()
    assert up == {"code": 401, "message": "ApiKey verification failed: API Key不存在", "data": None}

    sub = bad.submit(api.edit_body([url]))
    assert (sub["taskId"], sub["status"], sub["errorCode"]) == ("", "FAILED", "1601")
    assert sub["errorMessage"]

    q = bad.query(task_id)
    assert (q["taskId"], q["errorCode"]) == ("", "1601")

    cancel = http.post("/task/openapi/cancel", json={"apiKey": "nope", "taskId": task_id}).json()
    assert cancel["code"] == 802 and cancel["data"] is None

    account = http.post("/uc/openapi/accountStatus", json={"apikey": "nope"}).json()
    assert account == {"code": 802, "msg": "APIKEY_UNAUTHORIZED", "data": None}
    # The legacy body key is lower-case `apikey`: the camel-case spelling is not a key at all.
    camel = http.post("/uc/openapi/accountStatus", json={"apiKey": api.KEY}).json()
    assert camel["code"] == 802

    queue = http.get("/openapi/v2/queue/status", headers=bad.auth).json()
    assert queue["code"] == 401
    no_header = http.get("/openapi/v2/queue/status").json()
    assert no_header["code"] == 401

    price = http.post(f"/openapi/v2/price-preview/{api.I2I}", headers=bad.auth, json={}).json()
    assert price["code"] == 401
    assert emu.submit_count == 1
    bad.close()


# ---- validation ----------------------------------------------------------------------------

V45 = "seedream-v4.5/image-to-image"
FAKE = "https://example.invalid/in.png"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"prompt": "blue"}, "prompt"),
        ({"width": 500}, "width"),
        ({"width": 2049}, "width"),
        ({"width": 1024, "height": 1024}, "width/height"),
        ({"imageUrls": [FAKE] * 11}, "imageUrls"),
        ({"maxImages": 16}, "maxImages"),
        (
            {"imageUrls": [FAKE] * 10, "sequentialImageGeneration": "auto", "maxImages": 6},
            "maxImages",
        ),
        ({"sequentialImageGeneration": "sometimes"}, "sequentialImageGeneration"),
        ({"width": "wide"}, "width"),
        ({"prompt": None}, "prompt"),
        ({"imageUrls": []}, "imageUrls"),
    ],
)
def test_invalid_body_is_refused_with_301_naming_the_field(
    api, emu: Emulator, changes: dict, field: str
) -> None:
    body = {**api.edit_body([FAKE], width=2048, height=2048), **changes}
    reply = api.submit(body, V45)
    assert (reply["taskId"], reply["status"], reply["errorCode"]) == ("", "FAILED", "301")
    assert reply["errorMessage"].startswith(f"{field}:"), reply["errorMessage"]
    assert emu.submit_count == 0
    # price-preview validates the same body the same way, in its envelope
    price = api.http.post(f"/openapi/v2/price-preview/{V45}", headers=api.auth, json=body).json()
    assert price["code"] == 301 and price["data"] is None and field in price["msg"]


def test_body_that_is_not_json_is_refused(api) -> None:
    reply = api.http.post(
        f"/openapi/v2/{api.I2I}", headers=api.auth, content=b"prompt=hello"
    ).json()
    assert reply["errorCode"] == "301" and reply["errorMessage"].startswith("body:")


def test_unknown_endpoint_is_http_404(api) -> None:
    assert (
        api.http.post(
            "/openapi/v2/seedream-v9/image-to-image", headers=api.auth, json={}
        ).status_code
        == 404
    )
    assert (
        api.http.post("/openapi/v2/price-preview/nope/x", headers=api.auth, json={}).status_code
        == 404
    )


def test_image_urls_must_be_live_links_of_this_emulator(api, emu: Emulator) -> None:
    url = api.upload()
    tampered = url.replace("sig=", "sig=0")
    unknown = url.replace(urlsplit(url).path, "/emu/files/" + "0" * 64 + ".png")
    for bad in (FAKE, tampered, unknown, "not a url"):
        reply = api.submit(api.edit_body([url, bad]))
        assert reply["errorCode"] == "301", bad
        assert reply["errorMessage"] == "imageUrls[1]: image could not be fetched"
    assert emu.submit_count == 0


def test_input_format_must_be_png_or_jpeg(api) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buf, "WEBP")
    up = api.upload_bytes(buf.getvalue(), "x.webp").json()
    assert up["code"] == 0 and up["data"]["fileName"].endswith(".webp")
    reply = api.submit(api.edit_body([up["data"]["download_url"]]))
    assert reply["errorCode"] == "301" and "WEBP" in reply["errorMessage"]


def test_upload_refuses_non_images_and_oversized_files(launch) -> None:
    assert EmulatorConfig().max_upload_bytes == 30 * 1024 * 1024
    api = launch(max_upload_bytes=200_000)
    text = api.upload_bytes(b"hello, this is not a picture", "a.txt").json()
    assert text["code"] == 301 and text["data"] is None and "not an image" in text["message"]
    big = api.upload_bytes(api.photo()).json()  # 791 kB
    assert big["code"] == 809 and big["data"] is None
    missing = api.http.post(
        "/openapi/v2/media/upload/binary", headers=api.auth, files={"other": ("a", b"x")}
    ).json()
    assert missing["code"] == 301


# ---- capacity and money --------------------------------------------------------------------


def test_concurrency_limit_answers_1520_and_frees_up(emu: Emulator, api) -> None:
    url = api.upload()
    ids = [api.submit(api.edit_body([url], prompt=f"Edit number {n}"))["taskId"] for n in range(3)]
    assert all(ids)
    refused = api.submit(api.edit_body([url]))
    assert (refused["taskId"], refused["status"], refused["errorCode"]) == ("", "FAILED", "1520")
    assert emu.max_concurrent_seen == 3
    assert emu.submit_count == 3
    queue = api.http.get("/openapi/v2/queue/status", headers=api.auth).json()
    assert queue["code"] == 0
    data = queue["data"]
    assert data["apiKeyType"] == "NORMAL" and data["concurrentLimit"] == 3
    assert int(data["runningCount"]) + int(data["queuedCount"]) == 3
    assert isinstance(data["runningCount"], str) and isinstance(data["queuedCount"], str)
    # the limit is per key: another key may still submit
    other = api.as_key(api.OTHER_KEY)
    assert other.submit(api.edit_body([url]))["status"] == "QUEUED"
    assert emu.max_concurrent_seen == 4
    for task_id in ids:
        api.wait(task_id)
    assert api.submit(api.edit_body([url]))["status"] == "QUEUED"
    other.close()


def test_low_balance_answers_416_and_success_charges(emu: Emulator, api) -> None:
    url = api.upload()
    emu.set_balance(30)
    first = api.submit(api.edit_body([url]))
    assert first["status"] == "QUEUED"
    # the running task's 20 coins are spoken for, so 10 remain for new work
    second = api.submit(api.edit_body([url]))
    assert (second["status"], second["errorCode"]) == ("FAILED", "416")
    sequential = api.submit(api.edit_body([url], sequentialImageGeneration="auto", maxImages=2))
    assert sequential["errorCode"] == "416"
    api.wait(first["taskId"])
    assert emu.balance == 10
    account = api.http.post("/uc/openapi/accountStatus", json={"apikey": api.KEY}).json()
    assert account == {
        "code": 0,
        "msg": "success",
        "data": {
            "remainCoins": "10",
            "currentTaskCounts": "0",
            "remainMoney": None,
            "currency": None,
            "apiType": "NORMAL",
        },
    }
    assert emu.submit_count == 1


def test_price_preview(api) -> None:
    body = api.edit_body(
        [FAKE], width=2048, height=2048, sequentialImageGeneration="auto", maxImages=3
    )
    reply = api.http.post(f"/openapi/v2/price-preview/{V45}", headers=api.auth, json=body).json()
    assert reply == {
        "code": 0,
        "msg": "success",
        "data": {"estimatedPrice": "0.60", "currency": "CNY", "priceText": "¥0.60"},
    }


# ---- query and cancel ----------------------------------------------------------------------


def test_unknown_and_foreign_tasks_are_1007(emu: Emulator, api) -> None:
    unknown = api.query("1234567890123456789")
    assert (unknown["taskId"], unknown["status"], unknown["errorCode"]) == ("", "", "1007")
    assert unknown["errorMessage"] == "task not found"
    task_id = api.submit(api.edit_body([api.upload()]))["taskId"]
    other = api.as_key(api.OTHER_KEY)
    assert other.query(task_id)["errorCode"] == "1007"
    assert api.query(task_id)["taskId"] == task_id
    other.close()


def _cancel(api, task_id: str, key: str | None = None) -> dict:
    body = {"apiKey": key or api.KEY, "taskId": task_id}
    return api.http.post("/task/openapi/cancel", json=body).json()


def test_cancel_refused_for_model_tasks_by_default(api) -> None:
    task_id = api.submit(api.edit_body([api.upload()]))["taskId"]
    assert _cancel(api, task_id) == {"code": 807, "msg": "任务不存在 task not found", "data": None}
    assert api.wait(task_id)[0]["status"] == "SUCCESS"


def test_cancel_when_enabled(launch) -> None:
    api = launch(cancel_model_tasks=True, queue_seconds=0.5)
    emu = api.emu
    url = api.upload()
    task_id = api.submit(api.edit_body([url]))["taskId"]
    assert _cancel(api, task_id, api.OTHER_KEY)["code"] == 807  # not that key's task
    assert _cancel(api, task_id) == {"code": 0, "msg": "success", "data": None}
    reply = api.query(task_id)
    assert reply["status"] == "CANCEL" and reply["results"] is None
    assert _cancel(api, task_id)["code"] == 805
    done_id = api.submit(api.edit_body([url]))["taskId"]
    api.wait(done_id)
    again = _cancel(api, done_id)
    assert again["code"] == 805 and "finished" in again["msg"]
    assert api.query(task_id)["status"] == "CANCEL"  # still, long after its run time
    assert _cancel(api, "42")["code"] == 807
    assert emu.balance == 100_000 - 20  # the cancelled task was never charged


# ---- signed links --------------------------------------------------------------------------


def test_result_links_expire_with_oss_style_403(emu: Emulator, api) -> None:
    reply, _ = api.wait(api.submit(api.edit_body([api.upload()]))["taskId"])
    url = reply["results"][0]["url"]
    assert httpx.get(url).status_code == 200
    emu.expire_results(reply["taskId"])
    denied = httpx.get(url)
    assert denied.status_code == 403
    assert "<Code>AccessDenied</Code>" in denied.text
    assert "<Message>Request has expired.</Message>" in denied.text
    # the query now shows the same links, expired
    fresh = api.query(reply["taskId"])["results"][0]["url"]
    assert httpx.get(fresh).status_code == 403
    # an expired result cannot be fed back as an input either
    assert api.submit(api.edit_body([url]))["errorCode"] == "301"


def test_bad_signature_and_unknown_files(api) -> None:
    url = api.upload()
    parts = urlsplit(url)
    assert httpx.get(url.replace("sig=", "sig=f")).status_code == 403
    assert httpx.get(f"{api.emu.base_url}{parts.path}").status_code == 403  # unsigned
    unknown_path = "/emu/files/" + "0" * 64 + ".png"
    signer = api.emu._service  # sign a link to a file that does not exist
    gone = signer.signed(api.emu.base_url, unknown_path, int(parse_qs(parts.query)["expires"][0]))
    missing = httpx.get(gone)
    assert missing.status_code == 404 and "<Code>NoSuchKey</Code>" in missing.text


def test_upload_links_expire_after_upload_ttl(launch) -> None:
    api = launch(upload_ttl_seconds=0)
    url = api.upload()
    denied = httpx.get(url)
    assert denied.status_code == 403 and "Request has expired." in denied.text
    reply = api.submit(api.edit_body([url]))
    assert reply["errorMessage"] == "imageUrls[0]: image could not be fetched"


def test_results_of_one_task_expire_alone(emu: Emulator, api) -> None:
    url = api.upload()
    a_id = api.submit(api.edit_body([url]))["taskId"]
    b_id = api.submit(api.edit_body([url], prompt="Another edit, please"))["taskId"]
    a, b = api.wait(a_id)[0], api.wait(b_id)[0]
    emu.expire_results(a["taskId"])
    assert httpx.get(a["results"][0]["url"]).status_code == 403
    assert httpx.get(b["results"][0]["url"]).status_code == 200
    emu.expire_results()
    assert httpx.get(b["results"][0]["url"]).status_code == 403

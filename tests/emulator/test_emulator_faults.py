"""Every fault kind, seen from a plain httpx client over loopback."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from rhdesk.emulator import Emulator, Fault

DISCONNECTED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def test_latency_delays_the_answer(api, emu: Emulator) -> None:
    emu.add_fault(Fault("account", "latency", times=1, seconds=0.4))
    started = time.monotonic()
    reply = api.http.post("/uc/openapi/accountStatus", json={"apikey": api.KEY}).json()
    assert time.monotonic() - started >= 0.4
    assert reply["code"] == 0
    started = time.monotonic()
    api.http.post("/uc/openapi/accountStatus", json={"apikey": api.KEY})
    assert time.monotonic() - started < 0.4  # used up after one hit
    assert emu.faults() == []


def test_latency_past_the_client_timeout_is_a_read_timeout(api, emu: Emulator) -> None:
    emu.add_fault(Fault("queue", "latency", times=1, seconds=1.0))
    with pytest.raises(httpx.ReadTimeout):
        api.http.get("/openapi/v2/queue/status", headers=api.auth, timeout=0.2)


def test_http_status_hits_the_given_number_of_times(api, emu: Emulator) -> None:
    emu.add_fault(Fault("query", "http_status", status=500, times=2))
    task_id = api.submit(api.edit_body([api.upload()]))["taskId"]
    body = {"taskId": task_id}
    statuses = [
        api.http.post("/openapi/v2/query", headers=api.auth, json=body).status_code
        for _ in range(3)
    ]
    assert statuses == [500, 500, 200]


def test_http_status_with_custom_body(api, emu: Emulator) -> None:
    emu.add_fault(Fault("upload", "http_status", times=1, status=502, body="bad gateway"))
    reply = api.upload_bytes(api.photo())
    assert (reply.status_code, reply.text) == (502, "bad gateway")


def test_rate_limit_sends_429_with_retry_after(api, emu: Emulator) -> None:
    emu.add_fault(Fault("submit", "rate_limit", times=1, retry_after=2.5))
    reply = api.http.post(f"/openapi/v2/{api.I2I}", headers=api.auth, json={})
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "2.5"
    emu.add_fault(Fault("submit", "rate_limit", times=1, retry_after=3))
    reply = api.http.post(f"/openapi/v2/{api.I2I}", headers=api.auth, json={})
    assert reply.headers["Retry-After"] == "3"
    assert emu.submit_count == 0


def test_drop_closes_the_connection_before_any_work(api, emu: Emulator) -> None:
    url = api.upload()
    emu.add_fault(Fault("submit", "drop", times=1))
    with pytest.raises(DISCONNECTED):
        api.submit(api.edit_body([url]))
    assert emu.submit_count == 0 and emu.tasks() == []
    # the next request on a fresh connection is answered normally
    assert api.submit(api.edit_body([url]))["status"] == "QUEUED"


def test_drop_on_query_surfaces_as_remote_protocol_error(api, emu: Emulator) -> None:
    emu.add_fault(Fault("query", "drop", times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        api.query("1")


def test_drop_after_creates_the_paid_task_but_loses_the_reply(api, emu: Emulator) -> None:
    url = api.upload()
    emu.add_fault(Fault("submit", "drop_after", times=1))
    with pytest.raises(DISCONNECTED):
        api.submit(api.edit_body([url]))
    assert emu.submit_count == 1
    [task] = emu.tasks()
    api.wait_for(lambda: emu.tasks()[0]["status"] == "SUCCESS", what="the orphaned task")
    assert emu.balance == 100_000 - 20
    # the task is real: its id (e.g. from the call record) can be queried
    assert api.query(task["taskId"])["status"] == "SUCCESS"


def test_drop_after_on_upload_stores_the_file(api, emu: Emulator) -> None:
    emu.add_fault(Fault("upload", "drop_after", times=1))
    with pytest.raises(DISCONNECTED):
        api.upload_bytes(api.photo("logo.png"))
    assert api.upload("logo.png")  # and a retry simply works


@pytest.mark.parametrize("body", [None, "<html>502 Bad Gateway"])
def test_malformed_body_is_not_json(api, emu: Emulator, body: str | None) -> None:
    emu.add_fault(Fault("queue", "malformed", times=1, **({"body": body} if body else {})))
    reply = api.http.get("/openapi/v2/queue/status", headers=api.auth)
    assert reply.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        reply.json()


def test_api_error_uses_each_endpoints_shape(api, emu: Emulator) -> None:
    url = api.upload()
    emu.add_fault(Fault("submit", "api_error", times=1, code="1003", message="slow down"))
    sub = api.submit(api.edit_body([url]))
    assert (sub["taskId"], sub["status"], sub["errorCode"], sub["errorMessage"]) == (
        "",
        "FAILED",
        "1003",
        "slow down",
    )
    emu.add_fault(Fault("query", "api_error", times=1, code="1011", message="model busy"))
    q = api.query("1")
    assert (q["taskId"], q["errorCode"], q["errorMessage"]) == ("", "1011", "model busy")
    emu.add_fault(
        Fault("upload", "api_error", times=1, code="401", message="ApiKey verification failed")
    )
    assert api.upload_bytes(api.photo()).json() == {
        "code": 401,
        "message": "ApiKey verification failed",
        "data": None,
    }
    emu.add_fault(Fault("account", "api_error", times=1, code="1520", message="busy"))
    account = api.http.post("/uc/openapi/accountStatus", json={"apikey": api.KEY}).json()
    assert account == {"code": 1520, "msg": "busy", "data": None}
    emu.add_fault(Fault("download", "api_error", times=1, code="AccessDenied", message="nope"))
    denied = httpx.get(url)
    assert denied.status_code == 403 and "<Code>AccessDenied</Code>" in denied.text
    assert emu.submit_count == 0


def test_fail_task_ends_the_next_tasks_failed_without_charge(api, emu: Emulator) -> None:
    url = api.upload()
    emu.add_fault(
        Fault("submit", "fail_task", times=1, error_code="1505", message="content refused")
    )
    failed_id = api.submit(api.edit_body([url]))["taskId"]
    ok_id = api.submit(api.edit_body([url]))["taskId"]
    failed, seen = api.wait(failed_id)
    assert seen == ["QUEUED", "RUNNING", "FAILED"]
    assert (failed["errorCode"], failed["errorMessage"]) == ("1505", "content refused")
    assert failed["failedReason"] == "content refused"
    assert failed["results"] is None
    assert failed["usage"]["consumeCoins"] == "0"
    assert api.wait(ok_id)[0]["status"] == "SUCCESS"
    assert emu.balance == 100_000 - 20


def test_fail_task_defaults_to_1505(api, emu: Emulator) -> None:
    emu.add_fault(Fault("*", "fail_task"))
    reply, _ = api.wait(api.submit(api.edit_body([api.upload()]))["taskId"])
    assert reply["status"] == "FAILED" and reply["errorCode"] == "1505"
    assert len(emu.faults()) == 1  # no `times`: stays until cleared
    emu.clear_faults()
    assert api.wait(api.submit(api.edit_body([api.upload()]))["taskId"])[0]["status"] == "SUCCESS"


def test_expired_links_fault_makes_fresh_results_already_expired(api, emu: Emulator) -> None:
    url = api.upload()
    emu.add_fault(Fault("download", "expired_links", times=1))
    expired, _ = api.wait(api.submit(api.edit_body([url]))["taskId"])
    # the fault was used up by the first task to complete
    fine, _ = api.wait(api.submit(api.edit_body([url], prompt="Another edit, please"))["taskId"])
    denied = httpx.get(expired["results"][0]["url"])
    assert denied.status_code == 403 and "Request has expired." in denied.text
    assert httpx.get(fine["results"][0]["url"]).status_code == 200


def test_download_faults_hit_result_downloads(api, emu: Emulator) -> None:
    reply, _ = api.wait(api.submit(api.edit_body([api.upload()]))["taskId"])
    emu.add_fault(Fault("download", "http_status", times=1, status=503))
    emu.add_fault(Fault("download", "drop", times=1))
    result_url = reply["results"][0]["url"]
    assert httpx.get(result_url).status_code == 503
    with pytest.raises(DISCONNECTED):
        httpx.get(result_url)
    assert httpx.get(result_url).status_code == 200


def test_first_matching_fault_wins_and_wildcard_matches_all(api, emu: Emulator) -> None:
    emu.add_fault(Fault("queue", "http_status", times=1, status=503))
    emu.add_fault(Fault("*", "http_status", times=2, status=500))
    queue = "/openapi/v2/queue/status"
    assert api.http.get(queue, headers=api.auth).status_code == 503
    assert api.http.get(queue, headers=api.auth).status_code == 500
    account = api.http.post("/uc/openapi/accountStatus", json={"apikey": api.KEY})
    assert account.status_code == 500
    assert api.http.get(queue, headers=api.auth).status_code == 200
    assert emu.faults() == []


def test_faults_are_validated() -> None:
    with pytest.raises(ValueError):
        Fault("nowhere", "drop")
    with pytest.raises(ValueError):
        Fault("query", "explode")
    with pytest.raises(ValueError):
        Fault("query", "drop", times=0)
    fault = Fault("query", "latency", times=2, seconds=0.1)
    assert (fault.endpoint, fault.kind, fault.times, fault.params) == (
        "query",
        "latency",
        2,
        {"seconds": 0.1},
    )

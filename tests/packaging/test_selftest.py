"""`rhdesk --self-test`: the same code CI runs on the built bundle, run here from source."""

from __future__ import annotations

import subprocess

from packaging_helpers import rhdesk_command, subprocess_env


def test_self_test_passes_end_to_end() -> None:
    out = subprocess.run(rhdesk_command("--self-test"), capture_output=True, text=True,
                         env=subprocess_env(), timeout=120, check=False)  # fmt: skip
    lines = [line for line in out.stdout.splitlines() if line.startswith("self-test:")]
    assert out.returncode == 0, out.stdout + out.stderr
    assert any("[ok] result arrived" in line for line in lines), out.stdout
    assert any("[ok] result file" in line and "opens with Pillow" in line for line in lines)
    assert any("[ok] second launch hands over its file" in line for line in lines)
    assert lines[-1].startswith("self-test: passed")
    assert "[FAIL]" not in out.stdout


def test_self_test_fails_when_the_result_does_not_arrive_in_time() -> None:
    out = subprocess.run(rhdesk_command("--self-test"), capture_output=True, text=True,
                         env=subprocess_env(RHDESK_SELF_TEST_TIMEOUT="1.5"), timeout=120,
                         check=False)  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    assert "[FAIL]" in out.stdout and "timed out after 1.5 s" in out.stdout
    assert out.stdout.strip().splitlines()[-1].startswith("self-test: FAILED")


def test_self_test_is_in_the_help() -> None:
    out = subprocess.run(rhdesk_command("--help"), capture_output=True, text=True,
                         env=subprocess_env(), check=True)  # fmt: skip
    assert "--self-test" in out.stdout
    assert "--startup-probe" not in out.stdout  # for bench/ only

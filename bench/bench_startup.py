"""Start-up of the rhdesk bundle to a usable window, against a bare PySide6 window bundled the
same way (the floor).

"Usable" means: the window has painted and the event loop is idle again (`--startup-probe`
prints `rhdesk-startup-probe <unix time>` from a zero-timer queued after the first paint, then
quits). The figure is that time minus the time just before the process was spawned.

    python bench/bench_startup.py                 # builds what is missing, 10 warm runs each
    python bench/bench_startup.py --runs 5 --drop-caches   # cold: empties the page cache first
    python bench/bench_startup.py --rhdesk dist/rhdesk/rhdesk --floor bench/out/dist/floor/floor

Scenarios: `floor`; `rhdesk` with no key (the first-run window: keyring lookup, "no key"
banner); `rhdesk --demo` (also starts the built-in emulator). Each run gets a fresh data dir.
`--drop-caches` writes /proc/sys/vm/drop_caches (Linux, root): a true cold start from disk.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
PROBE = "rhdesk-startup-probe"


def build_floor() -> Path:
    exe = OUT / "dist" / "floor" / "floor"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                        "--distpath", str(OUT / "dist"), "--workpath", str(OUT / "work"),
                        str(ROOT / "bench" / "floor.spec")], check=True, cwd=ROOT)  # fmt: skip
    return exe


def build_rhdesk() -> Path:
    exe = ROOT / "dist" / "rhdesk" / "rhdesk"
    if not exe.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "packaging" / "build.py"), "--bundle-only"], check=True
        )
    return exe


def drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def one_run(cmd: list[str], env: dict[str, str], timeout: float = 60.0) -> float:
    with tempfile.TemporaryDirectory(prefix="rhdesk-bench-") as tmp:
        full = [*cmd, "--data-dir", str(Path(tmp) / "data")] if "rhdesk" in cmd[0] else cmd
        t0 = time.time()
        proc = subprocess.Popen(
            full, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
        )
        stamp = None
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        for line in proc.stdout:
            if line.startswith(PROBE):
                stamp = float(line.split()[1])
                break
            if time.monotonic() > deadline:
                break
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if stamp is None:
            raise SystemExit(f"bench: no probe line from {' '.join(full)} (exit {proc.returncode})")
        return stamp - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="rhdesk bundle start-up vs a bare PySide6 bundle")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--rhdesk", type=Path, help="the bundled rhdesk executable")
    p.add_argument("--floor", type=Path, help="the bundled floor executable")
    p.add_argument("--drop-caches", action="store_true", help="cold runs (Linux, needs root)")
    p.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    args = p.parse_args(argv)

    rhdesk = args.rhdesk or build_rhdesk()
    floor = args.floor or build_floor()
    env = dict(os.environ, QT_QPA_PLATFORM=args.platform)
    env.pop("RHDESK_API_KEY", None)
    env["RHDESK_DATA_DIR"] = tempfile.gettempdir()  # overridden per run by --data-dir
    scenarios = {
        "floor": [str(floor)],
        "rhdesk (no key)": [str(rhdesk), "--startup-probe"],
        "rhdesk --demo": [str(rhdesk), "--demo", "--startup-probe"],
    }
    for cmd in scenarios.values():  # one untimed run each: first-run work, page cache
        one_run(cmd, env)
    times: dict[str, list[float]] = {name: [] for name in scenarios}
    for _ in range(args.runs):
        for name, cmd in scenarios.items():  # interleaved, so drift hits all alike
            if args.drop_caches:
                drop_caches()
            times[name].append(one_run(cmd, env))

    kind = "cold (page cache dropped before each run)" if args.drop_caches else "warm"
    print(f"start-up to an idle, painted window; {args.runs} {kind} runs each, "
          f"platform {args.platform}")  # fmt: skip
    floor_median = statistics.median(times["floor"])
    for name, values in times.items():
        med = statistics.median(values)
        print(f"  {name:<16} median {med * 1000:7.0f} ms   min {min(values) * 1000:7.0f} ms   "
              f"x{med / floor_median:.2f} of the floor")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

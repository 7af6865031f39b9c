from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

TESTDATA = Path(__file__).resolve().parents[1] / "tests" / "data"
SHARED_TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"


class MemoryKeyring:
    """An in-memory keyring backend, so no test touches the developer's real keyring."""

    def __init__(self) -> None:
        import keyring.backend

        class _Backend(keyring.backend.KeyringBackend):
            priority = 1  # type: ignore[assignment]

            def __init__(self) -> None:
                super().__init__()
                self.store: dict[tuple[str, str], str] = {}

            def get_password(self, service, username):
                return self.store.get((service, username))

            def set_password(self, service, username, password):
                self.store[(service, username)] = password

            def delete_password(self, service, username):
                self.store.pop((service, username), None)

        self.backend = _Backend()


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    """Every test: no real key, no real keyring, no real data folder."""
    import keyring

    monkeypatch.delenv("RHDESK_API_KEY", raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("RHDESK_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))
    previous = keyring.get_keyring()
    mem = MemoryKeyring()
    keyring.set_keyring(mem.backend)
    yield mem.backend
    keyring.set_keyring(previous)


@pytest.fixture
def photos() -> dict[str, Path]:
    """The real photographs from shared/testdata (small)."""
    names = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "logo.png"]
    found = {n.split(".")[0]: SHARED_TESTDATA / n for n in names}
    missing = [p for p in found.values() if not p.exists()]
    if missing:
        pytest.skip(f"shared test photos missing: {missing}")
    return found


@pytest.fixture
def emulator_factory():
    """Start RunningHub emulators on loopback (real sockets); all are stopped after the test."""
    from rhdesk.emulator import Emulator, EmulatorConfig

    started = []

    def start(**overrides):
        cfg = {"api_keys": frozenset({"test-key"}), "queue_seconds": 0.1, "run_seconds": 0.2}
        cfg.update(overrides)
        emu = Emulator(EmulatorConfig(**cfg))
        emu.start()
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(emulator_factory):
    return emulator_factory()

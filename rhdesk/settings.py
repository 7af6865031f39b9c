"""User settings in a small JSON file in the data folder (never the API key: that is in the keyring)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from rhdesk.core.naming import DEFAULT_TEMPLATE


@dataclass
class Settings:
    site: str = "cn"  # "cn" (runninghub.cn) or "ai" (runninghub.ai)
    base_url: str = ""  # overrides the site when set (e.g. a local emulator)
    library: str = ""  # results folder; empty = default
    name_template: str = DEFAULT_TEMPLATE
    concurrency: int = 0  # 0 = the account's limit as the server reports it
    poll_seconds: float = 5.0
    strip_gps: bool = True
    language: str = "system"
    theme: str = "system"
    model_family: str = "seedream-v4.5"
    recent_prompts: list[str] | None = None

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)

    def remember_prompt(self, prompt: str, keep: int = 20) -> None:
        prompt = prompt.strip()
        if not prompt:
            return
        recent = [p for p in (self.recent_prompts or []) if p != prompt]
        self.recent_prompts = [prompt, *recent][:keep]

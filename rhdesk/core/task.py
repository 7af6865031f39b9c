"""What a user asks for: one task's parameters, independent of how it is run or stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rhdesk.core.catalogue import ModelSpec, get_model
from rhdesk.core.validation import Problem, check_all


@dataclass
class TaskSpec:
    endpoint: str  # "seedream-v4.5/image-to-image"
    prompt: str
    width: int
    height: int
    inputs: list[Path] = field(default_factory=list)  # local image files, slot order (first = main)
    max_images: int = 1
    sequential: bool = False

    @property
    def model(self) -> ModelSpec:
        return get_model(self.endpoint)

    def problems(self) -> list[Problem]:
        return check_all(
            self.model,
            self.prompt,
            self.width,
            self.height,
            len(self.inputs),
            self.max_images,
            self.sequential,
        )

    def request_body(self, image_urls: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": self.prompt,
            "width": self.width,
            "height": self.height,
            "sequentialImageGeneration": "auto" if self.sequential else "disabled",
            "maxImages": self.max_images if self.sequential else 1,
        }
        if self.model.takes_images:
            body["imageUrls"] = list(image_urls or [])
        return body

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "prompt": self.prompt,
            "width": self.width,
            "height": self.height,
            "inputs": [str(p) for p in self.inputs],
            "max_images": self.max_images,
            "sequential": self.sequential,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TaskSpec:
        return cls(
            endpoint=d["endpoint"],
            prompt=d["prompt"],
            width=int(d["width"]),
            height=int(d["height"]),
            inputs=[Path(p) for p in d.get("inputs", [])],
            max_images=int(d.get("max_images", 1)),
            sequential=bool(d.get("sequential", False)),
        )

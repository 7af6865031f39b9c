"""Result file names from a template, made safe so a name can never leave the library folder."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

DEFAULT_TEMPLATE = "{source}_{model}_{date}_{n}"
KNOWN_EXTENSIONS = {"png": "png", "jpg": "jpg", "jpeg": "jpg", "webp": "webp"}
_WINDOWS_RESERVED = {
    "CON", "PRN", "AUX", "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}  # fmt: skip
_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]+')
MAX_NAME = 120


class TemplateError(ValueError):
    pass


def safe_component(text: str, fallback: str = "image") -> str:
    """One path component: no separators, no control characters, no reserved or dot-only names."""
    text = unicodedata.normalize("NFC", str(text))
    text = _UNSAFE.sub("_", text).strip().strip(".").strip()
    text = re.sub(r"\s+", " ", text)[:MAX_NAME].rstrip(" .")
    if not text or set(text) <= {"_", "."}:
        text = fallback
    # Windows ignores trailing spaces before the extension: "LPT1 .png" is the printer too.
    if text.split(".")[0].strip().upper() in _WINDOWS_RESERVED:
        text = f"_{text}"
    return text


def safe_extension(output_type: str | None, default: str = "png") -> str:
    return KNOWN_EXTENSIONS.get(str(output_type or "").strip().lower().lstrip("."), default)


@dataclass(frozen=True)
class NameFields:
    source: str  # stem of the main input, or "text" for text-to-image
    model: str  # "seedream-v4.5"
    when: datetime
    n: int  # 1-based index of the result within its task
    task: str = ""  # local task id
    prompt: str = ""


def render(template: str, fields: NameFields) -> str:
    values = {
        "source": fields.source,
        "stem": fields.source,
        "model": fields.model,
        "date": fields.when.strftime("%Y-%m-%d"),
        "time": fields.when.strftime("%H%M%S"),
        "n": str(fields.n),
        "task": fields.task,
        "prompt": " ".join(fields.prompt.split()[:6]),
    }
    try:
        name = template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise TemplateError(
            f"The file-name template {template!r} is not valid ({exc}); "
            f"use fields like {{source}}, {{model}}, {{date}}, {{time}}, {{n}}, {{task}}, {{prompt}}."
        ) from None
    return name


def reserve_result_path(library: Path, template: str, fields: NameFields, ext: str) -> Path:
    """Like `result_path`, but claims the name at once by creating its empty `.part` file, so two
    downloads finishing together never pick the same name. The caller writes the `.part` file
    and renames it onto the returned path."""
    for _ in range(1000):
        path = result_path(library, template, fields, ext)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(path.with_name(path.name + ".part"), "xb"):
                return path
        except FileExistsError:
            continue
    raise TemplateError("Could not find a free file name in the results folder.")


def result_path(library: Path, template: str, fields: NameFields, ext: str) -> Path:
    """A path inside `library` that does not exist yet. Subfolders in the template are allowed but
    each part is sanitised; nothing can climb out of the library."""
    rendered = render(template, fields)
    parts = [
        safe_component(p) for p in re.split(r"[/\\]+", rendered) if p.strip() not in ("", ".", "..")
    ]
    if not parts:
        parts = [safe_component(fields.source)]
    library = library.resolve()
    folder = library.joinpath(*parts[:-1])
    stem = parts[-1]
    candidate = folder / f"{stem}.{ext}"
    counter = 2
    while candidate.exists() or candidate.with_name(candidate.name + ".part").exists():
        candidate = folder / f"{stem} ({counter}).{ext}"
        counter += 1
    resolved = candidate.resolve()
    if library not in resolved.parents:
        raise TemplateError("The file name would leave the results folder.")
    return resolved

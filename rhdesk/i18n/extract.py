"""Find every translatable string in rhdesk's source and compare it with a catalogue.

    python -m rhdesk.i18n.extract                 # list strings zh_CN.json lacks (exit 1 if any)
    python -m rhdesk.i18n.extract --add-missing   # also add them to zh_CN.json with "" to fill in
    python -m rhdesk.i18n.extract --unused        # also list catalogue entries no code uses

Translatable means a string literal passed to `self.tr(...)` / `tr(...)`, to
`QCoreApplication.translate(context, ...)` (or a name bound to it), to `QT_TR_NOOP`,
`QT_TRANSLATE_NOOP`, `_(...)` or `N_(...)`, plus the literal message of a RunningHub error raised
in `rhdesk/api` (the error's `__str__` translates it when shown). An f-string passed to any of
these is reported as a problem: it is formatted before the lookup, so it can never match.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = Path(__file__).resolve().with_name("zh_CN.json")

_FIRST_ARG = {"tr", "_", "N_", "QT_TR_NOOP"}
_SECOND_ARG = {"translate", "QT_TRANSLATE_NOOP"}


@dataclass(frozen=True)
class Found:
    text: str
    where: str  # "rhdesk/ui/main_window.py:123"


@dataclass(frozen=True)
class Problem:
    where: str
    what: str


def _error_class_names() -> set[str]:
    # The RunningHub error classes, by name: their literal messages are shown to people.
    from rhdesk.api import errors

    return {
        name
        for name, obj in vars(errors).items()
        if isinstance(obj, type) and issubclass(obj, errors.RunningHubError)
    }


def _callee(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return ""


def _translate_aliases(tree: ast.AST) -> set[str]:
    """Names bound to QCoreApplication.translate (`tr = QCoreApplication.translate`)."""
    aliases = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "translate"
        ):
            aliases.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return aliases


def _literal(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def scan_source(
    source: str, where: str, *, error_classes: set[str] | None = None
) -> tuple[list[Found], list[Problem]]:
    tree = ast.parse(source)
    aliases = _translate_aliases(tree)
    found: list[Found] = []
    problems: list[Problem] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _callee(node)
        here = f"{where}:{node.lineno}"
        bare = isinstance(node.func, ast.Name)
        # An alias is module-wide here, not scoped: a one-argument `tr(text)` elsewhere in the
        # module is a tr function taking the text first.
        if name in _SECOND_ARG or (bare and name in aliases and len(node.args) >= 2):
            index = 1
        elif name in _FIRST_ARG:
            index = 0
        elif error_classes and name in error_classes:
            # Error messages: literals are collected; anything else is the caller's business
            # (a `_()` inside is collected on its own, an f-string stays English).
            if node.args and (text := _literal(node.args[0])) is not None:
                found.append(Found(text, here))
            continue
        else:
            continue
        if len(node.args) <= index:
            continue
        arg = node.args[index]
        text = _literal(arg)
        if text is not None:
            if text.strip():
                found.append(Found(text, here))
        elif isinstance(arg, ast.JoinedStr):
            problems.append(Problem(here, f"f-string passed to {name}(): it cannot be translated"))
        elif isinstance(arg, ast.BinOp) and any(
            isinstance(n, ast.JoinedStr) for n in ast.walk(arg)
        ):
            problems.append(Problem(here, f"formatted text passed to {name}()"))
    return found, problems


def python_files(root: Path = PACKAGE_ROOT) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path


def scan(root: Path = PACKAGE_ROOT) -> tuple[list[Found], list[Problem]]:
    error_classes = _error_class_names()
    found: list[Found] = []
    problems: list[Problem] = []
    for path in python_files(root):
        rel = path.relative_to(root.parent).as_posix()
        in_api = path.is_relative_to(root / "api")
        f, p = scan_source(
            path.read_text(encoding="utf-8"),
            rel,
            error_classes=error_classes if in_api else None,
        )
        found += f
        problems += p
    return found, problems


def load(path: Path = CATALOGUE) -> dict[str, str]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def missing(found: Iterable[Found], catalogue: dict[str, str]) -> dict[str, list[str]]:
    """Source text -> where it is used, for every text without a (non-empty) translation."""
    out: dict[str, list[str]] = {}
    for f in found:
        if not catalogue.get(f.text):
            out.setdefault(f.text, []).append(f.where)
    return out


def save(catalogue: dict[str, str], path: Path = CATALOGUE) -> None:
    # Sorted, one entry a line: diffs stay small and merge conflicts rare.
    text = json.dumps(dict(sorted(catalogue.items())), ensure_ascii=False, indent=1)
    path.write_text(text + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rhdesk.i18n.extract", description=__doc__)
    p.add_argument("--catalogue", type=Path, default=CATALOGUE)
    p.add_argument("--add-missing", action="store_true", help='add missing texts with ""')
    p.add_argument("--unused", action="store_true", help="list entries no code uses")
    args = p.parse_args(argv)

    found, problems = scan()
    catalogue = load(args.catalogue)
    gaps = missing(found, catalogue)
    for problem in problems:
        print(f"PROBLEM {problem.where}: {problem.what}")
    for text, wheres in sorted(gaps.items()):
        print(f"MISSING {json.dumps(text, ensure_ascii=False)}  ({', '.join(wheres[:3])})")
    if args.unused:
        used = {f.text for f in found}
        for text in sorted(set(catalogue) - used):
            print(f"UNUSED {json.dumps(text, ensure_ascii=False)}")
    if args.add_missing and gaps:
        for text in gaps:
            catalogue.setdefault(text, "")
        save(catalogue, args.catalogue)
        print(f"added {len(gaps)} empty entries to {args.catalogue}")
    print(
        f"{len({f.text for f in found})} translatable texts, {len(gaps)} missing, "
        f"{len(problems)} problems",
        file=sys.stderr,
    )
    return 1 if gaps or problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

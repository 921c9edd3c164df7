"""wom_testkit stays out of what ships: no runtime package imports it or depends on it."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ["contracts", "chassis", *sorted(f"services/{p.name}" for p in (ROOT / "services").iterdir()
                                           if (p / "pyproject.toml").exists()), "deploy/womctl"]  # fmt: skip


def imported_modules(source: Path) -> set[str]:
    """Every module a Python file imports, wherever in the file (top-level names and dotted)."""
    modules = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), str(source))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_the_scan_sees_an_import_anywhere_in_a_file(tmp_path: Path) -> None:
    source = tmp_path / "late.py"
    source.write_text("def f():\n    from wom_testkit.mail import MailInbox\n    import wom_testkit\n")
    assert imported_modules(source) == {"wom_testkit.mail", "wom_testkit"}


@pytest.mark.parametrize("package", RUNTIME)
def test_a_runtime_package_neither_imports_nor_depends_on_the_testkit(package: str) -> None:
    sources = sorted((ROOT / package / "src").rglob("*.py"))
    assert sources, f"{package} has no sources"
    importing = [
        str(source.relative_to(ROOT))
        for source in sources
        if any(m == "wom_testkit" or m.startswith("wom_testkit.") for m in imported_modules(source))
    ]
    assert not importing, f"runtime code imports wom_testkit: {importing}"
    project = tomllib.loads((ROOT / package / "pyproject.toml").read_text())["project"]
    assert not [d for d in project.get("dependencies", []) if d.startswith("wom-testkit")]


def test_the_testkit_is_a_dev_dependency_of_the_workspace_only() -> None:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "wom-testkit" in root["dependency-groups"]["dev"]
    assert "wom-testkit" not in root["project"]["dependencies"]
    assert len(RUNTIME) == 7  # contracts, chassis, four services, womctl

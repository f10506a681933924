"""The test suite's own layout: what tests share lives in tests/support/ (or tests/factories.py),
so no module imports a test module or a conftest, conftest files hold fixtures and hooks only,
and a helper kept beside a test serves that one test.

Read from the source (no import runs), like the package-cycle contract reads the app's packages.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
SUITES = ("unit", "integration", "e2e")


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imported_modules(tree: ast.Module) -> set[str]:
    """Every module an import statement anywhere in the file names (`from a import b` names
    both `a` and `a.b`, since b may be a module)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def is_test_or_conftest(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return module.startswith("tests.") and (last.startswith("test_") or last == "conftest")


def suite_modules() -> dict[str, ast.Module]:
    return {module_name(path): ast.parse(path.read_text(), str(path)) for path in sorted(TESTS.rglob("*.py"))}


def test_no_module_imports_a_test_module_or_a_conftest() -> None:
    offending = sorted(
        f"{module} imports {target}"
        for module, tree in suite_modules().items()
        for target in imported_modules(tree)
        if is_test_or_conftest(target)
    )
    assert offending == [], "move what they share into tests/support/:\n" + "\n".join(offending)


def is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr == "fixture"


def test_conftest_files_hold_fixtures_and_hooks_only() -> None:
    offending = []
    for path in sorted(TESTS.rglob("conftest.py")):
        for index, node in enumerate(ast.parse(path.read_text()).body):
            docstring = index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            imports = isinstance(node, (ast.Import, ast.ImportFrom))
            fixture_or_hook = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                node.name.startswith("pytest_") or any(is_fixture(d) for d in node.decorator_list)
            )
            if not (docstring or imports or fixture_or_hook):
                offending.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.dump(node)[:60]}")
    assert offending == [], "conftest files define fixtures and hooks only:\n" + "\n".join(offending)


def test_a_helper_beside_the_tests_serves_one_test_module() -> None:
    modules = suite_modules()
    helpers = {
        name
        for name in modules
        if name.split(".")[1] in SUITES
        and not is_test_or_conftest(name)
        and not name.endswith("__init__")
        and len(name.split(".")) == 3
    }
    users: dict[str, set[str]] = defaultdict(set)
    for module, tree in modules.items():
        if module.rsplit(".", 1)[-1].startswith("test_"):
            for target in imported_modules(tree) & helpers:
                users[target].add(module)
    shared = sorted(f"{helper} is used by {sorted(tests)}" for helper, tests in users.items() if len(tests) > 1)
    assert shared == [], "a helper two test modules use belongs in tests/support/:\n" + "\n".join(shared)
    strangers = sorted(
        f"{module} imports {target}"
        for module, tree in modules.items()
        if not module.startswith(("tests.unit.", "tests.integration.", "tests.e2e."))
        for target in imported_modules(tree) & helpers
    )
    assert strangers == [], "\n".join(strangers)


def test_every_support_module_says_what_it_offers() -> None:
    silent = sorted(
        str(path.relative_to(ROOT))
        for path in (TESTS / "support").glob("*.py")
        if not ast.get_docstring(ast.parse(path.read_text()))
    )
    assert silent == []


def test_the_checks_see_a_test_module_import_and_a_conftest_helper() -> None:
    # Without this, a walker that found nothing would pass every check above.
    tree = ast.parse("from tests.integration.test_outages import call\nfrom tests.e2e import conftest\n")
    assert {name for name in imported_modules(tree) if is_test_or_conftest(name)} == {
        "tests.integration.test_outages",
        "tests.e2e.conftest",
    }
    assert not is_fixture(ast.parse("@contextmanager\ndef f(): pass").body[0].decorator_list[0])  # type: ignore[attr-defined]
    assert is_fixture(ast.parse("@pytest.fixture(autouse=True)\ndef f(): pass").body[0].decorator_list[0])  # type: ignore[attr-defined]

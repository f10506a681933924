"""The package graph has no cycle (the contract `make lint` runs, tests/import_contracts.py),
and that contract does catch one: a cycle through any packages, siblings of one layer included."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import grimp

from tests.import_contracts import AcyclicPackagesContract, package_cycles, package_edges

ROOT = Path(__file__).resolve().parents[2]


def contract(packages: list[str]) -> AcyclicPackagesContract:
    return AcyclicPackagesContract(name="no cycle", session_options={}, contract_options={"packages": packages})


def test_the_projects_packages_form_no_cycle() -> None:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [declared] = [each for each in settings["contracts"] if each["type"] == "acyclic_packages"]
    assert sorted(declared["packages"]) == sorted(settings["root_packages"])  # every package is counted
    graph = grimp.build_graph(*settings["root_packages"], include_external_packages=True)
    assert package_cycles(package_edges(graph, settings["root_packages"])) == []
    assert contract(declared["packages"]).check(graph, verbose=False).kept


def test_a_cycle_through_three_packages_breaks_the_contract_and_names_its_imports() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "a.x", "b", "b.y", "c", "c.z", "d"):
        graph.add_module(module)
    graph.add_import(importer="a.x", imported="b.y")
    graph.add_import(importer="b.y", imported="c")
    graph.add_import(importer="c.z", imported="a")
    graph.add_import(importer="d", imported="a.x")  # into the cycle, not part of it

    check = contract(["a", "b", "c", "d"]).check(graph, verbose=False)

    assert not check.kept
    assert check.metadata["cycles"] == [["a", "b", "c"]]
    assert check.metadata["examples"] == [["a.x -> b.y", "b.y -> c", "c.z -> a"]]


def test_two_packages_importing_each_other_are_a_cycle_and_a_hierarchy_is_not() -> None:
    graph = grimp.ImportGraph()
    for module in ("top", "top.views", "leaf", "leaf.counters"):
        graph.add_module(module)
    graph.add_import(importer="top.views", imported="leaf.counters")
    assert contract(["top", "leaf"]).check(graph, verbose=False).kept
    graph.add_import(importer="leaf.counters", imported="top")
    assert package_cycles(package_edges(graph, ["top", "leaf"])) == [["leaf", "top"]]


def test_every_package_says_its_side_what_it_owns_and_what_it_may_import() -> None:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    for package in settings["root_packages"]:
        module = ast.parse((ROOT / package / "__init__.py").read_text())
        lines = (ast.get_docstring(module) or "").splitlines()
        assert len(lines) == 3, f"{package}/__init__.py: {lines}"
        assert lines[1].startswith("Owns"), f"{package}/__init__.py: {lines[1]}"
        assert lines[2].startswith(("May import", "Imports")), f"{package}/__init__.py: {lines[2]}"

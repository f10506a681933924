"""An import-linter contract of the project's own (`make lint` runs it with the others): no
cycle between the top-level packages it names. Layers catch an import that points up, but only
between the packages they list and never between siblings of one layer; this counts every
package cycle, whichever packages it runs through, so the package graph stays a hierarchy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck

# A package's imports of other packages: imported package -> one (importer, imported) example.
Edges = Mapping[str, Mapping[str, tuple[str, str]]]


def package_edges(graph: ImportGraph, packages: Iterable[str]) -> Edges:
    """Which of `packages` each one imports (directly, any of its modules, at any depth)."""
    names = set(packages)
    edges: dict[str, dict[str, tuple[str, str]]] = {name: {} for name in names}
    for package in sorted(names):
        for module in sorted({package, *graph.find_descendants(package)}):
            for imported in sorted(graph.find_modules_directly_imported_by(module)):
                target = imported.split(".")[0]
                if target in names and target != package:
                    edges[package].setdefault(target, (module, imported))
    return edges


def package_cycles(edges: Edges) -> list[list[str]]:
    """The groups of packages that import each other round a cycle (strongly connected
    components of more than one package), each sorted, in name order."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(package: str) -> None:
        order[package] = low[package] = len(order)
        stack.append(package)
        for target in sorted(edges[package]):
            if target not in order:
                visit(target)
                low[package] = min(low[package], low[target])
            elif target in stack:
                low[package] = min(low[package], order[target])
        if low[package] == order[package]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == package:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for package in sorted(edges):
        if package not in order:
            visit(package)
    return sorted(groups)


class AcyclicPackagesContract(Contract):
    """No package of `packages` imports, directly or through others of them, one that imports it."""

    type_name = "acyclic_packages"

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        edges = package_edges(graph, self.packages)  # type: ignore[arg-type]
        cycles = package_cycles(edges)
        examples = [
            [
                f"{importer} -> {imported}"
                for member in group
                for target, (importer, imported) in sorted(edges[member].items())
                if target in group
            ]
            for group in cycles
        ]
        return ContractCheck(kept=not cycles, warnings=[], metadata={"cycles": cycles, "examples": examples})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for group, examples in zip(check.metadata["cycles"], check.metadata["examples"], strict=True):
            output.print_error(f"Packages in a cycle: {', '.join(group)}")
            output.new_line()
            for example in examples:
                output.indent_cursor()
                output.print_error(example, bold=False)
            output.new_line()

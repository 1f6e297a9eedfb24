"""The import rules of docs/architecture.md, as data, and the checker the test runs.

Every ``import`` and ``from … import`` in a module counts, wherever it stands (inside a
function, under ``TYPE_CHECKING``): a lazy import is still a dependency. A rule is a list of
allowed targets for the modules under a prefix; the most specific prefix wins. Targets are
our own packages' modules (prefix match) and, for the pure layers, which outside packages are
allowed at all. EXCEPTIONS is the one list of deliberate breaks, each with its reason.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

OURS = ("kiosk", "drivers", "sync", "street", "hardware_mocks")
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
ANY = "*"

# The contracts every side may read: stdlib-only modules with no behaviour of the kiosk's.
CONTRACTS = ("kiosk.schema", "kiosk.errors", "kiosk.clock", "kiosk.durable", "kiosk.statefiles")


@dataclass(frozen=True)
class Rule:
    allowed: tuple[str, ...]          # prefixes of our modules this layer may import; "=pkg": pkg itself only
    outside: str | tuple[str, ...] = ANY   # third-party top-level packages allowed (ANY, or a tuple)
    why: str = ""


RULES: dict[str, Rule] = {
    "drivers": Rule(("drivers",), why="drivers know nothing of the kiosk, the sync or the mocks"),
    "hardware_mocks": Rule(("drivers", "hardware_mocks"),
                           why="stand-ins speak the drivers' interfaces and bytes, nothing else"),
    "kiosk": Rule(("kiosk", "drivers"), why="the kiosk app: never the sync, the server or the mocks"),
    "kiosk.schema": Rule((), outside=(), why="the record contract: the server imports it"),
    "kiosk.errors": Rule((), outside=()),
    "kiosk.clock": Rule((), outside=()),
    "kiosk.durable": Rule((), outside=()),
    "kiosk.statefiles": Rule(("kiosk.durable", "kiosk.errors", "kiosk.i18n"), outside=(),
                             why="shared state files; `kiosk status` reports a missing one to a person"),
    "kiosk.i18n": Rule(("kiosk.errors",), outside=(),
                       why="what the kiosk prints to a person: stdlib gettext only (Babel is a dev tool), "
                           "so every layer that words a message for a person may use it"),
    "kiosk.config": Rule(("kiosk.errors", "kiosk.statefiles", "kiosk.schema", "kiosk.i18n", "drivers.errors",
                          "drivers.thermometer.frames"),
                         why="the config checks values against the contracts (a household pseudonym) and drivers"),
    "kiosk.core": Rule(("kiosk.core", "kiosk.schema", "kiosk.config"), outside=(),
                       why="the pure flow: no I/O, no drivers, no third-party code"),
    "kiosk.codes": Rule(("kiosk.codes", "kiosk.core.verdict", "kiosk.core.digest") + CONTRACTS,
                        why="health codes: verified offline from trust material alone"),
    "kiosk.passlog": Rule(("kiosk.passlog", "kiosk.core.records", "kiosk.core.verdict", "kiosk.core.value",
                           "kiosk.core.digest")
                          + CONTRACTS, outside=(),
                          why="the pass log stores what the flow decided, nothing else; plain sqlite3, no "
                              "third-party package in the kiosk's memory for it (sqlite-utils is a technician's "
                              "tool); its small value classes are core.value's, which compile nothing at import"),
    "kiosk.devices": Rule(("kiosk.devices", "kiosk.core", "kiosk.config", "kiosk.i18n", "drivers") + CONTRACTS,
                          why="adapters: config → driver → events; never the loop, the log or the CLI"),
    "kiosk.service": Rule(("kiosk.service", "kiosk.core", "kiosk.devices", "kiosk.passlog", "kiosk.codes",
                           "kiosk.config", "kiosk.i18n", "=kiosk", "drivers") + CONTRACTS,
                          why="the running kiosk: composes the layers below, not the CLI or the demo"),
    "kiosk.door": Rule(("kiosk.door", "kiosk.core.records", "kiosk.passlog", "kiosk.config", "=kiosk", "drivers")
                       + CONTRACTS,
                       why="the door node: its pure watch, the drivers and the same pass log; never the gate's "
                           "flow, the sync or the CLI"),
    "kiosk.door.household": Rule(("kiosk.schema", "kiosk.errors"), outside=(),
                                 why="pure: a household and its windows, tested on plain numbers"),
    "kiosk.door.watch": Rule(("kiosk.door.household", "kiosk.core.records", "kiosk.schema"), outside=(),
                             why="pure: edges and ticks in, records out, on the injected clock"),
    "kiosk.cli": Rule(("kiosk", "drivers", "sync"), why="composition root: the commands"),
    "kiosk.demo": Rule((ANY,), why="composition root: the demo and the stand-in site"),
    "sync": Rule(("sync", "kiosk.config", "kiosk.passlog.reader", "=kiosk") + CONTRACTS,
                 why="the upload client reads the pass log, never writes it"),
    "sync.protocol": Rule(("sync.errors",), outside=(), why="the wire: both ends import it"),
    "sync.errors": Rule((), outside=()),
    "sync.signing": Rule(("sync.protocol", "sync.errors"), outside=("cryptography",),
                         why="both ends sign with it: the wire plus the one crypto library, nothing of either end"),
    "street": Rule(("street", "sync.protocol", "sync.signing", "sync.errors", "kiosk.schema", "kiosk.clock",
                    "kiosk.durable", "kiosk.errors"),
                   why="the server knows the wire and the record schema, never the kiosk's writer"),
    "street.cli": Rule(("street", "sync.protocol", "sync.signing", "sync.errors", "kiosk.schema", "kiosk.clock",
                        "kiosk.durable", "kiosk.errors", "kiosk.codes"),
                       why="`bundle publish` checks a bundle with the very code kiosks accept it with"),
}

EXCEPTIONS: dict[tuple[str, str], str] = {
    ("hardware_mocks.standin", "kiosk.demo.site"):
        "shim: keeps the README's `python -m hardware_mocks.standin`; the site composes kiosk, sync and street",
}


@dataclass(frozen=True)
class Violation:
    module: str
    target: str
    line: int
    why: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target} ({self.why})"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str, known: set[str]) -> list[tuple[str, int]]:
    """(imported module, line) for every import statement anywhere in the file. ``from pkg
    import a, b`` imports the modules pkg.a and pkg.b when they are modules of ours, and the
    package ``pkg`` itself only when some name is not (``from kiosk import __version__``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            out += [(sub, node.lineno) for sub in subs]
            if len(subs) < len(node.names):
                out.append((base, node.lineno))
    return out


def rule_for(module: str) -> tuple[str, Rule]:
    best = max((p for p in RULES if module == p or module.startswith(p + ".")), key=len)
    return best, RULES[best]


def _matches(target: str, prefix: str) -> bool:
    if prefix.startswith("="):
        return target == prefix[1:]
    return prefix == ANY or target == prefix or target.startswith(prefix + ".")


def check(root: Path, modules: dict[str, Path] | None = None) -> list[Violation]:
    """Every import in the packages under ``root`` that the rules forbid."""
    if modules is None:
        modules = {}
        for pkg in OURS:
            for path in sorted((root / pkg).rglob("*.py")) if (root / pkg).is_dir() else []:
                modules[module_name(root, path)] = path
    known = set(modules)
    found: list[Violation] = []
    for module, path in sorted(modules.items()):
        prefix, rule = rule_for(module)
        for target, line in imports_of(path, module, known):
            top = target.split(".")[0]
            if top in OURS:
                if target not in known and not any(k.startswith(target + ".") for k in known):
                    continue            # `from kiosk.x import name`: the name is not a module
                if target == module or (module, target) in EXCEPTIONS:
                    continue
                ok = any(_matches(target, p) for p in rule.allowed)
                if not ok:
                    found.append(Violation(module, target, line, rule.why or f"rule {prefix}"))
            elif top not in STDLIB and rule.outside != ANY and top not in rule.outside:
                found.append(Violation(module, target, line, f"{prefix} may use the standard library only"))
    return found


def _load_time_imports(path: Path, module: str, known: set[str]) -> set[str]:
    """Our modules imported while ``module`` itself is imported: statements at module level
    (also inside try/if), not in functions, not under ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()

    def visit(stmts: list[ast.stmt]) -> None:
        for node in stmts:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, (ast.If, ast.Try, ast.With)):
                for block in ("body", "orelse", "finalbody", "handlers"):
                    for sub in getattr(node, block, []):
                        visit([sub] if isinstance(sub, ast.stmt) else sub.body)
                continue
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names if a.name in known)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                subs = {f"{base}.{a.name}" for a in node.names} & known
                out.update(subs)
                if base in known and len(subs) < len(node.names):
                    out.add(base)

    visit(tree.body)
    out.discard(module)
    return out


def cycles(root: Path) -> list[list[str]]:
    """Groups of our modules that import each other at load time (strongly connected, > 1)."""
    modules: dict[str, Path] = {}
    for pkg in OURS:
        for path in sorted((root / pkg).rglob("*.py")) if (root / pkg).is_dir() else []:
            modules[module_name(root, path)] = path
    known = set(modules)
    graph = {m: _load_time_imports(p, m, known) for m, p in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    groups: list[list[str]] = []

    def strong(v: str) -> None:     # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return groups

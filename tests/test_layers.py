"""The package is layered: every import points down, and there are no cycles.

The layers, bottom to top (README, "Project layout"). A module may import modules of its own
layer or of lower ones; a lower layer importing a higher one fails here, naming the import.
"""
import ast
from pathlib import Path

import softfact

ROOT = Path(softfact.__file__).parent

LAYERS = [
    ["utils", "seed_reference"],
    ["config"],
    ["data"],
    ["models"],
    ["losses"],
    ["training"],
    ["evaluation"],
    ["metrics"],
    ["ops"],
    ["analysis"],
    ["run", "embed"],
    ["integrations"],
    ["plotting"],
    ["report"],
    ["sweep"],
    ["cli", "__main__"],
]


def _unit(module: str) -> str:
    """softfact.data.midi -> data; softfact.run -> run."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _level(unit: str) -> int:
    for i, names in enumerate(LAYERS):
        if unit in names:
            return i
    raise AssertionError(f"softfact.{unit} is in no layer: add it to LAYERS and the README")


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text())
    mod = "softfact." + ".".join(path.relative_to(ROOT).with_suffix("").parts)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("softfact.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = mod.split(".")[: -node.level]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name == "softfact":
                out += [(f"softfact.{a.name}", node.lineno) for a in node.names]
            elif name.startswith("softfact."):
                out.append((name, node.lineno))
    return out


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.name == "__init__.py" and len(rel.parts) == 1:
            continue  # the package's face re-exports from every layer
        yield path, _unit("softfact." + ".".join(rel.with_suffix("").parts))


def test_every_import_points_down():
    wrong = []
    for path, unit in _modules():
        here = _level(unit)
        for name, line in _imports(path):
            there = _level(_unit(name))
            if there > here:
                wrong.append(f"{path.relative_to(ROOT.parent)}:{line} imports {name} "
                             f"(layer {unit} -> higher layer {_unit(name)})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_between_modules():
    graph = {}
    for path, _ in _modules():
        rel = path.relative_to(ROOT).with_suffix("")
        mod = "softfact." + ".".join(rel.parts).removesuffix(".__init__")
        graph[mod] = {n for n, _ in _imports(path)}
    # resolve "from softfact.x import name" to the module softfact.x (or its package)
    known = set(graph)
    edges = {m: {d if d in known else d.rsplit(".", 1)[0] for d in deps} & known - {m}
             for m, deps in graph.items()}
    state, cycle = {}, []

    def visit(m, stack):
        state[m] = 1
        for d in edges[m]:
            if state.get(d) == 1:
                cycle.append(" -> ".join(stack[stack.index(d):] + [d]) if d in stack else f"{m} -> {d}")
            elif d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    # a package's __init__ importing its own submodules is not a cycle
    real = [c for c in cycle if not all(p.startswith(c.split(" -> ")[0]) for p in c.split(" -> "))]
    assert not real, "\n".join(real)


def test_the_layer_list_names_every_part_of_the_package():
    units = {u for _, u in _modules()}
    listed = {u for names in LAYERS for u in names}
    assert units <= listed, units - listed

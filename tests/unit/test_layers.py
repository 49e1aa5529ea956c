"""The layout's arrows: each layer imports only the layers below it, and no module imports itself back through
others (imports inside functions count; those only a type checker reads do not)."""

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGES = ("advisor", "rag", "finetune")
# Lowest first. rag and finetune are engines that know nothing of the advisor (test_import_hygiene.py).
LAYERS = [
    ("rag", "finetune"),
    ("advisor.errors", "advisor.files", "advisor.records", "advisor.memory"),
    ("advisor.cache", "advisor.lock", "advisor.gguf_cache", "advisor.config"),
    ("advisor.corpus",),
    ("advisor.measure",),
    ("advisor.models",),
    ("advisor.verdict",),
    ("advisor.stages",),
    ("advisor.api", "advisor.runs"),
    ("advisor.tune", "advisor.export", "advisor.whatif"),
    ("advisor.serve", "advisor.plan", "advisor.full_index", "advisor.full_training"),
    ("advisor.calibration",),
    ("advisor.demo", "advisor"),  # "advisor": the package's own __init__, the Python API
    ("advisor.tui",),
    ("advisor.cli",),
    ("advisor.__main__",),
]
LAYER = {group: depth for depth, groups in enumerate(LAYERS) for group in groups}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imported(path: Path) -> set[str]:
    """The project's modules `path` imports, anywhere in it, but under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(node) for branch in ast.walk(tree) if isinstance(branch, ast.If)
                   and getattr(branch.test, "id", None) == "TYPE_CHECKING" for node in ast.walk(branch)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.split(".")[0] in PACKAGES}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}

    def known(name):  # "advisor.verdict.render.X" -> the module that defines it
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name
    return {name: {known(dep) for dep in imported(path) if known(dep) and known(dep) != name}
            for name, path in modules.items()}


def layer_group(module: str) -> str:
    parts = module.split(".")
    return parts[0] if parts[0] != "advisor" else ".".join(parts[:2])


def test_every_layer_imports_only_those_below_it():
    upward = []
    for module, deps in graph().items():
        source = layer_group(module)
        assert source in LAYER, f"{module}: its layer is not listed in LAYERS"
        upward += [f"{module} -> {dep}" for dep in sorted(deps)
                   if layer_group(dep) != source and LAYER[layer_group(dep)] >= LAYER[source]]
    assert not upward, "imports that point up or sideways:\n" + "\n".join(upward)


def test_no_module_imports_itself_back_through_others():
    edges, cycles = graph(), []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module, path):
        state[module] = 1
        for dep in sorted(edges.get(module, ())):
            if state.get(dep) == 1:
                cycles.append(" -> ".join(path[path.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, path + [dep])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)

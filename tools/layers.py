#!/usr/bin/env python3
"""Check the module layering of src/ (issue #8): no import circle, no edge upwards.

Reads every `crate::…` and `super::…` path in src/**/*.rs (use lines and inline paths), maps
each to the file module it names, and checks two things:
  1. between top-level modules, every edge goes to the same or a lower layer (LAYERS below),
     and the graph has no cycle;
  2. inside each top-level module, the graph of its files has no cycle (edges to the module's
     own mod.rs, which only declares and re-exports, are not counted).
Prints the top-level edges and exits 1 on any violation. Run: python3 tools/layers.py
"""
import pathlib
import re
import sys

LAYERS = {
    "cli": 6, "startup": 5, "serve": 5, "telemetry": 5,
    "http": 4,
    "service": 3,
    "store": 2, "token": 2, "hashing": 2, "revocation": 2, "profiles": 2, "mail": 2, "secrets": 2,
    "domain": 1, "clock": 1, "config": 1,
}

ROOT = pathlib.Path(__file__).resolve().parent.parent / "src"


def module_of(path: pathlib.Path) -> tuple:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


files = {module_of(p): p for p in ROOT.rglob("*.rs")}
modules = set(files)

PATH = re.compile(r"\b(crate|super)((?:::\w+)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super)((?:::\w+)*)::\{([^;]*)\}\s*;", re.S)


def resolve(base: tuple, names: list) -> tuple:
    """The longest module prefix of base + names."""
    best = base
    for i in range(1, len(names) + 1):
        if base + tuple(names[:i]) in modules:
            best = base + tuple(names[:i])
        else:
            break
    return best


def paths_in(text: str):
    text = re.sub(r"//[^\n]*", "", text)
    for m in USE_GROUP.finditer(text):
        head = [p for p in m.group(2).split("::") if p]
        for item in re.split(r"[,\s]+", m.group(3)):
            item = item.strip("{}")
            if item and item not in ("self",):
                yield m.group(1), head + item.split("::")
            elif item == "self":
                yield m.group(1), head
    for m in PATH.finditer(USE_GROUP.sub("", text)):
        yield m.group(1), [p for p in m.group(2).split("::") if p]


edges = set()
for mod, path in files.items():
    for kind, names in paths_in(path.read_text()):
        # `super` names the parent: of `a/b.rs` (module a::b) and of `a/b/mod.rs` alike.
        base = () if kind == "crate" else mod[:-1]
        target = resolve(base, names)
        if target != mod:
            edges.add((mod, target))

errors = []
top = set()
for a, b in edges:
    if not a or not b:
        if a and not b:
            errors.append(f"{'::'.join(a)} imports from the crate root (use the module itself)")
        continue
    if a[0] != b[0]:
        top.add((a[0], b[0]))


def find_cycle(nodes, graph):
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(nodes):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


graph = {}
for a, b in top:
    graph.setdefault(a, set()).add(b)
    if a in LAYERS and b in LAYERS and LAYERS[b] > LAYERS[a]:
        errors.append(f"{a} (layer {LAYERS[a]}) imports {b} (layer {LAYERS[b]}): an upward edge")
    for m in (a, b):
        if m not in LAYERS:
            errors.append(f"module {m} has no layer in tools/layers.py")
cycle = find_cycle({a for a, _ in top} | {b for _, b in top}, graph)
if cycle:
    errors.append("import circle between top-level modules: " + " -> ".join(cycle))

for name in sorted({m[0] for m in modules if m}):
    inner = {}
    for a, b in edges:
        if a and b and a[0] == name and b[0] == name and len(b) > 1 and len(a) > 1:
            inner.setdefault(a, set()).add(b)
    cycle = find_cycle(set(inner) | {b for bs in inner.values() for b in bs}, inner)
    if cycle:
        errors.append("import circle inside " + name + ": " + " -> ".join("::".join(c) for c in cycle))

for layer in sorted(set(LAYERS.values()), reverse=True):
    for a in sorted(m for m, l in LAYERS.items() if l == layer):
        targets = sorted(b for x, b in top if x == a)
        print(f"{a:>10} -> {', '.join(targets) or '-'}")
if errors:
    print("\n".join("error: " + e for e in errors), file=sys.stderr)
    sys.exit(1)
print("layers: no circle, no upward edge")

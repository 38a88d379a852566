"""The package's import structure: no module imports one that imports it back (at module
level or inside a function), layers never import the model, gradients or io, and
``import lstm_np`` loads neither numba, h5py nor TensorFlow."""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import lstm_np

ROOT = Path(lstm_np.__file__).parent


def _module_name(path):
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(module, node):
    """The lstm_np modules an import statement in ``module`` names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    base = ".".join(p for p in (package if node.level else "", node.module or "") if p)
    # ``from pkg import sub`` names the submodule ``pkg.sub`` when there is one
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def _edges(module):
    """Modules ``module`` imports: each named module, and the packages Python runs on the
    way to it that are not ``module``'s own (importing a sibling does not re-run them)."""
    out = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for name in _resolve(module, node):
                parts = name.split(".")
                for k in range(1, len(parts) + 1):
                    target = ".".join(parts[:k])
                    own = k < len(parts) and module.startswith(target + ".")
                    if target in MODULES and target != module and not own:
                        out.add(target)
    return out


GRAPH = {m: _edges(m) for m in MODULES}


def _reaches(start):
    seen, todo = set(), [start]
    while todo:
        for nxt in GRAPH[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_circle(module):
    """Following imports (function-level ones too) never leads back to the module."""
    back = [m for m in GRAPH[module] if module in _reaches(m) or m == module]
    assert not back, f"{module} imports {back}, which import {module} back"


def test_layers_import_neither_model_gradients_nor_io():
    forbidden = {"lstm_np.model", "lstm_np.gradients", "lstm_np.io", "lstm_np"}
    for module in MODULES:
        if module.startswith("lstm_np.layers"):
            bad = {m for m in _reaches(module) if m in forbidden or m.startswith("lstm_np.io.")}
            assert not bad, f"{module} reaches {sorted(bad)}"


def test_model_imports_only_generic_modules():
    """The graph runner knows no layer class: of the layers it imports only the protocol."""
    layers = {m for m in GRAPH["lstm_np.model"] if m.startswith("lstm_np.layers")}
    assert layers <= {"lstm_np.layers", "lstm_np.layers.base"}, layers
    assert not any(m.startswith("lstm_np.io") for m in _reaches("lstm_np.model"))
    assert not any(m.startswith("lstm_np.layers") for m in GRAPH["lstm_np.gradients"])


def test_each_module_imports_first():
    """Each module, imported first in a clean state (``lstm_np/__init__`` not run, nothing
    of lstm_np loaded), imports: a module-level circle would fail on a partly built
    module whichever of its modules comes first."""
    code = ("import importlib, sys, types\n"
            f"for name in {sorted(set(MODULES) - {'lstm_np', 'lstm_np.__main__'})!r}:\n"
            "    for m in [m for m in sys.modules if m == 'lstm_np' or m.startswith('lstm_np.')]:\n"
            "        del sys.modules[m]\n"
            "    root = types.ModuleType('lstm_np')\n"
            f"    root.__path__ = [{str(ROOT)!r}]\n"
            "    sys.modules['lstm_np'] = root\n"
            "    importlib.import_module(name)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_import_lstm_np_loads_no_heavy_dependency():
    code = ("import sys, lstm_np\n"
            "heavy = [m for m in ('numba', 'h5py', 'tensorflow', 'keras', 'tf_keras', 'scipy')\n"
            "         if m in sys.modules]\n"
            "print(','.join(heavy))\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT.parent))
    out = subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120,
                         capture_output=True, text=True).stdout.strip()
    assert out == "", f"import lstm_np loaded {out}"


@pytest.mark.parametrize("env", [{"LSTM_NP_DISABLE_JIT": "1"}, {"LSTM_NP_JIT": "auto"}],
                         ids=["disabled", "auto-short-run"])
def test_numpy_path_never_imports_numba(env):
    """With the JIT off, and in a short auto-mode run, loading and running a model (an
    LSTM and a softmax Dense) stays on NumPy: numba is never imported."""
    code = ("import os, sys, numpy as np, lstm_np as ln\n"
            "m = ln.load(os.path.join(os.path.dirname(ln.__file__), 'data', 'alphabet.keras'))\n"
            "x = np.zeros((2,) + tuple(d or 3 for d in m.input_shape[1:]), np.float32)\n"
            "m.predict(x)\n"
            "print('numba' in sys.modules)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT.parent), LSTM_NP_JIT_AFTER="1000", **env)
    out = subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120,
                         capture_output=True, text=True).stdout.strip()
    assert out == "False", "numba was imported on the NumPy path"

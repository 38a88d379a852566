"""When the numba path runs: lazy import, the auto mode's background compile, the cache
directory on read-only installs, caches made on another CPU, the compile message, warmup.

Each case runs in a fresh process (the mode and the cache directory are per process) on
one small LSTM, whose kernels compile in a few seconds; every process of a test shares one
cache directory, so only the first compiles.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

import lstm_np as ln

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.skipif(not ln.HAVE_NUMBA, reason="numba not installed")

# Builds one small LSTM, predicts twice; prints JSON: which path each call took, whether
# numba was imported, and the compile/cache counts of the kernels the call used.
_SCRIPT = r"""
import json, sys, time
sys.path.insert(0, {root!r})
import numpy as np
import lstm_np as ln
from lstm_np import _jit
report = {{"numba_after_import": "numba" in sys.modules}}
rng = np.random.default_rng(0)
layer = ln.LSTM(8, return_sequences=True)
layer.set_weights([rng.standard_normal((3, 32)) * .3, rng.standard_normal((8, 32)) * .3,
                   np.zeros(32)])
x = rng.standard_normal((2, 5, 3)).astype(np.float32)
y1 = layer(x)
report["first_jit"] = layer.compute()._fn is not None
if {wait}:
    report["waited"] = _jit.warmup_wait(120)
y2 = layer(x)
report["second_jit"] = layer.compute()._fn is not None
report["numba_loaded"] = "numba" in sys.modules
report["close"] = bool(np.allclose(y1, y2, rtol=1e-5, atol=1e-6))
if report["numba_loaded"]:
    d = layer.compute()._unit.dispatcher()
    report["hits"] = sum(d.stats.cache_hits.values())
    report["misses"] = sum(d.stats.cache_misses.values())
report["cache_dir"] = _jit.cache_dir()
print("REPORT" + json.dumps(report))
"""


def _run(env_extra, wait=False, cwd=None, root=ROOT, read_only=()):
    """Run the script in a fresh process; ``read_only`` directories are mounted read-only
    for it (in a private mount namespace: permission bits do not stop root)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LSTM_NP_", "NUMBA_CACHE_DIR"))}
    env.update(env_extra)
    cmd = [sys.executable, "-c", _SCRIPT.format(root=root, wait=wait)]
    if read_only:
        mounts = " && ".join(f"mount --bind {d} {d} && mount -o remount,bind,ro {d}"
                             for d in map(str, read_only))
        cmd = ["unshare", "-m", "sh", "-c", mounts + ' && exec "$@"', "sh"] + cmd
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln_ for ln_ in proc.stdout.splitlines() if ln_.startswith("REPORT")][-1]
    return json.loads(line[len("REPORT"):]), proc.stderr


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache directory for the module: the LSTM kernels compile once."""
    return str(tmp_path_factory.mktemp("numba_cache"))


def test_import_loads_no_numba_and_short_runs_stay_on_numpy(cache):
    report, _ = _run({"NUMBA_CACHE_DIR": cache})
    assert not report["numba_after_import"]
    assert not report["first_jit"] and not report["second_jit"] and not report["numba_loaded"]


def test_eager_compiles_once_then_loads_from_the_cache_and_announces_slow_compiles(cache):
    env = {"NUMBA_CACHE_DIR": cache, "LSTM_NP_JIT": "eager"}
    first, err = _run(env)
    assert first["first_jit"] and first["misses"] >= 1
    assert "lstm_np: compiling LSTM float32 kernels (first use; cached in" in err
    second, err = _run(env)
    assert second["hits"] >= 1 and second["misses"] == 0
    assert "compiling" not in err                 # loading from the cache is not announced


def test_auto_mode_readies_kernels_in_the_background_then_switches(cache):
    report, _ = _run({"NUMBA_CACHE_DIR": cache, "LSTM_NP_JIT_AFTER": "0"}, wait=True)
    assert not report["first_jit"]               # the first call ran on NumPy ...
    assert report["waited"] and report["second_jit"] and report["close"]   # ... then numba


def test_a_cache_made_on_another_cpu_is_recompiled_not_used(cache):
    env = {"NUMBA_CACHE_DIR": cache, "LSTM_NP_JIT": "eager"}
    other, err = _run(dict(env, NUMBA_CPU_NAME="generic", LSTM_NP_QUIET="1"))
    assert other["misses"] >= 1 and other["close"]     # another CPU's key: compiled again
    assert "compiling" not in err                      # LSTM_NP_QUIET
    again, _ = _run(env)                               # this CPU's entry is still used
    assert again["misses"] == 0 and again["hits"] >= 1


def test_read_only_install_caches_elsewhere(tmp_path):
    """The package directory cannot be written: kernels go to the per-user cache, or to the
    temporary directory when the home directory is read-only too, and nothing fails."""
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare -m (a private mount namespace) for read-only mounts")
    site = tmp_path / "site"
    shutil.copytree(os.path.join(ROOT, "lstm_np"), site / "lstm_np",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {"LSTM_NP_JIT": "eager", "HOME": str(home), "TMPDIR": str(tmp), "XDG_CACHE_HOME": ""}
    report, _ = _run(env, root=str(site), cwd=str(tmp_path), read_only=[site])
    assert report["first_jit"] and report["cache_dir"].startswith(str(home))
    report, _ = _run(env, root=str(site), cwd=str(tmp_path), read_only=[site])
    assert report["misses"] == 0 and report["hits"] >= 1
    report, _ = _run(dict(env, LSTM_NP_JIT="auto"), root=str(site), cwd=str(tmp_path),
                     read_only=[site, home])            # where it would cache, no compile
    assert report["cache_dir"].startswith(str(tmp))


def test_cache_directory_choice_when_nothing_is_writable(monkeypatch, tmp_path):
    """The choice itself (root can write anywhere, so the read-only test above is skipped
    for it): package dir, then per-user, then the temporary directory, then no cache."""
    from lstm_np import _jit
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    writable = {"pkg": True, "user": True, "tmp": True}

    def fake(path):
        if path.startswith(_jit.PACKAGE_DIR):
            return writable["pkg"]
        if path.startswith(str(tmp_path / "xdg")):
            return writable["user"]
        return writable["tmp"]
    monkeypatch.setattr(_jit, "_writable", fake)
    assert _jit._choose_cache_dir() == "__pycache__"
    writable["pkg"] = False
    assert _jit._choose_cache_dir().startswith(str(tmp_path / "xdg"))
    writable["user"] = False
    assert "lstm_np-numba" in _jit._choose_cache_dir()
    writable["tmp"] = False
    assert _jit._choose_cache_dir() is None
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "given"))
    assert _jit._choose_cache_dir() == str(tmp_path / "given")


def test_warmup_then_a_fresh_process_loads_every_kernel_from_the_cache(cache):
    script = (f"import sys; sys.path.insert(0, {ROOT!r})\n"
              "import numpy as np, lstm_np as ln\n"
              "rng = np.random.default_rng(0)\n"
              "layer = ln.LSTM(8, return_sequences=True)\n"
              "layer.set_weights([rng.standard_normal((3, 32)), rng.standard_normal((8, 32)),"
              " np.zeros(32)])\n"
              "inp = ln.layers.InputLayer(batch_shape=(None, 5, 3), name='x')\n"
              "m = ln.Model([inp, layer], [{'layer': 'x', 'args': None},"
              " {'layer': layer.name, 'args': [0, 0]}], [[0, 0]], [1, 0])\n"
              f"r = ln.warmup(m, cache_dir={cache!r})\n"
              "print('CACHED' if all(c for _, _, c in r) else 'COMPILED', len(r))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LSTM_NP_", "NUMBA_"))}
    outs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, timeout=600) for _ in range(2)]
    assert outs[0].returncode == 0, outs[0].stderr[-2000:]
    assert outs[0].stdout.split()[0] == "COMPILED" and outs[1].stdout.split()[0] == "CACHED"

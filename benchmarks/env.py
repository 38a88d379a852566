"""The environment a benchmark ran in: CPU, cores, load, library versions, threads, date."""
import datetime
import importlib
import os
import platform
import sys

__all__ = ["collect", "format_env"]

_PACKAGES = ("numpy", "scipy", "numba", "lstm_np", "tensorflow", "keras", "onnx",
             "onnxruntime", "tf2onnx", "torch")


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return " ".join(x for x in ("avx2", "fma", "avx512f") if x in flags)
    except OSError:
        pass
    return "?"


def _version(name):
    """The version of an *already importable* package, without importing heavy ones."""
    try:
        from importlib.metadata import version, PackageNotFoundError
        dist = {"lstm_np": "lstm-np", "tensorflow": "tensorflow"}.get(name, name)
        try:
            return version(dist)
        except PackageNotFoundError:
            if name == "tensorflow":
                return version("tensorflow-cpu")
            raise
    except Exception:
        try:
            return importlib.import_module(name).__version__
        except Exception:
            return None


def collect():
    """A dict describing the machine and the versions (JSON-serialisable)."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        affinity = os.cpu_count()
    try:
        load = tuple(round(x, 2) for x in os.getloadavg())
    except OSError:  # pragma: no cover
        load = None
    env = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "cores": os.cpu_count(),
        "cores_usable": affinity,
        "load_average": load,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {name: _version(name) for name in _PACKAGES},
        "thread_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                  "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                                                  "LSTM_NP_DISABLE_JIT") if k in os.environ},
    }
    try:
        import lstm_np
        env["lstm_np_jit"] = bool(lstm_np.JIT_ENABLED)
    except Exception:  # pragma: no cover
        env["lstm_np_jit"] = None
    return env


def format_env(env):
    v = env["versions"]
    lines = [
        f"date        {env['date']}",
        f"cpu         {env['cpu']} ({env['cpu_flags']}), {env['cores']} cores "
        f"({env['cores_usable']} usable), load average {env['load_average']}",
        f"platform    {env['platform']}",
        f"python      {env['python']}",
        "versions    " + ", ".join(f"{k} {v[k] or '-'}" for k in _PACKAGES),
        f"lstm_np JIT {env['lstm_np_jit']}; thread env {env['thread_env'] or 'defaults'}",
    ]
    return "\n".join(lines)

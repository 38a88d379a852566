"""When the numba (JIT) path runs, and the only place that imports numba.

``import lstm_np`` never imports numba. Each jitted function is a *unit* that is compiled
(or loaded from numba's cache) the first time it is needed for a given argument signature,
in one of three modes (``LSTM_NP_JIT``):

* ``auto`` (default): calls run on the pure-NumPy path until the process has spent
  ``LSTM_NP_JIT_AFTER`` seconds (default 0.2) there; then every unit used so far, and each
  new one, is loaded or compiled by one background thread, and calls switch to it as soon
  as it is ready. A short script never pays for numba (its import alone is ~0.4 s and
  ~90 MB); a long-running one pays once, in the background.
* ``eager``: units are compiled in the calling thread before their first call (tests and
  benchmarks use it for the numba path, deterministic from the first call).
* ``off`` (also ``LSTM_NP_DISABLE_JIT=1``, or numba not installed): NumPy only.

Compiling more than about a second prints one line on stderr (``LSTM_NP_QUIET=1`` silences
it). The cache directory (:func:`cache_dir`): ``NUMBA_CACHE_DIR`` when set, else numba's
default next to the sources when writable, else a per-user directory, else the temporary
directory; if nothing is writable, kernels are compiled without a cache -- never an error.
numba keys cached code by CPU, so a cache made on another CPU is recompiled, not used.
"""
import importlib.util
import os
import queue
import sys
import tempfile
import threading
import time

__all__ = ["jit", "Unit", "Kernel", "HAVE_NUMBA", "JIT_ENABLED", "mode", "set_mode", "get", "spent",
           "trigger", "compile_now", "warmup_wait", "cache_dir", "numba_loaded", "jit_options",
           "use_cache_dir", "env_flag"]

HAVE_NUMBA = importlib.util.find_spec("numba") is not None


def env_flag(name):
    """True when environment variable ``name`` is set to anything but empty/0/false/no."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _mode_from_env():
    if env_flag("LSTM_NP_DISABLE_JIT"):
        return "off"
    value = os.environ.get("LSTM_NP_JIT", "auto").strip().lower()
    if value in ("0", "off", "false", "no", "none"):
        return "off"
    if value in ("1", "on", "eager", "true", "yes", "always"):
        return "eager"
    return "auto"


_MODE = _mode_from_env() if HAVE_NUMBA else "off"
JIT_ENABLED = _MODE != "off"
_AFTER = float(os.environ.get("LSTM_NP_JIT_AFTER", "0.2") or 0.2)
_QUIET = env_flag("LSTM_NP_QUIET")
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def mode():
    """``"auto"``, ``"eager"`` or ``"off"`` (see the module docstring)."""
    return _MODE


def set_mode(value):
    """Switch the mode at run time (``"auto"``, ``"eager"`` or ``"off"``)."""
    global _MODE, JIT_ENABLED
    if value not in ("auto", "eager", "off"):
        raise ValueError(f"JIT mode must be 'auto', 'eager' or 'off'; received {value!r}")
    _MODE = value if HAVE_NUMBA else "off"
    JIT_ENABLED = _MODE != "off"


# ----------------------------------------------------------------------------- numba
_LOCK = threading.RLock()
_NUMBA = None
_CACHE_DIR = None        # chosen at the first numba import
_OPTIONS = None


def numba_loaded():
    return _NUMBA is not None


def _writable(path):
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
        return True
    except OSError:
        return False


def _choose_cache_dir():
    """Where lstm_np's kernels are cached, or None (no cache possible)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    if _writable(os.path.join(PACKAGE_DIR, "kernels", "__pycache__")):
        return "__pycache__"        # numba's own in-tree default
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    for candidate in (os.path.join(base, "lstm_np", "numba"),
                      os.path.join(tempfile.gettempdir(), f"lstm_np-numba-{os.getuid()}"
                                   if hasattr(os, "getuid") else "lstm_np-numba")):
        if _writable(candidate):
            return candidate
    return None


def use_cache_dir(path):
    """Cache lstm_np's kernels in ``path`` (before numba is loaded: ``NUMBA_CACHE_DIR`` for
    this process); refused once numba is loaded with another directory."""
    path = os.path.abspath(os.fspath(path))
    if _NUMBA is not None:
        if _CACHE_DIR != path:
            raise RuntimeError(f"numba is already loaded with cache directory {_CACHE_DIR!r}; "
                               f"set the cache directory before the first compiled call")
        return
    os.makedirs(path, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = path


def cache_dir():
    """The directory holding lstm_np's compiled kernels (``None``: no cache)."""
    if _CACHE_DIR is None and _NUMBA is None:
        return _choose_cache_dir()
    return None if _CACHE_DIR == "" else _CACHE_DIR


def _install_locator(numba, directory):
    """Make numba cache lstm_np's functions in ``directory`` (a private numba hook; numba's
    own locators, and ``NUMBA_CACHE_DIR``, stay in charge of everything else)."""
    from numba.core import caching

    class LstmNpCacheLocator(caching.UserProvidedCacheLocator):
        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = os.path.join(directory, self.get_suitable_cache_subpath(py_file))

        @classmethod
        def from_function(cls, py_func, py_file):
            if not os.path.abspath(py_file).startswith(PACKAGE_DIR):
                return None
            return super(caching.UserProvidedCacheLocator, cls).from_function(py_func, py_file)

    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
    impl._locator_classes = [LstmNpCacheLocator] + [
        c for c in impl._locator_classes if c.__name__ != "LstmNpCacheLocator"]


def _load_numba():
    """Import numba once; choose the cache; register the lazy units' numba type."""
    global _NUMBA, _CACHE_DIR, _OPTIONS
    with _LOCK:
        if _NUMBA is not None:
            return _NUMBA
        chosen = _choose_cache_dir()
        import numba
        from numba.extending import typeof_impl
        from numba.core import types

        cache = chosen is not None
        if chosen not in (None, "__pycache__") and not os.environ.get("NUMBA_CACHE_DIR"):
            try:
                _install_locator(numba, chosen)
            except Exception:   # pragma: no cover - a numba without the private hook
                cache = False
        _OPTIONS = dict(cache=cache, nogil=True, error_model="numpy", boundscheck=False)

        @typeof_impl.register(Unit)
        def _typeof_unit(val, c):
            return types.Dispatcher(val.dispatcher())

        _announce_compiles(numba)
        _CACHE_DIR = chosen if cache else ""
        _NUMBA = numba
        return numba


def jit_options(**extra):
    """The options every lstm_np kernel is compiled with (numba must be loaded): cached
    where possible, no fastmath (Keras's NaN/inf semantics stay), NumPy's float error model
    (1/0 is inf, no exception check that blocks vectorisation), the GIL released."""
    _load_numba()
    return dict(_OPTIONS, **extra)


# ----------------------------------------------------------------------------- units
class Unit:
    """A plain-Python function that is compiled with numba when the JIT path needs it.

    Called from Python it runs compiled when ready for the arguments' types, else as
    written (or its NumPy ``fallback``); called from a jitted function it is that
    function's compiled callee. ``contract=True`` lets LLVM fuse ``a * b + c`` into one
    FMA and nothing else; ``inline=True`` inlines it into jitted callers (numba IR level).
    """

    def __init__(self, fn, fallback=None, contract=False, inline=False, name=None):
        self.py_func = fn
        self.fallback = fallback or fn
        self.contract = contract
        self.inline = inline
        self.name = name or f"{fn.__module__}.{fn.__qualname__}"
        self._dispatcher = None
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.__wrapped__ = fn

    def dispatcher(self):
        if self._dispatcher is None:
            numba = _load_numba()
            options = jit_options()
            if self.contract:
                options["fastmath"] = {"contract"}
            if self.inline:
                options["inline"] = "always"
            with _LOCK:
                if self._dispatcher is None:
                    self._dispatcher = numba.njit(**options)(self.py_func)
        return self._dispatcher

    def __call__(self, *args):
        compiled = get(self, args)
        if compiled is None:
            return self.fallback(*args)
        return compiled(*args)

    def __repr__(self):
        return f"<lstm_np jit unit {self.name}>"


def jit(fn=None, *, fallback=None, contract=False, inline=False):
    """Mark ``fn`` as a :class:`Unit` (compiled only when the JIT path runs it)."""
    if fn is None:
        return lambda f: jit(f, fallback=fallback, contract=contract, inline=inline)
    return Unit(fn, fallback=fallback, contract=contract, inline=inline)


class Kernel:
    """A compiled kernel built on demand: ``build()`` returns a numba dispatcher (it may
    import numba-only modules); ``what`` names it in the compile message."""

    def __init__(self, build, what):
        self.build = build
        self.what = what
        self._dispatcher = None

    def dispatcher(self):
        if self._dispatcher is None:
            _load_numba()
            with _LOCK:
                if self._dispatcher is None:
                    self._dispatcher = self.build()
        return self._dispatcher


_READY = set()          # (id(unit), signature) compiled or loaded
_WANTED = {}            # (id(unit), signature) -> (unit, signature)
_SPENT = [0.0]          # seconds on the NumPy path in this process
_TRIGGERED = [False]
_QUEUE = queue.Queue()
_WORKER = [None]
_PENDING = [0]
_IDLE = threading.Condition(threading.Lock())


def _signature(args):
    numba = _load_numba()
    return tuple(numba.typeof(a) for a in args)


def _key_types(args):
    """A cheap, numba-free key of the argument types (dtype, ndim, contiguity)."""
    out = []
    for a in args:
        dt = getattr(a, "dtype", None)
        if dt is not None and hasattr(a, "ndim"):
            out.append((dt.str, a.ndim, a.flags.c_contiguous, a.flags.writeable))
        else:
            out.append(type(a))
    return tuple(out)


def get(u, args):
    """The compiled form of unit ``u`` ready for ``args``, or None (use the NumPy path)."""
    if _MODE == "off":
        return None
    key = (id(u), _key_types(args))
    if key in _READY:
        return u.dispatcher()
    if _MODE == "eager":
        _compile(u, args, key)
        return u.dispatcher()
    with _LOCK:
        if key not in _WANTED:
            _WANTED[key] = (u, args)
            if _TRIGGERED[0]:
                _submit(key)
    return None


def spent(seconds):
    """Report time spent on the NumPy path; past ``LSTM_NP_JIT_AFTER`` the background
    compilation of every unit used so far starts (``auto`` mode)."""
    if _MODE != "auto" or _TRIGGERED[0]:
        return
    _SPENT[0] += seconds
    if _SPENT[0] >= _AFTER:
        with _LOCK:
            if not _TRIGGERED[0]:
                _TRIGGERED[0] = True
                for key in list(_WANTED):
                    _submit(key)


def _submit(key):
    with _IDLE:
        _PENDING[0] += 1
    _QUEUE.put(key)
    if _WORKER[0] is None:
        t = threading.Thread(target=_background, name="lstm_np-jit", daemon=True)
        _WORKER[0] = t
        t.start()


def _background():
    while True:
        key = _QUEUE.get()
        try:
            u, args = _WANTED[key]
            if key not in _READY:
                _compile(u, args, key)
        except Exception as exc:   # a kernel that fails to compile stays on NumPy
            if not _QUIET:
                print(f"lstm_np: JIT compilation failed ({type(exc).__name__}: {exc}); "
                      f"continuing on the NumPy path", file=sys.stderr)
        finally:
            with _IDLE:
                _PENDING[0] -= 1
                _IDLE.notify_all()


_ANNOUNCE = threading.local()     # the kernel this thread is readying, for the message


def _announce_compiles(numba):
    """Print one line when a compilation (not a cache load: numba's ``numba:compile``
    event fires only then) has run for a second while readying a kernel."""
    from numba.core import event

    class Listener(event.Listener):
        def on_start(self, ev):
            what = getattr(_ANNOUNCE, "what", None)
            if what is None or _QUIET or getattr(_ANNOUNCE, "timer", None) is not None:
                return

            def say():
                where = cache_dir() or "no cache: nothing writable"
                print(f"lstm_np: compiling {what} kernels (first use; cached in {where})",
                      file=sys.stderr, flush=True)
            timer = threading.Timer(1.0, say)
            timer.daemon = True
            timer.start()
            _ANNOUNCE.timer = timer

        def on_end(self, ev):
            pass

    event.register("numba:compile", Listener())


def _compile(u, args, key):
    """Compile (or load from the cache) ``u`` for ``args``' types, announcing slow
    compilations."""
    _ANNOUNCE.what = getattr(u, "what", None) or u.name
    _ANNOUNCE.timer = None
    try:
        u.dispatcher().compile(_signature(args))
    finally:
        timer = getattr(_ANNOUNCE, "timer", None)
        if timer is not None:
            timer.cancel()
        _ANNOUNCE.what = _ANNOUNCE.timer = None
    _READY.add(key)


def compile_now(u, args):
    """Compile (or load) unit ``u`` for ``args``' types now, in this thread, whatever the
    mode but ``off``; returns ``(seconds, from_cache)``."""
    if _MODE == "off":
        return 0.0, False
    key = (id(u), _key_types(args))
    d = u.dispatcher()
    hits = sum(d.stats.cache_hits.values()) if hasattr(d, "stats") else 0
    t0 = time.perf_counter()
    if key not in _READY:
        _compile(u, args, key)
    seconds = time.perf_counter() - t0
    cached = hasattr(d, "stats") and sum(d.stats.cache_hits.values()) > hits
    return seconds, cached


def warmup_wait(timeout=None):
    """Block until the background compilations queued so far are done; True if none is
    left (``auto`` mode; a no-op otherwise)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with _IDLE:
        while _PENDING[0] > 0:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            _IDLE.wait(left)
    return True


def trigger():
    """Start background compilation now (as if the NumPy-path budget were spent)."""
    if _MODE == "auto":
        spent(_AFTER + 1.0)

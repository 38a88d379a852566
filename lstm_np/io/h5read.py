"""Reading HDF5 (``.h5`` files and the ``model.weights.h5`` member of ``.keras``) in isolation.

libhdf5 can loop forever or crash on a corrupt file (e.g. a byte-flipped global-heap
collection makes ``H5HG__cache_heap_deserialize`` spin while a variable-length string
attribute is read), below anything Python can interrupt. So, where ``os.fork`` exists,
the HDF5 content lstm_np needs is read in a forked child process: the child opens the
file with h5py, walks the groups (skipping optimizer state), reads the few attributes the
loaders use and every weight array (after the bounds of :mod:`lstm_np.io.limits`), and
sends them back through a pipe: a JSON header, then the arrays' raw bytes, from which the
parent rebuilds numeric arrays with ``np.frombuffer`` (nothing is pickled, and no copy is
made). The parent waits at most :func:`timeout_for` seconds, then kills
the child and raises :class:`~lstm_np.LoadError` naming the file and the time limit; a
child that dies (e.g. a segfault in libhdf5) also gives a ``LoadError``. The loaders then
read this snapshot through the same ``Group`` / ``Dataset`` interface as h5py's.

No interpreter is started: the fork adds about 20 ms to a small model's load and 35 ms to
a 7 MB one (median, busy 2-core machine; ``os.fork`` itself takes 3-5 ms of that for a
100 MB process). Without ``os.fork`` (Windows), or with ``LSTM_NP_H5_ISOLATION=0``, the
file is read in-process with h5py: every failure is still a ``LoadError``, but a hang
inside libhdf5 cannot be bounded. ``LSTM_NP_H5_TIMEOUT`` sets the base time limit in
seconds (default 20, plus one second per 32 MiB of HDF5 data).
"""
import contextlib
import faulthandler
import io
import json
import os
import re
import select
import signal
import struct
import threading
import time
import warnings

import numpy as np

from ..errors import LoadError, MissingDependency
from .limits import MAX_JSON_BYTES, MAX_MEMBER_BYTES, DatasetRefused, dataset_array

__all__ = ["h5_root", "timeout_for", "isolation_enabled", "BASE_TIMEOUT"]

#: Base time limit (seconds) for reading one HDF5 file in the child.
BASE_TIMEOUT = 20.0
#: Extra second of time limit per this many bytes of HDF5 data.
_BYTES_PER_SECOND = 2**25
#: Most groups + datasets walked in one file.
MAX_H5_OBJECTS = 100_000
#: Deepest group nesting walked.
MAX_H5_DEPTH = 64
#: Top-level groups never read (optimizer state is not needed to run a model).
_SKIP_TOP = {"optimizer", "optimizer_weights"}
#: The only attributes the loaders read; others are never touched.
_ATTR_NAMES = re.compile(r"(model_config|weight_names)\d*|keras_version|name|dtype")


def isolation_enabled():
    return hasattr(os, "fork") and os.environ.get("LSTM_NP_H5_ISOLATION", "1") != "0"


def timeout_for(nbytes):
    """Seconds allowed for reading ``nbytes`` of HDF5 data in the child."""
    base = BASE_TIMEOUT
    env = os.environ.get("LSTM_NP_H5_TIMEOUT")
    if env:
        try:
            base = float(env)
        except ValueError:
            pass
    return base + nbytes / _BYTES_PER_SECOND


def _h5py():
    try:
        import h5py
    except ImportError:   # pragma: no cover
        raise MissingDependency("reading .keras and .h5 files needs h5py (pip install h5py)") \
            from None
    return h5py


@contextlib.contextmanager
def h5_root(source, where):
    """Yield the root group of the HDF5 ``source`` (a path or bytes): a snapshot read in a
    forked child when isolation is enabled, else an open ``h5py.File``."""
    h5py = _h5py()
    if hasattr(source, "read"):   # a file object: read it here (bounded), not in the child
        source = source.read(MAX_MEMBER_BYTES + 1)
        if len(source) > MAX_MEMBER_BYTES:
            raise LoadError(f"{where}: more than {MAX_MEMBER_BYTES} bytes")
        source = bytes(source)
    elif not isinstance(source, bytes):
        source = os.fspath(source)
    if not isolation_enabled():
        try:
            f = h5py.File(io.BytesIO(source) if isinstance(source, bytes) else source, "r")
        except Exception as exc:   # OSError, or h5py's own errors on a corrupt superblock
            raise LoadError(f"{where}: not a readable HDF5 file ({exc})") from None
        with f:
            yield f
        return
    yield _read_in_child(h5py, source, where)


# ----------------------------------------------------------------------------- child side
def _attr_value(value, arrays):
    """An h5py attribute value -> a JSON-able entry (numeric arrays go to ``arrays``)."""
    if isinstance(value, str):
        return ["str", value]
    if isinstance(value, bytes):   # also np.bytes_
        return ["bytes", bytes(value).decode("latin-1")]
    arr = np.asarray(value)
    if arr.dtype.kind == "O":
        items = arr.ravel().tolist()
        if all(isinstance(v, str) for v in items):
            return ["strarray", items, list(arr.shape)]
        if all(isinstance(v, bytes) for v in items):
            return ["bytesarray", [v.decode("latin-1") for v in items], list(arr.shape)]
        raise TypeError(f"attribute of unsupported type {arr.dtype}")
    if arr.dtype.kind == "S":
        return ["sarray", [v.decode("latin-1") for v in arr.ravel().tolist()],
                list(arr.shape), arr.dtype.str]
    if arr.dtype.hasobject:
        raise TypeError(f"attribute of unsupported type {arr.dtype}")
    key = f"a{len(arrays)}"
    arrays[key] = arr
    return ["raw", key]


def _snapshot(h5py, source):
    """Walk the file; return (manifest, arrays). Runs in the child."""
    f = h5py.File(io.BytesIO(source) if isinstance(source, bytes) else source, "r")
    nodes, arrays, seen = [], {}, {}
    total = [0]

    def attrs_of(obj):
        out = {}
        for name in obj.attrs.keys():
            if not _ATTR_NAMES.fullmatch(name):
                continue
            try:
                out[name] = _attr_value(obj.attrs[name], arrays)
            except Exception as exc:
                out[name] = ["error", f"{type(exc).__name__}: {exc}"]
        return out

    def visit(obj, depth):
        """Index of the node for ``obj`` (a hard-linked group or dataset)."""
        try:
            addr = h5py.h5o.get_info(obj.id).addr
        except Exception:
            addr = None
        if addr is not None and addr in seen:
            return seen[addr]
        if len(nodes) >= MAX_H5_OBJECTS:
            raise LoadError(f"more than {MAX_H5_OBJECTS} HDF5 objects")
        index = len(nodes)
        node = {"path": obj.name}
        nodes.append(node)
        if addr is not None:
            seen[addr] = index
        try:
            node["attrs"] = attrs_of(obj)
        except Exception as exc:
            node["attrs_error"] = f"{type(exc).__name__}: {exc}"
        if isinstance(obj, h5py.Dataset):
            node["kind"] = "dataset"
            try:
                arr = dataset_array(obj)
                total[0] += arr.nbytes
                if total[0] > MAX_MEMBER_BYTES:
                    raise LoadError(f"weights exceed {MAX_MEMBER_BYTES} bytes in all")
                key = f"a{len(arrays)}"
                arrays[key] = arr
                node["array"] = key
            except LoadError:
                raise
            except DatasetRefused as exc:
                node["error"] = str(exc)
            except Exception as exc:   # h5py errors
                node["error"] = (f"unreadable weight dataset {obj.name} "
                                 f"({type(exc).__name__}: {exc})")
            return index
        node["kind"] = "group"
        if depth > MAX_H5_DEPTH:
            node["error"] = f"groups nested deeper than {MAX_H5_DEPTH}"
            return index
        links = {}
        try:
            for k in obj.keys():
                if depth == 0 and k in _SKIP_TOP:
                    continue
                try:
                    link = obj.get(k, getlink=True)
                    if isinstance(link, h5py.SoftLink):
                        links[k] = {"soft": link.path}
                    elif isinstance(link, h5py.HardLink):
                        child = obj[k]
                        if isinstance(child, (h5py.Group, h5py.Dataset)):
                            links[k] = visit(child, depth + 1)
                        else:
                            links[k] = {"error": f"{k} is a named datatype"}
                    else:
                        links[k] = {"error": f"{k} is an external link (not followed)"}
                except LoadError:
                    raise
                except Exception as exc:
                    links[k] = {"error": f"{type(exc).__name__}: {exc}"}
        except LoadError:
            raise
        except Exception as exc:
            node["error"] = f"{type(exc).__name__}: {exc}"
        node["links"] = links
        return index

    with f:
        visit(f, 0)
    return {"nodes": nodes}, arrays


def _child(h5py, source, wfd):
    """Body of the forked child: write the snapshot to ``wfd``, then ``_exit``.

    Stream: ``<Q header length><Q payload length>``, the JSON header (the manifest, and
    ``dtype.str``, shape and offset of each array), then the arrays' raw bytes, each
    64-byte aligned. Nothing is pickled; the parent rebuilds numeric arrays only.
    """
    code = 0
    try:
        faulthandler.disable()   # a crash here is reported by the parent, not dumped twice
        try:
            manifest, arrays = _snapshot(h5py, source)
        except LoadError as exc:
            manifest, arrays = {"fatal": str(exc)}, {}
        except Exception as exc:
            manifest, arrays = {"fatal": f"not a readable HDF5 file ({exc})"}, {}
        index, offset, blobs = {}, 0, []
        for key, arr in arrays.items():
            arr = np.ascontiguousarray(arr)
            pad = -offset % 64
            if pad:
                blobs.append(b"\0" * pad)
                offset += pad
            index[key] = [arr.dtype.str, list(arr.shape), offset]
            blobs.append(memoryview(arr.reshape(-1)).cast("B") if arr.size else b"")
            offset += arr.nbytes
        head = json.dumps({"manifest": manifest, "arrays": index}).encode()
        blobs.insert(0, struct.pack("<QQ", len(head), offset) + head)
        for blob in blobs:
            view = memoryview(blob)
            while view:
                view = view[os.write(wfd, view[:2**24]):]
    except BaseException:   # noqa: BLE001 - the parent reports a missing/short result
        code = 3
    finally:
        os._exit(code)


# ---------------------------------------------------------------------------- parent side
_fork_lock = threading.Lock()


def _fork(h5py):
    """``os.fork`` holding h5py's global lock (so no other thread holds it in the child)."""
    try:
        from h5py._objects import phil
    except ImportError:   # pragma: no cover - h5py's lock moved
        phil = contextlib.nullcontext()
    with _fork_lock, phil, warnings.catch_warnings():
        # Python >= 3.12 warns when forking a multi-threaded process; the child only
        # reads the file with h5py / NumPy under the lock taken above, then _exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def _arrays(buf, start, index):
    """Views of ``buf`` for the arrays listed in ``index`` (numeric / bytes dtypes only)."""
    out = {}
    for key, (descr, shape, offset) in index.items():
        dtype = np.dtype(descr)
        if dtype.hasobject or dtype.kind not in "biufcSV":
            raise ValueError(f"dtype {descr} refused")
        count = int(np.prod(shape, dtype=np.int64))
        if start + offset + count * dtype.itemsize > len(buf):
            raise ValueError(f"array {key} exceeds the stream")
        out[key] = np.frombuffer(buf, dtype, count, start + offset).reshape(shape)
    return out


def _readable(fd, seconds):
    """Wait up to ``seconds`` for ``fd`` to be readable (poll: no FD_SETSIZE limit)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        return bool(poller.poll(seconds * 1000))
    return bool(select.select([fd], [], [], seconds)[0])


def _reap(pid):
    with contextlib.suppress(OSError):
        os.waitpid(pid, 0)


def _wait(pid, deadline):
    """The child's exit status, waiting until ``deadline`` at most (None: still running)."""
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except OSError:   # already reaped (e.g. a SIGCHLD handler of the application)
            return 0
        if done:
            return status
        if time.monotonic() > deadline:
            return None
        time.sleep(0.001)


def _read_in_child(h5py, source, where):
    nbytes = len(source) if isinstance(source, bytes) else os.path.getsize(source)
    limit = timeout_for(nbytes)
    rfd, wfd = os.pipe()
    try:
        pid = _fork(h5py)
    except OSError as exc:
        os.close(rfd)
        os.close(wfd)
        raise LoadError(f"{where}: cannot start the HDF5 reader process ({exc})") from None
    if pid == 0:   # the child
        os.close(rfd)
        _child(h5py, source, wfd)
    os.close(wfd)
    buf, got, status = bytearray(16), 0, None
    deadline = time.monotonic() + limit
    try:
        while got < len(buf):
            left = deadline - time.monotonic()
            if left <= 0:
                raise LoadError(f"{where}: reading the HDF5 data took longer than {limit:.0f} s "
                                f"(corrupt or hostile file; the reader process was stopped)")
            if not _readable(rfd, min(left, 1.0)):
                continue
            n = os.readv(rfd, [memoryview(buf)[got:got + 2**24]])
            if n == 0:   # the child exited early: report how
                status = _wait(pid, deadline)
                if status is not None and os.WIFSIGNALED(status):
                    raise LoadError(f"{where}: the HDF5 reader process died on this file "
                                    f"(signal {os.WTERMSIG(status)}; corrupt or hostile file)")
                raise LoadError(f"{where}: the HDF5 reader process failed on this file")
            got += n
            if got == 16 and len(buf) == 16:   # the lengths: now room for everything
                head_len, payload = struct.unpack("<QQ", buf)
                if head_len > 2 * MAX_JSON_BYTES or payload > 2 * MAX_MEMBER_BYTES:
                    raise LoadError(f"{where}: HDF5 content exceeds the size limits")
                full = bytearray(16 + head_len + payload)
                full[:16] = buf
                buf = full
    finally:
        os.close(rfd)
        if status is None:
            if got < len(buf):   # timed out or failed: stop it now
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            # the child is exiting; reap it without waiting for its teardown
            threading.Thread(target=_reap, args=(pid,), daemon=True).start()
    try:
        head = json.loads(bytes(memoryview(buf)[16:16 + head_len]).decode())
        manifest, arrays = head["manifest"], _arrays(buf, 16 + head_len, head["arrays"])
    except Exception as exc:   # pragma: no cover - the child wrote a malformed stream
        raise LoadError(f"{where}: malformed result from the HDF5 reader ({exc})") from None
    if "fatal" in manifest:
        raise LoadError(f"{where}: {manifest['fatal']}")
    return _Snapshot(manifest["nodes"], arrays, where).node(0)


# ------------------------------------------------------------------- the snapshot objects
class _Snapshot:
    def __init__(self, nodes, arrays, where):
        self.nodes, self.arrays, self.where = nodes, arrays, where

    def node(self, index, path=None):
        n = self.nodes[index]
        return (_Group if n["kind"] == "group" else _Dataset)(self, index, path or n["path"])

    def resolve(self, start, start_path, path, hops=0):
        """(node index, absolute path) at ``path`` from node ``start`` (None when absent)."""
        if hops > 16:
            raise LoadError(f"{self.where}: soft links nested too deeply at {path!r}")
        index, where = (0, "") if path.startswith("/") else (start, start_path.rstrip("/"))
        for part in path.split("/"):
            if part in ("", "."):
                continue
            node = self.nodes[index]
            if node["kind"] != "group":
                return None
            if "error" in node:
                raise LoadError(f"{self.where}: HDF5 group {where or '/'} is unreadable "
                                f"({node['error']})")
            link = node["links"].get(part)
            if link is None:
                return None
            if isinstance(link, dict):
                if "error" in link:
                    raise LoadError(f"{self.where}: {where}/{part}: {link['error']}")
                found = self.resolve(index, where or "/", link["soft"], hops + 1)
                if found is None:
                    return None
                link = found[0]
            index, where = link, f"{where}/{part}"
        return index, where or "/"


class _Attrs:
    def __init__(self, snap, index, name):
        self._snap, self._node, self._name = snap, snap.nodes[index], name

    def _table(self):
        if "attrs_error" in self._node:
            raise LoadError(f"{self._snap.where}: attributes of {self._name} are "
                            f"unreadable ({self._node['attrs_error']})")
        return self._node["attrs"]

    def __contains__(self, name):
        return name in self._table()

    def __getitem__(self, name):
        entry = self._table()[name]
        tag, value = entry[0], entry[1]
        if tag == "error":
            raise LoadError(f"{self._snap.where}: attribute {name!r} of {self._name} "
                            f"is unreadable ({value})")
        if tag == "str":
            return value
        if tag == "bytes":
            return np.bytes_(value.encode("latin-1"))
        if tag == "sarray":
            return np.array([v.encode("latin-1") for v in value],
                            dtype=np.dtype(entry[3])).reshape(entry[2])
        if tag in ("strarray", "bytesarray"):
            out = np.empty(len(value), dtype=object)
            for i, v in enumerate(value):
                out[i] = v if tag == "strarray" else v.encode("latin-1")
            return out.reshape(entry[2])
        return self._snap.arrays[value][()]

    def get(self, name, default=None):
        return self[name] if name in self else default

    def keys(self):
        return self._table().keys()


class _Object:
    def __init__(self, snap, index, name):
        self._snap, self._index, self.name = snap, index, name
        self.attrs = _Attrs(snap, index, name)


class _Group(_Object):
    def _links(self):
        node = self._snap.nodes[self._index]
        if "error" in node:
            raise LoadError(f"{self._snap.where}: HDF5 group {self.name} is unreadable "
                            f"({node['error']})")
        return node["links"]

    def keys(self):
        return list(self._links())

    def __iter__(self):
        return iter(self.keys())

    def __contains__(self, path):
        return (isinstance(path, str)
                and self._snap.resolve(self._index, self.name, path) is not None)

    def __getitem__(self, path):
        found = (self._snap.resolve(self._index, self.name, path) if isinstance(path, str)
                 else None)
        if found is None:
            raise KeyError(f"no object {path!r} in {self.name}")
        return self._snap.node(*found)

    def get(self, path, default=None):
        return self[path] if path in self else default


class _Dataset(_Object):
    def _snapshot_read(self, where):
        """The array (read and bounds-checked in the child), or the child's LoadError."""
        node = self._snap.nodes[self._index]
        if "error" in node:
            raise LoadError(f"{where}: {node['error']}")
        return self._snap.arrays[node["array"]]

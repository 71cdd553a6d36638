#!/usr/bin/python3
"""The Python conformance runtime: every contract of
e2e/conformance/manifest.yaml, as the manifest describes it.

Run it with Debian's Python (the one that has grpcio):

    ALTAR_HOST=127.0.0.1:50051 /usr/bin/python3 examples/python-runtime/conformance.py

Environment:
  ALTAR_HOST        the Host's gRPC address to dial (default 127.0.0.1:50051)
  ALTAR_RUNTIME_ID  the runtime id to announce (default conformance-python)
  ALTAR_PLUGIN      set to altar-runtime-v1 by a Host launching it as a
                    go-plugin plugin: it then serves instead of dialling
  ALTAR_API_KEY     a runtime key, when the Host requires one (dial mode)
  ALTAR_LOG_LEVEL   DEBUG, INFO, WARNING (default) or ERROR; logs go to stderr
"""

import hashlib
import logging
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from altar_runtime import Runtime, ToolError  # noqa: E402 pylint: disable=wrong-import-position

LANGUAGE = "python"

rt = Runtime("conformance-python")

_cancelled = []
_cancelled_mu = threading.Lock()

_KINDS = ((type(None), "null"), (bool, "bool"), (int, "int"), (float, "double"), (str, "string"),
          (bytes, "bytes"), (list, "array"), (dict, "object"))


def _kind(v):
    for t, name in _KINDS:  # bool before int: bool is an int
        if isinstance(v, t):
            return name
    return "unset"


@rt.tool("conformance.echo")
def echo(**args):
    """Return the arguments object exactly as received."""
    return args


@rt.tool("conformance.describe")
def describe(**args):
    """Report the kind of each argument present; bytes also with length and SHA-256."""
    out = {}
    for k, v in args.items():
        d = {"kind": _kind(v)}
        if isinstance(v, bytes):
            d["length"] = len(v)
            d["sha256"] = hashlib.sha256(v).hexdigest()
        out[k] = d
    return out


@rt.tool("conformance.sleep")
def sleep(ms, ctx, tag=""):
    """Wait ms milliseconds; stop early, recording the tag, when the call is
    cancelled (CANCELLED) or its deadline passes (DEADLINE_EXCEEDED)."""
    if ctx.wait(ms / 1000.0):
        with _cancelled_mu:
            _cancelled.append(tag)
        if ctx.reason == "deadline":
            raise ToolError("DEADLINE_EXCEEDED", f"conformance.sleep {tag!r} stopped at the call's deadline")
        raise ToolError("CANCELLED", f"conformance.sleep {tag!r} stopped: the call was cancelled")
    return {"slept_ms": ms}


@rt.tool("conformance.cancelled")
def cancelled():
    """The tags of the conformance.sleep calls seen cancelled, in order."""
    with _cancelled_mu:
        return {"tags": list(_cancelled)}


@rt.tool("conformance.fail")
def fail(message):
    """Always fail with the given message."""
    raise ToolError("TOOL_FAILED", message)


@rt.stream_tool("conformance.count")
def count(n, ctx, fail_at=None, delay_ms=0):
    """Stream the integers 0..n-1; chunk fail_at is instead an error that ends the stream."""
    for i in range(n):
        if delay_ms > 0 and ctx.wait(delay_ms / 1000.0):
            return
        if fail_at is not None and i == fail_at:
            raise ToolError("TOOL_FAILED", f"failed at {i}")
        yield i


@rt.tool("conformance.pid")
def pid():
    """The runtime's process id and language."""
    return {"pid": os.getpid(), "language": LANGUAGE}


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("ALTAR_LOG_LEVEL", "WARNING").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(rt.run())

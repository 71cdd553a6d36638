"""altar_runtime: write ALTAR tools in Python.

A runtime fulfils contracts the Host already trusts; it never defines them.
Declare each tool with a decorator naming the contract, then run::

    from altar_runtime import Runtime

    rt = Runtime("py-calc")

    @rt.tool("add")
    def add(a: float, b: float) -> float:
        return a + b

    @rt.stream_tool("count")
    def count(n: int, ctx):
        for i in range(n):
            if ctx.wait(0.1):        # stopped: cancelled or past the deadline
                return
            yield i

    rt.run()

``rt.run()`` serves as a go-plugin subprocess when the Host launched it so
(``ALTAR_PLUGIN=altar-runtime-v1``), else dials ``ALTAR_HOST`` (default
127.0.0.1:50051). See README.md next to this package.
"""

import logging

from .context import Context
from .errors import Cancelled, RefusedError, ToolError
from .runtime import (
    CAPABILITIES,
    PLUGIN_COOKIE_KEY,
    PLUGIN_COOKIE_VALUE,
    Runtime,
    __version__,
)
from .tool import Tool

# A library logs to its own logger and leaves the handlers to the program.
logging.getLogger("altar_runtime").addHandler(logging.NullHandler())

__all__ = [
    "CAPABILITIES",
    "Cancelled",
    "Context",
    "PLUGIN_COOKIE_KEY",
    "PLUGIN_COOKIE_VALUE",
    "RefusedError",
    "Runtime",
    "Tool",
    "ToolError",
    "__version__",
]

#!/usr/bin/python3
"""A Python runtime that fulfils manifests/calculator.yaml's add and subtract.

    ALTAR_HOST=127.0.0.1:50051 /usr/bin/python3 examples/python-runtime/calculator.py

The Host must have loaded manifests/calculator.yaml (``altar serve`` does by
default); the runtime only offers to fulfil those contracts, it never
defines them. Environment variables: see README.md.
"""

import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from altar_runtime import Runtime  # noqa: E402 pylint: disable=wrong-import-position

rt = Runtime("py-calc")


@rt.tool("add")
def add(a: float, b: float) -> float:
    """a + b"""
    return a + b


@rt.tool("subtract")
def subtract(a: float, b: float) -> float:
    """a - b"""
    return a - b


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("ALTAR_LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(rt.run())

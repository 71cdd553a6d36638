#!/usr/bin/python3
"""The runtime of flow_test.go: the contracts of testdata/flow.yaml.

    ALTAR_HOST=127.0.0.1:50051 /usr/bin/python3 examples/python-runtime/testdata/flow_runtime.py
"""

import logging
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from altar_runtime import Runtime  # noqa: E402 pylint: disable=wrong-import-position

rt = Runtime("py-flow")

_emitted = 0
_emitted_mu = threading.Lock()


@rt.stream_tool("pyflow.blobs")
def blobs(n, size):
    """Stream n strings of size "x"s, counting each once it was emitted."""
    global _emitted  # pylint: disable=global-statement
    blob = "x" * size
    for _ in range(n):
        yield blob  # returns once the chunk is on its way (or waits for credit)
        with _emitted_mu:
            _emitted += 1


@rt.tool("pyflow.emitted")
def emitted():
    """How many chunks of pyflow.blobs were emitted so far."""
    with _emitted_mu:
        return {"emitted": _emitted}


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("ALTAR_LOG_LEVEL", "WARNING").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(rt.run())

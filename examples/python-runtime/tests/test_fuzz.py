"""Randomized checks of what the runtime parses from the Host (a seeded
stand-in for a fuzz target: the Python side has no go test -fuzz)."""

import contextlib
import os
import random
import unittest
import warnings

from google.protobuf.message import DecodeError

from altar_runtime import values
from altar_runtime._proto import runtime_pb2, value_pb2

SEED = 20261125
ROUNDS = 2000


def random_value(rng, depth=0):
    kinds = ["null", "bool", "int", "double", "str", "bytes"]
    if depth < 4:
        kinds += ["list", "dict"]
    k = rng.choice(kinds)
    if k == "null":
        return None
    if k == "bool":
        return rng.random() < 0.5
    if k == "int":
        return rng.choice([0, -1, 1, (1 << 53) + 1, (1 << 63) - 1, -(1 << 63), rng.randint(-(1 << 63), (1 << 63) - 1)])
    if k == "double":
        return rng.choice([0.0, -0.0, 3.0, 1e300, 1e-7, rng.uniform(-1e9, 1e9)])
    if k == "str":
        return "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0xA0, 0xD7FF)])) for _ in range(rng.randint(0, 8)))
    if k == "bytes":
        return bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 16)))
    if k == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {f"k{i}": random_value(rng, depth + 1) for i in range(rng.randint(0, 4))}


def canon(x):
    """x with its kinds spelt out and object keys sorted, for comparing."""
    if isinstance(x, dict):
        return ("object", sorted((k, canon(v)) for k, v in x.items()))
    if isinstance(x, list):
        return ("array", [canon(v) for v in x])
    return (type(x).__name__, repr(x))


@contextlib.contextmanager
def quiet_stderr():
    """Silence the C++ protobuf parser's own log lines about bad input."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class Fuzz(unittest.TestCase):
    def test_random_values_round_trip_exactly(self):
        rng = random.Random(SEED)
        for _ in range(ROUNDS):
            x = random_value(rng)
            wire = values.from_python(x).SerializeToString()
            back = values.to_python(value_pb2.Value.FromString(wire))
            self.assertEqual(canon(back), canon(x))

    def test_random_bytes_never_crash_the_parser(self):
        rng = random.Random(SEED)
        seeds = [values.from_python(random_value(rng)).SerializeToString() for _ in range(50)]
        for _ in range(ROUNDS):
            b = bytearray(rng.choice(seeds))
            for _ in range(rng.randint(1, 4)):
                if b and rng.random() < 0.7:
                    b[rng.randrange(len(b))] = rng.randint(0, 255)
                else:
                    b.insert(rng.randint(0, len(b)), rng.randint(0, 255))
            try:
                with quiet_stderr():
                    v = value_pb2.Value.FromString(bytes(b))
            except DecodeError:
                continue
            try:
                values.to_python(v)
            except values.ConversionError:
                pass

    def test_random_host_messages_parse_or_fail_cleanly(self):
        rng = random.Random(SEED)
        for _ in range(ROUNDS):
            b = bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 64)))
            try:
                with quiet_stderr():
                    m = runtime_pb2.HostMessage.FromString(b)
            except DecodeError:
                continue
            m.WhichOneof("message")  # any parsed message has at most one kind


if __name__ == "__main__":
    unittest.main()

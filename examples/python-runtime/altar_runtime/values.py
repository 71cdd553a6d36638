"""Exact conversion between ``altar.v1.Value`` and Python values.

==================  =========================
Value kind          Python
==================  =========================
``null_value``      ``None``
``string_value``    ``str``
``int_value``       ``int`` (int64, exact)
``double_value``    ``float``
``bool_value``      ``bool``
``bytes_value``     ``bytes`` (raw, no base64)
``array_value``     ``list`` (``tuple`` accepted)
``object_value``    ``dict`` with ``str`` keys
==================  =========================

``3`` and ``3.0`` stay different values both ways, an ``int`` outside the
int64 range is refused rather than rounded, and an object key holding
``None`` is kept apart from a missing key. Nesting is bounded by
``MAX_DEPTH`` in both directions (a result that refers to itself would
otherwise recurse without end).
"""

from ._proto import value_pb2

MAX_DEPTH = 100
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

Value = value_pb2.Value


class ConversionError(ValueError):
    """A value that has no exact counterpart; ``path`` is a JSON pointer to it."""

    def __init__(self, path, message):
        super().__init__(f"{path or '/'}: {message}")
        self.path = path or "/"
        self.reason = message


def to_python(v, path="", depth=0):
    """Return the Python value of an ``altar.v1.Value``."""
    if depth > MAX_DEPTH:
        raise ConversionError(path, f"nested deeper than {MAX_DEPTH} levels")
    kind = v.WhichOneof("kind")
    if kind == "null_value":
        return None
    if kind == "string_value":
        return v.string_value
    if kind == "int_value":
        return v.int_value
    if kind == "double_value":
        return v.double_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "bytes_value":
        return v.bytes_value
    if kind == "array_value":
        return [to_python(item, f"{path}/{i}", depth + 1) for i, item in enumerate(v.array_value.items)]
    if kind == "object_value":
        return fields_to_python(v.object_value.fields, path, depth + 1)
    raise ConversionError(path, "a Value with no kind set")


def fields_to_python(fields, path="", depth=0):
    """Return a dict of the Python values of a ``map<string, Value>``."""
    return {k: to_python(item, f"{path}/{_escape(k)}", depth) for k, item in fields.items()}


def from_python(x, path="", depth=0):
    """Return the ``altar.v1.Value`` of a Python value."""
    v = Value()
    _fill(v, x, path, depth)
    return v


def _fill(v, x, path, depth):
    if depth > MAX_DEPTH:
        raise ConversionError(path, f"nested deeper than {MAX_DEPTH} levels")
    # bool before int: bool is a subclass of int.
    if x is None:
        v.null_value = 0
    elif isinstance(x, bool):
        v.bool_value = x
    elif isinstance(x, int):
        if not INT64_MIN <= x <= INT64_MAX:
            raise ConversionError(path, f"integer {x} is outside the int64 range")
        v.int_value = x
    elif isinstance(x, float):
        v.double_value = x
    elif isinstance(x, str):
        v.string_value = x
    elif isinstance(x, (bytes, bytearray, memoryview)):
        v.bytes_value = bytes(x)
    elif isinstance(x, (list, tuple)):
        items = v.array_value.items
        v.array_value.SetInParent()
        for i, item in enumerate(x):
            _fill(items.add(), item, f"{path}/{i}", depth + 1)
    elif isinstance(x, dict):
        fields = v.object_value.fields
        v.object_value.SetInParent()
        for k, item in x.items():
            if not isinstance(k, str):
                raise ConversionError(path, f"object key {k!r} is a {type(k).__name__}, not a str")
            _fill(fields[k], item, f"{path}/{_escape(k)}", depth + 1)
    elif isinstance(x, Value):
        v.CopyFrom(x)
    else:
        raise ConversionError(path, f"a {type(x).__name__} has no ALTAR Value kind")


def _escape(key):
    """Escape an object key for a JSON pointer (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")

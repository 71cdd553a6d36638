"""Value <-> Python conversion: exact both ways, bounded."""

import math
import unittest

from altar_runtime import values
from altar_runtime._proto import value_pb2


class RoundTrip(unittest.TestCase):
    CASES = [
        ("null", None, "null_value"),
        ("true", True, "bool_value"),
        ("false", False, "bool_value"),
        ("int", 3, "int_value"),
        ("double that is whole", 3.0, "double_value"),
        ("int64 max", (1 << 63) - 1, "int_value"),
        ("int64 min", -(1 << 63), "int_value"),
        ("beyond 2^53", (1 << 53) + 1, "int_value"),
        ("negative zero", -0.0, "double_value"),
        ("string", "Oslo", "string_value"),
        ("empty bytes", b"", "bytes_value"),
        ("bytes", b"\x00\xff\x10", "bytes_value"),
        ("empty list", [], "array_value"),
        ("empty dict", {}, "object_value"),
        ("nested", {"a": [1, 2.5, None, {"b": b"x"}], "null": None}, "object_value"),
    ]

    def test_round_trip_keeps_kind_and_value(self):
        for name, x, kind in self.CASES:
            with self.subTest(name):
                v = values.from_python(x)
                self.assertEqual(v.WhichOneof("kind"), kind)
                back = values.to_python(value_pb2.Value.FromString(v.SerializeToString()))
                self.assertEqual(back, x)
                self.assertIs(type(back), type(x))

    def test_negative_zero_keeps_its_sign(self):
        self.assertEqual(math.copysign(1, values.to_python(values.from_python(-0.0))), -1)

    def test_tuple_and_bytearray_are_accepted(self):
        self.assertEqual(values.to_python(values.from_python((1, bytearray(b"ab")))), [1, b"ab"])

    def test_null_and_missing_stay_apart(self):
        v = values.from_python({"present": None})
        self.assertIn("present", v.object_value.fields)
        self.assertNotIn("absent", values.fields_to_python(v.object_value.fields))


class Refusals(unittest.TestCase):
    def test_refused_values_name_the_path(self):
        cases = [
            ("beyond int64", {"a": [1 << 63]}, "/a/0"),
            ("below int64", -(1 << 63) - 1, "/"),
            ("not a str key", {"a": {1: 2}}, "/a"),
            ("no kind", {"x": {1, 2}}, "/x"),
            ("escaped key", {"a/b": object()}, "/a~1b"),
        ]
        for name, x, path in cases:
            with self.subTest(name):
                with self.assertRaises(values.ConversionError) as cm:
                    values.from_python(x)
                self.assertEqual(cm.exception.path, path)

    def test_self_reference_is_bounded(self):
        x = []
        x.append(x)
        with self.assertRaises(values.ConversionError):
            values.from_python(x)

    def test_unset_value_is_refused(self):
        with self.assertRaises(values.ConversionError):
            values.to_python(value_pb2.Value())

    def test_deep_wire_value_is_bounded(self):
        v = value_pb2.Value(null_value=0)
        for _ in range(values.MAX_DEPTH + 5):
            outer = value_pb2.Value()
            outer.array_value.items.append(v)
            v = outer
        with self.assertRaises(values.ConversionError):
            values.to_python(v)


if __name__ == "__main__":
    unittest.main()

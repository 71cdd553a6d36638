"""One call's execution: results, chunks, and how failures are answered."""

import threading
import time
import unittest

from altar_runtime import Runtime, ToolError, values
from altar_runtime import tool as tooling
from altar_runtime.context import CANCELLED, Context
from altar_runtime._proto import invocation_pb2

SUCCESS, ERROR = tooling.SUCCESS, tooling.ERROR


def call(name, stream=False, deadline=None, **args):
    c = invocation_pb2.ToolCall(invocation_id="inv-1", correlation_id="corr-1", tool_name=name, stream=stream, attempt=1)
    for k, v in args.items():
        c.parameters[k].CopyFrom(values.from_python(v))
    if deadline is not None:
        c.deadline.FromNanoseconds(int(deadline * 1e9))
    return c


def tools():
    rt = Runtime("t")

    @rt.tool("add")
    def add(a, b=1):
        return a + b

    @rt.tool("args")
    def args(**kw):
        return kw

    @rt.tool("boom")
    def boom():
        raise KeyError("no such thing")

    @rt.tool("refuse")
    def refuse():
        raise ToolError("PERMISSION_DENIED", "not you", details={"who": "x"})

    @rt.tool("bad_result")
    def bad_result():
        return object()

    @rt.tool("wait")
    def wait(ctx):
        ctx.wait()
        ctx.check()

    @rt.stream_tool("count")
    def count(n, ctx, fail_at=None):
        for i in range(n):
            if i == fail_at:
                raise ToolError("TOOL_FAILED", f"failed at {i}")
            yield i

    return rt.tools


class Invoke(unittest.TestCase):
    def setUp(self):
        self.tools = tools()

    def invoke(self, c):
        return tooling.invoke(self.tools.get(c.tool_name), c, Context(c))

    def test_answers(self):
        cases = [
            ("result", call("add", a=2, b=3), SUCCESS, 5, None),
            ("default for a missing argument", call("add", a=2), SUCCESS, 3, None),
            ("kwargs see null and missing apart", call("args", x=None), SUCCESS, {"x": None}, None),
            ("stream tool called unary", call("count", n=3), SUCCESS, [0, 1, 2], None),
            ("an exception is TOOL_FAILED", call("boom"), ERROR, None, ("ERROR_CODE_TOOL_FAILED", "'no such thing'")),
            ("a ToolError keeps its code", call("refuse"), ERROR, None, ("ERROR_CODE_PERMISSION_DENIED", "not you")),
            ("a result with no Value kind", call("bad_result"), ERROR, None, ("ERROR_CODE_INVALID_RESULT", None)),
            ("a missing required argument", call("add", b=1), ERROR, None, ("ERROR_CODE_INVALID_ARGUMENTS", None)),
            ("an unknown argument", call("add", a=1, c=2), ERROR, None, ("ERROR_CODE_INVALID_ARGUMENTS", None)),
            ("an unknown tool", call("nope"), ERROR, None, ("ERROR_CODE_TOOL_NOT_FOUND", None)),
        ]
        for name, c, status, payload, err in cases:
            with self.subTest(name):
                res = self.invoke(c)
                self.assertEqual(res.status, status, res)
                self.assertEqual((res.invocation_id, res.correlation_id), ("inv-1", "corr-1"))
                if status == SUCCESS:
                    self.assertEqual(values.to_python(res.payload), payload)
                else:
                    self.assertEqual(invocation_pb2.ToolResult.DESCRIPTOR.fields_by_name["error"].message_type
                                     .fields_by_name["code"].enum_type.values_by_number[res.error.code].name, err[0])
                    if err[1] is not None:
                        self.assertEqual(res.error.message, err[1])
                    self.assertEqual(res.error.invocation_id, "inv-1")

    def test_invalid_arguments_name_each_field(self):
        res = self.invoke(call("add", b=1, c=2))
        self.assertEqual(sorted((f.path, f.rule) for f in res.error.field_errors),
                         [("/a", "required"), ("/c", "additional_properties")])

    def test_deadline_is_deadline_exceeded(self):
        c = call("wait", deadline=time.time() + 0.05)
        res = self.invoke(c)
        self.assertEqual(res.error.code, 302)  # DEADLINE_EXCEEDED

    def test_cancel_is_cancelled(self):
        c = call("wait")
        ctx = Context(c)
        threading.Timer(0.01, ctx._stop, args=(CANCELLED, "test")).start()
        res = tooling.invoke(self.tools["wait"], c, ctx)
        self.assertEqual(res.error.code, 303)  # CANCELLED
        self.assertIn("test", res.error.message)


class Stream(unittest.TestCase):
    def setUp(self):
        self.tools = tools()

    def stream(self, c, ctx=None, accept=lambda chunk: True):
        chunks = []

        def send(chunk, final):
            chunks.append(chunk)
            return accept(chunk)
        tooling.stream(self.tools.get(c.tool_name), c, ctx or Context(c), send)
        return chunks

    def test_chunks(self):
        chunks = self.stream(call("count", stream=True, n=3))
        self.assertEqual([c.chunk_id for c in chunks], [1, 2, 3, 4])
        self.assertEqual([values.to_python(c.payload) for c in chunks[:3]], [0, 1, 2])
        self.assertTrue(chunks[-1].is_final)
        self.assertFalse(chunks[-1].HasField("payload"))

    def test_error_chunk_ends_the_stream(self):
        chunks = self.stream(call("count", stream=True, n=10, fail_at=5))
        self.assertEqual(len(chunks), 6)
        self.assertEqual((chunks[-1].chunk_id, chunks[-1].is_final, chunks[-1].error.message), (6, True, "failed at 5"))

    def test_unary_tool_streamed_is_one_final_chunk(self):
        chunks = self.stream(call("add", stream=True, a=1, b=2))
        self.assertEqual(len(chunks), 1)
        self.assertEqual((chunks[0].chunk_id, chunks[0].is_final, values.to_python(chunks[0].payload)), (1, True, 3))

    def test_cancel_stops_at_the_next_yield(self):
        c = call("count", stream=True, n=1000)
        ctx = Context(c)

        def accept(chunk):
            if chunk.chunk_id == 3:
                ctx._stop(CANCELLED, "enough")
            return True
        chunks = self.stream(c, ctx, accept)
        self.assertEqual(len(chunks), 4)
        self.assertEqual((chunks[-1].chunk_id, chunks[-1].error.code), (4, 303))


if __name__ == "__main__":
    unittest.main()

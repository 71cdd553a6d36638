"""Flow control: a streaming call's window (ToolCall.stream_window) and the
Host's StreamCredit, against the scripted Host of test_protocol.

A stream tool here counts what it produced, so a test can tell that the
emitter is holding chunk window+1 and waiting, not merely slow to send.
"""

import queue
import threading
import time
import unittest

from altar_runtime import Runtime, ToolError, values
from altar_runtime import session as sessions
from altar_runtime._proto import error_pb2, invocation_pb2

from tests.test_protocol import TIMEOUT, FakeHost

# How long a test watches for a chunk that must not come.
QUIET = 0.3


class Counting:
    """The tools of these tests; ``produced`` counts the items the stream
    tool has yielded (the emitter holds the last one until it is sent)."""

    def __init__(self):
        self.rt = Runtime("flow-test")
        self.produced = 0
        self._mu = threading.Lock()

        @self.rt.stream_tool("count")
        def count(n, fail_at=None):
            for i in range(n):
                if fail_at is not None and i == fail_at:
                    raise ToolError("TOOL_FAILED", f"failed at {i}")
                with self._mu:
                    self.produced += 1
                yield i

        @self.rt.tool("echo")
        def echo(**args):
            return args

        self.rt._start_pool()

    def count(self):
        with self._mu:
            return self.produced


class FlowControl(unittest.TestCase):
    def setUp(self):
        self.tools = Counting()
        self.host = FakeHost(self.tools.rt)
        self.host.bootstrap(["count", "echo"])

    def tearDown(self):
        self.host.close()
        self.tools.rt._stop_pool()

    # --- driving the scripted Host ------------------------------------------

    def stream(self, iid, window, deadline=None, **args):
        c = invocation_pb2.ToolCall(invocation_id=iid, correlation_id="c-" + iid, tool_name="count", stream=True,
                                    attempt=1, stream_window=window)
        for k, v in args.items():
            c.parameters[k].CopyFrom(values.from_python(v))
        if deadline is not None:
            c.deadline.FromNanoseconds(int(deadline * 1e9))
        self.host.send(correlation_id=c.correlation_id, tool_call=c)

    def credit(self, iid, n):
        self.host.send(correlation_id="c-" + iid, stream_credit=invocation_pb2.StreamCredit(invocation_id=iid, chunks=n))

    def chunks(self, n):
        """The next n chunks."""
        return [self.host.expect("stream_chunk").stream_chunk for _ in range(n)]

    def assert_quiet(self):
        """Nothing but heartbeats arrives for QUIET seconds."""
        end = time.monotonic() + QUIET
        while (left := end - time.monotonic()) > 0:
            try:
                m = self.host.sent.get(timeout=left)
            except queue.Empty:
                return
            if m is None or m.WhichOneof("message") != "heartbeat":
                self.fail(f"the runtime sent {m} while it had no room")

    def assert_holding(self, n):
        """The tool has produced exactly n items: the emitter holds the
        last one (the window allows no more to be sent)."""
        deadline = time.monotonic() + TIMEOUT
        while self.tools.count() < n and time.monotonic() < deadline:
            time.sleep(0.005)
        self.assertEqual(self.tools.count(), n)

    def wait_forgotten(self, iid):
        deadline = time.monotonic() + TIMEOUT
        while iid in self.host.s._windows or iid in self.host.s._active:
            if time.monotonic() > deadline:
                self.fail(f"call {iid}'s window is still kept after its stream ended")
            time.sleep(0.005)

    # --- the tests ------------------------------------------------------------

    def test_the_emitter_stops_at_the_window_until_credit_arrives(self):
        self.stream("s", 4, n=10)
        self.assertEqual([c.chunk_id for c in self.chunks(4)], [1, 2, 3, 4])
        self.assert_quiet()
        # The fifth item is produced and its emitter waits for room.
        self.assert_holding(5)
        self.assertEqual(self.host.s._windows["s"].room, 0)

        self.credit("s", 3)
        got = self.chunks(3)
        self.assertEqual([(c.chunk_id, c.payload.int_value) for c in got], [(5, 4), (6, 5), (7, 6)])
        self.assert_quiet()
        self.assert_holding(8)

        self.credit("s", 64)
        got = self.chunks(4)
        self.assertEqual([c.chunk_id for c in got], [8, 9, 10, 11])
        self.assertTrue(got[-1].is_final)
        self.assertFalse(got[-1].HasField("error") or got[-1].HasField("payload"))
        self.wait_forgotten("s")

    def test_the_final_chunk_needs_no_credit(self):
        self.stream("s", 3, n=3)
        got = self.chunks(4)
        self.assertEqual([c.chunk_id for c in got], [1, 2, 3, 4])
        self.assertTrue(got[-1].is_final)
        self.assertFalse(got[-1].HasField("error"))
        self.wait_forgotten("s")
        # A credit for a stream that ended is ignored; the session goes on.
        self.credit("s", 8)
        self.host.call("e", "echo")
        self.assertEqual(self.host.expect("tool_result").tool_result.invocation_id, "e")

    def test_an_error_chunk_needs_no_credit(self):
        self.stream("s", 2, n=10, fail_at=2)
        got = self.chunks(3)
        self.assertEqual([c.chunk_id for c in got], [1, 2, 3])
        self.assertTrue(got[-1].is_final)
        self.assertEqual((got[-1].error.code, got[-1].error.message), (error_pb2.ERROR_CODE_TOOL_FAILED, "failed at 2"))
        self.wait_forgotten("s")

    def test_cancellation_ends_a_wait_for_credit(self):
        self.stream("s", 2, n=100)
        self.chunks(2)
        self.assert_quiet()
        self.assert_holding(3)
        self.host.send(cancel_invocation=invocation_pb2.CancelInvocation(invocation_id="s", reason="test"))
        final = self.host.expect("stream_chunk").stream_chunk
        self.assertEqual((final.chunk_id, final.is_final, final.error.code), (3, True, error_pb2.ERROR_CODE_CANCELLED))
        self.assertEqual(self.tools.count(), 3)
        self.wait_forgotten("s")

    def test_the_deadline_ends_a_wait_for_credit(self):
        self.stream("s", 2, n=100, deadline=time.time() + 2 * QUIET)
        self.chunks(2)
        final = self.host.expect("stream_chunk").stream_chunk
        self.assertEqual((final.chunk_id, final.is_final, final.error.code),
                         (3, True, error_pb2.ERROR_CODE_DEADLINE_EXCEEDED))
        self.wait_forgotten("s")

    def test_a_lost_connection_ends_a_wait_for_credit(self):
        self.stream("s", 1, n=100)
        self.chunks(1)
        self.assert_quiet()
        self.assert_holding(2)
        self.host.close()
        self.wait_forgotten("s")
        self.assertEqual(self.tools.count(), 2)

    def test_streams_have_windows_of_their_own(self):
        self.stream("a", 2, n=100)
        self.stream("b", 2, n=3)
        got = {}
        for _ in range(6):  # a's two; b's three and its final chunk, b credited one at its second
            c = self.host.expect("stream_chunk").stream_chunk
            got.setdefault(c.invocation_id, []).append(c.chunk_id)
            if c.invocation_id == "b" and c.chunk_id == 2:
                self.credit("b", 1)
        self.assertEqual(got, {"a": [1, 2], "b": [1, 2, 3, 4]})
        self.assert_quiet()
        self.host.call("e", "echo")  # a unary call beside the stalled stream
        self.assertEqual(self.host.expect("tool_result").tool_result.invocation_id, "e")
        self.host.send(cancel_invocation=invocation_pb2.CancelInvocation(invocation_id="a"))
        self.assertEqual(self.host.expect("stream_chunk").stream_chunk.error.code, error_pb2.ERROR_CODE_CANCELLED)

    def test_without_a_window_the_stream_sends_freely(self):
        self.stream("s", 0, n=200)
        got = self.chunks(201)
        self.assertEqual([c.chunk_id for c in got], list(range(1, 202)))
        self.assertTrue(got[-1].is_final)
        self.assertNotIn("s", self.host.s._windows)


class Announcement(unittest.TestCase):
    def test_flow_control_is_declared(self):
        rt = Runtime("flow-test")
        self.assertIn("flow_control", rt.announcement().capabilities)


class Window(unittest.TestCase):
    def test_take_uses_the_room_then_waits_for_credit(self):
        w = sessions._Window(2)
        self.assertTrue(w.take(lambda: False))
        self.assertTrue(w.take(lambda: False))
        took = threading.Event()
        t = threading.Thread(target=lambda: w.take(lambda: False) and took.set())
        t.start()
        self.assertFalse(took.wait(QUIET))
        w.add(1)
        t.join(TIMEOUT)
        self.assertTrue(took.is_set())
        self.assertEqual(w.room, 0)

    def test_stopped_ends_the_wait(self):
        w = sessions._Window(0)
        stop = threading.Event()
        result = []
        t = threading.Thread(target=lambda: result.append(w.take(stop.is_set)))
        t.start()
        stop.set()
        t.join(TIMEOUT)
        self.assertEqual(result, [False])
        self.assertEqual(w.room, 0)

    def test_room_is_bounded(self):
        w = sessions._Window(2**32 - 2)
        w.add(2**32 - 1)
        self.assertEqual(w.room, 2**32 - 1)


if __name__ == "__main__":
    unittest.main()

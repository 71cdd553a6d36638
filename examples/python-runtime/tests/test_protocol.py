"""The runtime protocol on one stream, against a scripted Host.

The Host here is a fake (queues standing in for the stream) so that the
runtime's side can be driven message by message; the Go tests next to this
folder run the same code against the real Host over gRPC.
"""

import queue
import threading
import unittest

from altar_runtime import Runtime
from altar_runtime import session as sessions
from altar_runtime._proto import contract_pb2, invocation_pb2, runtime_pb2

TIMEOUT = 10.0  # bounds every wait for the runtime


class FakeHost:
    """Drives a Session: feeds HostMessages, collects RuntimeMessages."""

    def __init__(self, rt):
        self.s = sessions.Session(rt)
        self.inbox = queue.Queue()
        self.sent = queue.Queue()
        self.ended = threading.Event()
        self.reason = None
        self._threads = [threading.Thread(target=self._pull, daemon=True), threading.Thread(target=self._run, daemon=True)]
        for t in self._threads:
            t.start()

    def _incoming(self):
        while True:
            m = self.inbox.get()
            if m is None:
                return
            yield m

    def _pull(self):
        for m in self.s.outgoing():
            self.sent.put(m)
        self.sent.put(None)  # the runtime half-closed

    def _run(self):
        try:
            self.reason = self.s.run(self._incoming(), lambda: self.inbox.put(None))
        except Exception as e:  # pylint: disable=broad-except
            self.reason = e
        self.ended.set()

    def send(self, **kw):
        self.inbox.put(runtime_pb2.HostMessage(**kw))

    def expect(self, kind):
        """The next message of that kind, skipping heartbeats."""
        while True:
            m = self.sent.get(timeout=TIMEOUT)
            if m is None:
                raise AssertionError(f"the runtime closed the stream; wanted {kind}")
            if m.WhichOneof("message") == kind:
                return m
            if m.WhichOneof("message") != "heartbeat":
                raise AssertionError(f"got {m.WhichOneof('message')}, wanted {kind}")

    def bootstrap(self, offered, heartbeat_ms=50, silence_ms=30_000):
        """Answer the bootstrap; the runtime heartbeats every heartbeat_ms
        and drops a Host silent for silence_ms."""
        self.expect("announce")
        resp = runtime_pb2.AnnounceRuntimeResponse(accepted=True, host_id="fake", protocol_version="1.0",
                                                   host_mode=contract_pb2.HOST_MODE_STRICT)
        resp.heartbeat_interval.FromMilliseconds(heartbeat_ms)
        resp.heartbeat_timeout.FromMilliseconds(silence_ms)
        self.send(announce_response=resp)
        self.expect("get_available_contracts")
        self.send(available_contracts=runtime_pb2.AvailableContracts(
            contracts=[contract_pb2.ToolContract(name=n, version="1.0.0") for n in offered]))
        return self.expect("fulfill_tools")

    def call(self, iid, tool, stream=False):
        self.send(correlation_id="c-" + iid, tool_call=invocation_pb2.ToolCall(
            invocation_id=iid, correlation_id="c-" + iid, tool_name=tool, stream=stream, attempt=1))

    def close(self):
        self.inbox.put(None)
        self.ended.wait(TIMEOUT)


def blocking_runtime(**kw):
    rt = Runtime("proto-test", **kw)
    started = queue.Queue()

    @rt.tool("block")
    def block(ctx):
        started.put(ctx.invocation_id)
        ctx.wait()
        ctx.check()

    @rt.tool("echo")
    def echo(**args):
        return args

    @rt.tool("not_offered")
    def not_offered():
        return None

    rt._start_pool()
    return rt, started


class Protocol(unittest.TestCase):
    def setUp(self):
        self.rt, self.started = blocking_runtime(max_concurrency=2)
        self.host = FakeHost(self.rt)

    def tearDown(self):
        self.host.close()
        self.rt._stop_pool()

    def test_bootstrap_fulfils_only_what_the_host_offered(self):
        m = self.host.bootstrap(["block", "echo"])
        self.assertEqual(m.correlation_id, self.host.s.prefix + "-fulfill")
        self.assertEqual([t.contract_name for t in m.fulfill_tools.tools], ["block", "echo"])

    def test_announcement(self):
        a = self.host.expect("announce").announce
        self.assertEqual((a.runtime_id, a.language, a.protocol_version, a.compliance_level, a.max_concurrency),
                         ("proto-test", "python", "1.0", contract_pb2.COMPLIANCE_LEVEL_2, 2))
        self.assertIn("binary_payloads", a.capabilities)

    def test_calls_beyond_max_concurrency_are_refused_with_a_retry_hint(self):
        self.host.bootstrap(["block"])
        for iid in ("a", "b"):
            self.host.call(iid, "block")
            self.started.get(timeout=TIMEOUT)
        self.host.call("c", "block")
        r = self.host.expect("tool_result").tool_result
        self.assertEqual((r.invocation_id, r.error.code, r.error.retry_after_ms), ("c", 304, 100))
        self.assertEqual(r.error.details["limit"], "max_concurrency")
        for iid in ("a", "b"):
            self.host.send(cancel_invocation=invocation_pb2.CancelInvocation(invocation_id=iid, reason="test"))
        got = {}
        for _ in range(2):
            r = self.host.expect("tool_result").tool_result
            got[r.invocation_id] = r.error.code
        self.assertEqual(got, {"a": 303, "b": 303})

    def test_a_repeated_invocation_id_is_not_run_twice(self):
        self.host.bootstrap(["block", "echo"])
        self.host.call("a", "block")
        self.started.get(timeout=TIMEOUT)
        self.host.call("a", "block")
        self.host.call("e", "echo")
        self.assertEqual(self.host.expect("tool_result").tool_result.invocation_id, "e")
        self.assertTrue(self.started.empty())

    def test_heartbeats_count_up_and_report_calls_in_flight(self):
        self.host.bootstrap(["block"])
        self.host.call("a", "block")
        self.started.get(timeout=TIMEOUT)
        seqs = []
        while len(seqs) < 3:
            m = self.host.sent.get(timeout=TIMEOUT)
            if m.WhichOneof("message") == "heartbeat":
                seqs.append((m.heartbeat.sequence, m.heartbeat.in_flight))
                self.host.send(heartbeat=runtime_pb2.Heartbeat(sequence=len(seqs)))
        self.assertEqual([s for s, _ in seqs], [seqs[0][0], seqs[0][0] + 1, seqs[0][0] + 2])
        self.assertEqual(seqs[-1][1], 1)

    def test_drain_refuses_new_calls_and_closes_after_the_last_answer(self):
        self.host.bootstrap(["block", "echo"])
        self.host.call("a", "block")
        self.started.get(timeout=TIMEOUT)
        self.host.send(drain=runtime_pb2.Drain(reason="test"))
        self.host.call("late", "echo")
        r = self.host.expect("tool_result").tool_result
        self.assertEqual((r.invocation_id, r.error.code), ("late", 301))  # RUNTIME_UNAVAILABLE
        self.host.send(cancel_invocation=invocation_pb2.CancelInvocation(invocation_id="a"))
        self.assertEqual(self.host.expect("tool_result").tool_result.invocation_id, "a")
        while True:  # then the runtime half-closes
            m = self.host.sent.get(timeout=TIMEOUT)
            if m is None:
                break
            self.assertEqual(m.WhichOneof("message"), "heartbeat")

    def test_a_silent_host_is_dropped(self):
        self.host.bootstrap(["block"], heartbeat_ms=20, silence_ms=60)
        self.assertTrue(self.host.ended.wait(TIMEOUT))
        self.assertIn("heartbeat timeout", str(self.host.reason))

    def test_a_refusal_ends_the_session(self):
        self.host.expect("announce")
        self.host.send(announce_response=runtime_pb2.AnnounceRuntimeResponse(
            accepted=False, error={"code": 402, "message": "speaks 2.0"}))
        self.assertTrue(self.host.ended.wait(TIMEOUT))
        self.assertEqual(getattr(self.host.reason, "code", None), 402)
        self.assertFalse(self.host.reason.retryable)


if __name__ == "__main__":
    unittest.main()

"""One connection to the Host: the runtime protocol over one stream,
whichever side dialled (plugins/sdk/session.go is the reference).

A Session is handed the stream's two directions: ``outgoing()`` is the
generator of RuntimeMessages gRPC sends (the request iterator of
``RuntimeService.Connect`` in dial mode, the response iterator of
``PluginService.Connect`` in plugin mode), and ``run(incoming, abort)``
reads HostMessages until the stream ends. ``abort`` ends the RPC (the
call's or the server context's ``cancel``).

Threads, and who stops them: ``run`` (the caller's thread) owns the
session; it starts the heartbeat thread and stops it before returning. Each
call runs on the runtime's bounded thread pool and is stopped (its Context)
when the Host cancels it, its deadline passes, or the session ends. gRPC's
own thread pulls ``outgoing()``, which returns once the session is closed.

Flow control (the ``flow_control`` capability): a streaming call with a
``stream_window`` gets a _Window; its chunk emitter takes one unit of room
per chunk and waits, on the call's thread, while there is none. The Host's
``StreamCredit`` gives room back as its reader takes chunks, so a client
that reads slowly holds back its own stream only, never the send queue the
other calls share.
"""

import collections
import logging
import secrets
import threading
import time

from . import tool as tooling
from ._proto import runtime_pb2
from .context import CANCELLED, CONNECTION_LOST, Context
from .errors import RefusedError, ToolError, code_name

log = logging.getLogger("altar_runtime")

PROTOCOL_VERSION = "1.0"
# Bounds the wait for AnnounceRuntimeResponse.
ANNOUNCE_TIMEOUT = 30.0
# Used when the Host gives no heartbeat_interval.
DEFAULT_HEARTBEAT_INTERVAL = 10.0
# Heartbeat intervals of silence that make the Host gone, when it gives no
# heartbeat_timeout.
SILENT_INTERVALS = 3
# Used when a Drain has no grace_period; how long after it the runtime still
# waits for the Host to close a drained stream.
DEFAULT_DRAIN_GRACE = 30.0
DRAIN_SLACK = 5.0
# Retry hint of a call refused at max_concurrency.
BUSY_RETRY_AFTER_MS = 100
# Bounds the results and chunks waiting to be sent: a slow Host holds back
# the tools (a stream tool blocks in its yield) instead of growing memory.
SEND_QUEUE = 256
# Bounds the control messages (bootstrap, heartbeats, withdraw) waiting; a
# heartbeat beyond it is dropped (a newer one follows).
CTRL_QUEUE = 16
# How often a blocked sender looks whether its call was stopped.
_POLL = 0.1
# Bounds a stream's window however much the Host credits (it is a uint32).
_MAX_ROOM = 2**32 - 1

_CLOSE_SEND = object()


class _Outbox:
    """The messages waiting for gRPC to send them: control messages
    (heartbeats, bootstrap) go before queued results and chunks, so that a
    slow reader of one stream cannot starve the heartbeats."""

    def __init__(self):
        self._cv = threading.Condition()
        self._ctrl = collections.deque()
        self._data = collections.deque()
        self._closed = False

    def put_ctrl(self, m):
        with self._cv:
            if self._closed or len(self._ctrl) >= CTRL_QUEUE:
                return False
            self._ctrl.append(m)
            self._cv.notify_all()
            return True

    def put_data(self, m, stopped):
        """Queue m, waiting while the queue is full; False when the outbox
        closed or stopped() became true first."""
        with self._cv:
            while not self._closed and len(self._data) >= SEND_QUEUE:
                if stopped():
                    return False
                self._cv.wait(_POLL)
            if self._closed:
                return False
            self._data.append(m)
            self._cv.notify_all()
            return True

    def get(self):
        """The next message, or None once the outbox is closed."""
        with self._cv:
            while not self._ctrl and not self._data:
                if self._closed:
                    return None
                self._cv.wait()
            m = self._ctrl.popleft() if self._ctrl else self._data.popleft()
            self._cv.notify_all()
            return m

    def close(self):
        with self._cv:
            self._closed = True
            self._cv.notify_all()


class _Window:
    """How many more chunks a flow-controlled stream may send before the
    Host credits more back (ToolCall.stream_window, StreamCredit)."""

    def __init__(self, room):
        self._cv = threading.Condition()
        self._room = room

    def take(self, stopped):
        """Use one chunk's room, waiting for credit while there is none;
        False when stopped() became true first."""
        with self._cv:
            while self._room <= 0:
                if stopped():
                    return False
                self._cv.wait(_POLL)
            self._room -= 1
            return True

    def add(self, n):
        """Give n more chunks' room."""
        with self._cv:
            self._room = min(self._room + n, _MAX_ROOM)
            self._cv.notify_all()

    @property
    def room(self):
        """The chunks the stream may still send without more credit."""
        with self._cv:
            return self._room


class Session:
    """One stream's worth of the runtime protocol."""

    def __init__(self, runtime):
        self.rt = runtime
        self.prefix = "rt-" + secrets.token_hex(6)
        self._out = _Outbox()
        self._closed = threading.Event()
        self._abort = None
        self._mu = threading.Lock()
        self._active = {}
        self._windows = {}  # invocation_id -> _Window of a flow-controlled stream running
        self._draining = False
        self._close_sent = False
        self._accepted = []
        self._drain_timer = None
        self._end_reason = None
        self.accepted = False
        self.host_id = ""
        self.host_mode = 0
        self.heartbeat_interval = DEFAULT_HEARTBEAT_INTERVAL
        self.heartbeat_timeout = SILENT_INTERVALS * DEFAULT_HEARTBEAT_INTERVAL
        self._last_recv = time.monotonic()
        # The announcement is the stream's first message, queued before
        # gRPC starts pulling.
        self._out.put_ctrl(runtime_pb2.RuntimeMessage(correlation_id=self.prefix + "-announce", announce=runtime.announcement()))

    # --- the stream's two directions ---------------------------------------

    def outgoing(self):
        """The RuntimeMessages to send, in order; ends (half-closing the
        stream) after a drain or once the session is closed."""
        while True:
            m = self._out.get()
            if m is None or m is _CLOSE_SEND:
                return
            yield m

    def run(self, incoming, abort):
        """Serve the stream until it ends. Return once it has, with the
        reason; raise RefusedError when the Host refuses the announcement."""
        self._abort = abort
        announce_timer = threading.Timer(ANNOUNCE_TIMEOUT, self.fail,
                                         args=(f"the Host did not answer the announcement within {ANNOUNCE_TIMEOUT:.0f}s",))
        announce_timer.daemon = True
        announce_timer.start()
        heartbeat = None
        try:
            try:
                first = next(incoming)
            except StopIteration:
                return self._reason("the Host closed the stream before answering the announcement")
            finally:
                announce_timer.cancel()
            self._announced(first)
            self.rt._connected(self)
            heartbeat = threading.Thread(target=self._heartbeat_loop, name="altar-heartbeat", daemon=True)
            heartbeat.start()
            self._send_ctrl(runtime_pb2.RuntimeMessage(
                correlation_id=self.prefix + "-contracts",
                get_available_contracts=runtime_pb2.GetAvailableContracts()))
            for msg in incoming:
                self._last_recv = time.monotonic()
                if not self._dispatch(msg):
                    break
            return self._reason("the Host closed the stream")
        except RefusedError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            # grpc.RpcError when the stream breaks, or after fail()/abort.
            return self._reason(f"the stream ended: {_describe(exc)}")
        finally:
            self.close()
            if heartbeat is not None:
                heartbeat.join()
            self.rt._disconnected(self)

    def _reason(self, default):
        return self._end_reason or default

    def fail(self, reason):
        """End the session: the RPC is cancelled and run() returns."""
        if self._end_reason is None:
            self._end_reason = reason
        self.close()
        if self._abort is not None:
            try:
                self._abort()
            except Exception:  # pylint: disable=broad-except
                pass

    def close(self):
        """Stop the session's threads and its calls (they were answering a
        stream that is gone)."""
        self._closed.set()
        self._out.close()
        with self._mu:
            timer = self._drain_timer
        if timer is not None:
            timer.cancel()
        with self._mu:
            active = list(self._active.values())
        for ctx in active:
            ctx._stop(CONNECTION_LOST, "the connection to the Host ended")

    # --- bootstrap ----------------------------------------------------------

    def _announced(self, msg):
        kind = msg.WhichOneof("message")
        if kind == "error":
            raise RefusedError("", msg.error.code, msg.error.message)
        if kind != "announce_response":
            raise RefusedError("", 401, f"the Host answered the announcement with {kind}, not an announce_response")
        resp = msg.announce_response
        if not resp.accepted:
            raise RefusedError(resp.host_id, resp.error.code, resp.error.message or "refused without a reason")
        if resp.protocol_version and resp.protocol_version.split(".")[0] != PROTOCOL_VERSION.split(".")[0]:
            raise RefusedError(resp.host_id, 402, f"the Host speaks protocol {resp.protocol_version!r}; this runtime speaks {PROTOCOL_VERSION}")
        self.accepted = True
        self.host_id, self.host_mode = resp.host_id, resp.host_mode
        if resp.HasField("heartbeat_interval") and resp.heartbeat_interval.ToTimedelta().total_seconds() > 0:
            self.heartbeat_interval = resp.heartbeat_interval.ToTimedelta().total_seconds()
        self.heartbeat_timeout = SILENT_INTERVALS * self.heartbeat_interval
        if resp.HasField("heartbeat_timeout") and resp.heartbeat_timeout.ToTimedelta().total_seconds() > 0:
            self.heartbeat_timeout = resp.heartbeat_timeout.ToTimedelta().total_seconds()
        self._last_recv = time.monotonic()
        modes = resp.DESCRIPTOR.fields_by_name["host_mode"].enum_type.values_by_number
        mode = modes[resp.host_mode].name if resp.host_mode in modes else str(resp.host_mode)
        log.info("connected to the Host %s (%s, capabilities %s, heartbeat every %.3gs)",
                 resp.host_id, mode, list(resp.capabilities), self.heartbeat_interval)

    def _offer_tools(self, available):
        offered = {c.name for c in available.contracts}
        fulfil = []
        for t in self.rt.tools.values():
            if t.name in offered:
                fulfil.append(runtime_pb2.ToolFulfillment(contract_name=t.name, version_constraint=t.version))
            else:
                log.warning("tool %s not fulfilled: the Host did not offer a contract named %r (it is not in the Host's "
                            "manifests, or needs a level or capability this runtime did not declare)", t.name, t.name)
        if fulfil:
            self._send_ctrl(runtime_pb2.RuntimeMessage(correlation_id=self.prefix + "-fulfill",
                                                       fulfill_tools=runtime_pb2.FulfillTools(tools=fulfil)))
        else:
            self.rt._fulfilled(self, [], [])

    def _tools_answered(self, resp):
        # The Host offers its contracts again when they change; a tool
        # fulfilled again replaces its earlier entry (the list withdrawn at
        # shutdown).
        again = {a.qualified_name for a in resp.accepted}
        with self._mu:
            self._accepted = [a for a in self._accepted if a.qualified_name not in again]
            self._accepted.extend(resp.accepted)
        for rj in resp.rejected:
            log.warning("tool %s not fulfilled: %s: %s", rj.tool_name, code_name(rj.error.code), rj.error.message)
        log.info("tools fulfilled: %s", [a.qualified_name for a in resp.accepted])
        self.rt._fulfilled(self, list(resp.accepted), list(resp.rejected))

    # --- the receiving side -------------------------------------------------

    def _dispatch(self, msg):
        kind = msg.WhichOneof("message")
        if kind == "tool_call":
            self._start_call(msg.tool_call)
        elif kind == "cancel_invocation":
            self._cancel_call(msg.cancel_invocation)
        elif kind == "stream_credit":
            self._credit_stream(msg.stream_credit)
        elif kind == "heartbeat":
            pass  # any message proves the Host alive
        elif kind == "available_contracts":
            self._offer_tools(msg.available_contracts)
        elif kind == "fulfill_tools_response":
            self._tools_answered(msg.fulfill_tools_response)
        elif kind == "register_tools_response":
            self._tools_answered(msg.register_tools_response)
        elif kind == "drain":
            grace = DEFAULT_DRAIN_GRACE
            if msg.drain.HasField("grace_period") and msg.drain.grace_period.ToTimedelta().total_seconds() > 0:
                grace = msg.drain.grace_period.ToTimedelta().total_seconds()
            n = self.start_draining(withdraw=False, grace=grace)
            log.info("the Host is draining (%s): %d call(s) in flight, grace %.3gs", msg.drain.reason, n, grace)
        elif kind == "session_event":
            log.debug("session event %s for session %s", msg.session_event.kind, msg.session_event.session_id)
        elif kind == "error":
            self._end_reason = f"the Host ended the stream: {code_name(msg.error.code)}: {msg.error.message}"
            log.error("%s", self._end_reason)
            return False
        else:
            # A message this protocol version does not know: ignored, as
            # unknown fields are.
            log.debug("ignoring an unexpected message from the Host: %s", kind)
        return True

    def _start_call(self, call):
        iid = call.invocation_id
        log.debug("call %s: tool %s (correlation %s, attempt %d, stream %s, window %d)", iid, call.tool_name,
                  call.correlation_id, call.attempt, call.stream, call.stream_window)
        if not iid:
            log.warning("ignoring a tool call without an invocation_id (tool %s)", call.tool_name)
            return
        limit = self.rt.max_concurrency
        refusal = None
        window = None
        with self._mu:
            if iid in self._active:
                # Answering would be taken as the answer of the running call.
                log.warning("ignoring a tool call whose invocation_id %s is already running", iid)
                return
            if self._draining:
                refusal = ToolError("RUNTIME_UNAVAILABLE", f"runtime {self.rt.runtime_id!r} is draining and takes no new calls")
            elif len(self._active) >= limit:
                refusal = ToolError("RESOURCE_EXHAUSTED", f"runtime {self.rt.runtime_id!r} is at max_concurrency {limit}",
                                    retry_after_ms=BUSY_RETRY_AFTER_MS,
                                    details={"limit": "max_concurrency", "runtime_id": self.rt.runtime_id})
            else:
                ctx = Context(call)
                self._active[iid] = ctx
                if call.stream and call.stream_window > 0:
                    window = _Window(call.stream_window)
                    self._windows[iid] = window
        if refusal is not None:
            self._send(_answer(call, refusal.to_proto(iid, call.correlation_id)))
            return
        try:
            self.rt._pool.submit(self._run_call, call, ctx, window)
        except RuntimeError:  # the pool is shut down: the runtime is stopping
            self._finish_call(iid)

    def _run_call(self, call, ctx, window):
        t = self.rt.tools.get(call.tool_name)
        try:
            if call.stream:
                tooling.stream(t, call, ctx, lambda c, final: self._send_chunk(c, final, ctx, window))
            else:
                res = tooling.invoke(t, call, ctx)
                self._send(runtime_pb2.RuntimeMessage(correlation_id=call.correlation_id, tool_result=res))
        except Exception:  # pylint: disable=broad-except
            log.exception("answering call %s of tool %s failed", call.invocation_id, call.tool_name)
        finally:
            self._finish_call(call.invocation_id)

    def _send_chunk(self, c, final, ctx, window=None):
        final = final or c.is_final or c.HasField("error")
        if window is not None and not final:
            # Flow-controlled: wait for the Host's credit while the window
            # is used up; the call's end (cancelled, deadline, connection
            # lost) ends the wait. The chunk that ends the stream needs no
            # room.
            if not window.take(lambda: ctx.cancelled):
                return False
        m = runtime_pb2.RuntimeMessage(correlation_id=c.correlation_id, stream_chunk=c)
        # A chunk that ends the stream is sent even after the call was
        # stopped: it carries the CANCELLED or DEADLINE_EXCEEDED answer.
        return self._send(m, None if final else ctx)

    def _finish_call(self, iid):
        with self._mu:
            self._active.pop(iid, None)
            self._windows.pop(iid, None)
            close_now = self._draining and not self._active and not self._close_sent
            if close_now:
                self._close_sent = True
        if close_now:
            self._send(_CLOSE_SEND)

    def _cancel_call(self, c):
        with self._mu:
            ctx = self._active.get(c.invocation_id)
        if ctx is None:
            log.debug("ignoring a cancel for call %s, which is not running", c.invocation_id)
            return
        log.debug("call %s cancelled by the Host: %s", c.invocation_id, c.reason)
        ctx._stop(CANCELLED, f"cancelled by the Host: {c.reason or 'no reason given'}")

    def _credit_stream(self, c):
        """Give a running stream the room the Host credited back; a credit
        for a stream that ended (or has no window) is ignored."""
        with self._mu:
            window = self._windows.get(c.invocation_id)
        if window is None:
            log.debug("ignoring a credit of %d chunk(s) for call %s, which has no window", c.chunks, c.invocation_id)
            return
        window.add(c.chunks)

    # --- draining -----------------------------------------------------------

    def start_draining(self, withdraw, grace):
        """Take no new calls; withdraw the tools when asked; half-close the
        stream once no call is in flight, and give up on the Host closing
        its side after ``grace`` plus a little."""
        with self._mu:
            self._draining = True
            n = len(self._active)
            close_now = n == 0 and not self._close_sent
            if close_now:
                self._close_sent = True
            names = [a.contract_name for a in self._accepted] if withdraw else []
        if names:
            self._send_ctrl(runtime_pb2.RuntimeMessage(
                correlation_id=self.prefix + "-withdraw",
                withdraw_tools=runtime_pb2.WithdrawTools(tool_names=names, reason="runtime shutting down")))
        if close_now:
            self._send(_CLOSE_SEND)
        with self._mu:
            if self._drain_timer is not None or self._closed.is_set():
                return n
            self._drain_timer = threading.Timer(grace + DRAIN_SLACK, self.fail,
                                                args=("the Host did not close the stream after draining",))
            self._drain_timer.daemon = True
        self._drain_timer.start()
        return n

    # --- the sending side ---------------------------------------------------

    def _send(self, m, ctx=None):
        """Queue a result, chunk or half-close behind the earlier ones,
        waiting while the queue is full. Return False when it cannot be
        sent: the session is closed, or ``ctx`` (a call whose non-final
        chunk this is) was stopped."""
        return self._out.put_data(m, (lambda: ctx.cancelled) if ctx is not None else (lambda: False))

    def _send_ctrl(self, m):
        """Queue a control message ahead of results and chunks."""
        return self._out.put_ctrl(m)

    def _heartbeat_loop(self):
        seq = 0
        while not self._closed.wait(self.heartbeat_interval):
            silence = time.monotonic() - self._last_recv
            if silence > self.heartbeat_timeout:
                log.warning("the Host was silent for %.3gs (heartbeat timeout %.3gs); dropping the connection",
                            silence, self.heartbeat_timeout)
                self.fail("the Host sent nothing for longer than its heartbeat timeout")
                return
            seq += 1
            with self._mu:
                in_flight, draining = len(self._active), self._draining
            hb = runtime_pb2.Heartbeat(sequence=seq, in_flight=in_flight,
                                       health=runtime_pb2.RUNTIME_HEALTH_UNHEALTHY if draining else runtime_pb2.RUNTIME_HEALTH_HEALTHY)
            hb.sent_at.GetCurrentTime()
            self._send_ctrl(runtime_pb2.RuntimeMessage(heartbeat=hb))

    def counts(self):
        """(draining, calls in flight)."""
        with self._mu:
            return self._draining, len(self._active)


def _answer(call, err):
    """A refusal of a call that never started, as a result or a chunk."""
    if call.stream:
        return runtime_pb2.RuntimeMessage(correlation_id=call.correlation_id, stream_chunk=tooling.invocation_pb2.StreamChunk(
            invocation_id=call.invocation_id, correlation_id=call.correlation_id, chunk_id=1, is_final=True, error=err))
    return runtime_pb2.RuntimeMessage(correlation_id=call.correlation_id, tool_result=tooling.invocation_pb2.ToolResult(
        invocation_id=call.invocation_id, correlation_id=call.correlation_id, status=tooling.ERROR, error=err))


def _describe(exc):
    """A short text for a stream's failure (grpc.RpcError has code/details)."""
    code = getattr(exc, "code", None)
    details = getattr(exc, "details", None)
    if callable(code) and callable(details):
        try:
            return f"{code().name}: {details()}"
        except Exception:  # pylint: disable=broad-except
            pass
    return str(exc) or type(exc).__name__



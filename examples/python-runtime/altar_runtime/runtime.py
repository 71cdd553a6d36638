"""The Runtime: a set of tools served to an ALTAR Host, by dialling it or as
a go-plugin subprocess the Host launched."""

import ipaddress
import logging
import os
import random
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc

from ._proto import contract_pb2, health_pb2, health_pb2_grpc, runtime_pb2, runtime_pb2_grpc
from .errors import RefusedError
from .session import PROTOCOL_VERSION, Session
from .tool import Tool

log = logging.getLogger("altar_runtime")

__version__ = "0.1.0"

# go-plugin's handshake (plugins/ in this repository fixes the values): the
# Host launches a plugin with ALTAR_PLUGIN=altar-runtime-v1 in its
# environment and reads one line from its stdout.
PLUGIN_COOKIE_KEY = "ALTAR_PLUGIN"
PLUGIN_COOKIE_VALUE = "altar-runtime-v1"
PLUGIN_CORE_PROTOCOL = 1
PLUGIN_APP_PROTOCOL = 1
# The service name go-plugin's health check asks about.
PLUGIN_HEALTH_SERVICE = "plugin"

DEFAULT_HOST = "127.0.0.1:50051"
DEFAULT_MAX_CONCURRENCY = 32
RECONNECT_MIN = 0.25
RECONNECT_MAX = 30.0
# How long stop() lets calls in flight finish before giving up on them.
STOP_GRACE = 10.0
# A plugin whose Host does not open PluginService.Connect within this long
# after the handshake exits (the Host is gone or is not an ALTAR Host).
PLUGIN_CONNECT_TIMEOUT = 60.0
# How often a plugin looks whether its parent (the Host) is still there.
PLUGIN_PARENT_CHECK = 1.0

# The capabilities of Level 2 (altarv1.CapabilitiesForLevel in
# proto/altar/v1/capabilities.go), raw bytes values, and per-stream flow
# control (ToolCall.stream_window and StreamCredit, see session.py).
CAPABILITIES = (
    "altar_level_1", "heartbeat",
    "altar_level_2", "streaming", "cancellation", "correlation", "security_context", "rich_errors",
    "binary_payloads", "flow_control",
)


class Runtime:
    """An ALTAR runtime.

    >>> rt = Runtime("py-calc")
    >>> @rt.tool("add")
    ... def add(a: float, b: float) -> float:
    ...     return a + b
    >>> rt.run()  # doctest: +SKIP

    ``runtime_id`` is announced to the Host unless the environment sets
    ``ALTAR_RUNTIME_ID`` (a Host launching the runtime as a plugin names it
    that way). Calls run on a thread pool of ``max_concurrency`` threads;
    a call beyond that is answered RESOURCE_EXHAUSTED with a retry hint.
    """

    def __init__(self, runtime_id, *, version=__version__, max_concurrency=DEFAULT_MAX_CONCURRENCY,
                 metadata=None, capabilities=(), reconnect=(RECONNECT_MIN, RECONNECT_MAX)):
        self.runtime_id = os.environ.get("ALTAR_RUNTIME_ID") or runtime_id
        if not self.runtime_id:
            raise ValueError("a runtime needs an id")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if not 0 < reconnect[0] <= reconnect[1]:
            raise ValueError(f"reconnect={reconnect!r}: want 0 < min <= max")
        self.version = version
        self.max_concurrency = max_concurrency
        self.metadata = dict(metadata or {})
        self.capabilities = list(CAPABILITIES) + [c for c in capabilities if c not in CAPABILITIES]
        self.reconnect = reconnect
        self.tools = {}
        self._pool = None
        self._stop = threading.Event()
        self._mu = threading.Lock()
        self._session = None
        # Observable state, for tests and health pages.
        self.connected = threading.Event()
        self.fulfilled = threading.Event()
        self.accepted = []
        self.rejected = []
        self.connects = 0

    # --- declaring tools ----------------------------------------------------

    def tool(self, name, *, version=""):
        """Decorate a function that fulfils the Host's contract ``name``
        (``version`` is an optional constraint such as ``"^1.2"``)."""
        return self._decorator(name, version, streaming=False)

    def stream_tool(self, name, *, version=""):
        """Decorate a generator that fulfils the Host's streaming contract
        ``name``: each value it yields is one chunk."""
        return self._decorator(name, version, streaming=True)

    def add_tool(self, t):
        """Add a Tool."""
        if t.name in self.tools:
            raise ValueError(f"two tools are named {t.name!r}")
        self.tools[t.name] = t

    def _decorator(self, name, version, streaming):
        def register(fn):
            self.add_tool(Tool(name, fn, streaming=streaming, version=version))
            return fn
        return register

    def announcement(self):
        """The AnnounceRuntime this runtime sends."""
        return runtime_pb2.AnnounceRuntime(
            runtime_id=self.runtime_id, language="python", version=self.version,
            protocol_version=PROTOCOL_VERSION, capabilities=self.capabilities,
            compliance_level=contract_pb2.COMPLIANCE_LEVEL_2, metadata=self.metadata,
            max_concurrency=self.max_concurrency)

    # --- running ------------------------------------------------------------

    def run(self, host=None):
        """Serve until stopped, and return a process exit status: as a
        go-plugin plugin when ``ALTAR_PLUGIN`` says so, else by dialling
        ``host`` (default: ``ALTAR_HOST``, else 127.0.0.1:50051). SIGTERM
        (and SIGINT, when dialling) stop the runtime gracefully."""
        cookie = os.environ.get(PLUGIN_COOKIE_KEY)
        if cookie is not None and cookie != PLUGIN_COOKIE_VALUE:
            sys.stderr.write(f"{PLUGIN_COOKIE_KEY}={cookie!r}: this runtime speaks the plugin protocol "
                             f"{PLUGIN_COOKIE_VALUE!r}; it is meant to be launched by an ALTAR Host\n")
            return 1
        plugin = cookie == PLUGIN_COOKIE_VALUE
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            # A plugin shares the Host's terminal: the Host, not Ctrl-C,
            # stops it (as go-plugin's own plugins do).
            signal.signal(signal.SIGINT, signal.SIG_IGN if plugin else self._on_signal)
        try:
            if plugin:
                self.serve_plugin()
            else:
                self.serve(host or os.environ.get("ALTAR_HOST") or DEFAULT_HOST)
        except RefusedError as e:
            log.error("%s", e)
            return 1
        return 0

    def _on_signal(self, *_):
        # The handler runs in the main thread between two bytecodes, maybe
        # while that thread holds a lock stop() needs: stop from a thread.
        self._stop.set()
        threading.Thread(target=self.stop, name="altar-stop", daemon=True).start()

    def stop(self):
        """Stop gracefully: withdraw the tools, let the calls in flight
        answer, close the stream; serve() then returns. Safe from any
        thread."""
        self._stop.set()
        with self._mu:
            s = self._session
        if s is not None:
            s.start_draining(withdraw=True, grace=STOP_GRACE)

    def serve(self, target):
        """Dial the Host's RuntimeService at ``target`` and serve until
        stop(); reconnect with exponential backoff and jitter when the
        stream breaks. Raise RefusedError when the Host refuses the runtime
        with a code that is not retryable."""
        md = ()
        if os.environ.get("ALTAR_API_KEY"):
            md = (("authorization", "Bearer " + os.environ["ALTAR_API_KEY"]),)
        self._start_pool()
        attempt = 0
        try:
            while not self._stop.is_set():
                s = Session(self)
                accepted = False
                # A channel per connection: a channel that failed to connect
                # waits out gRPC's own reconnect backoff (1s growing to 2
                # minutes) before it tries again, which would add to ours.
                channel = _channel(target)
                try:
                    call = runtime_pb2_grpc.RuntimeServiceStub(channel).Connect(s.outgoing(), metadata=md)
                    reason = s.run(call, call.cancel)
                    accepted = s.accepted
                except RefusedError as e:
                    if not e.retryable:
                        raise
                    reason = str(e)
                finally:
                    channel.close()
                if self._stop.is_set():
                    break
                if accepted:
                    attempt = 0
                delay = backoff(attempt, *self.reconnect)
                attempt += 1
                log.warning("connection to the Host at %s ended (%s); reconnecting in %.2fs", target, reason, delay)
                self._stop.wait(delay)
        finally:
            self._stop_pool()

    def serve_plugin(self):
        """Serve as a go-plugin plugin: listen on a free loopback port with
        PluginService and the gRPC health service, print go-plugin's
        handshake line, serve the one stream the Host opens, and return
        when it ends (or on stop(), the Host's go-plugin Shutdown, the
        Host's death, or no stream within PLUGIN_CONNECT_TIMEOUT)."""
        self._start_pool()
        ended = threading.Event()
        opened = threading.Event()
        outcome = {}
        server = grpc.server(ThreadPoolExecutor(max_workers=8, thread_name_prefix="altar-plugin-grpc"))
        runtime_pb2_grpc.add_PluginServiceServicer_to_server(_PluginService(self, opened, ended, outcome), server)
        health_pb2_grpc.add_HealthServicer_to_server(_Health(), server)
        server.add_generic_rpc_handlers((_go_plugin_controller(self),))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        parent = os.getppid()
        try:
            sys.stdout.write(f"{PLUGIN_CORE_PROTOCOL}|{PLUGIN_APP_PROTOCOL}|tcp|127.0.0.1:{port}|grpc\n")
            sys.stdout.flush()
            waited = 0.0
            while not ended.is_set() and not self._stop.is_set():
                ended.wait(PLUGIN_PARENT_CHECK)
                waited += PLUGIN_PARENT_CHECK
                if os.getppid() != parent:
                    log.warning("the Host (pid %d) is gone; exiting", parent)
                    break
                if not opened.is_set() and waited >= PLUGIN_CONNECT_TIMEOUT:
                    log.error("the Host opened no PluginService.Connect stream within %.0fs; exiting", PLUGIN_CONNECT_TIMEOUT)
                    break
            if self._stop.is_set() and not ended.is_set():
                ended.wait(STOP_GRACE)  # stop() drains the session; wait for it to end
        finally:
            with self._mu:
                s = self._session
            if s is not None:
                s.fail("the plugin is exiting")
            server.stop(grace=1.0).wait()
            self._stop_pool()
        if "refused" in outcome:
            raise outcome["refused"]

    # --- bookkeeping called by Session ---------------------------------------

    def _connected(self, s):
        with self._mu:
            self._session = s
            self.connects += 1
        self.connected.set()
        if self._stop.is_set():
            s.start_draining(withdraw=True, grace=STOP_GRACE)

    def _disconnected(self, s):
        with self._mu:
            if self._session is s:
                self._session = None
        self.connected.clear()
        self.fulfilled.clear()

    def _fulfilled(self, _s, accepted, rejected):
        self.accepted, self.rejected = accepted, rejected
        self.fulfilled.set()

    def _start_pool(self):
        self._pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="altar-call")

    def _stop_pool(self):
        """Wait (bounded) for the calls in flight; they were stopped when
        their session ended."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        done = threading.Event()

        def wait():
            pool.shutdown(wait=True, cancel_futures=True)
            done.set()
        threading.Thread(target=wait, name="altar-pool-stop", daemon=True).start()
        if not done.wait(STOP_GRACE):
            log.error("tool calls still running %.0fs after they were stopped; exiting without them", STOP_GRACE)
            os._exit(1)  # a tool that ignores its context would keep the process alive


class _PluginService(runtime_pb2_grpc.PluginServiceServicer):
    """PluginService.Connect: the Host opens the stream; the session runs in
    its own thread while gRPC pulls the session's outgoing messages."""

    def __init__(self, rt, opened, ended, outcome):
        self.rt, self.opened, self.ended, self.outcome = rt, opened, ended, outcome
        self._busy = threading.Lock()

    def Connect(self, request_iterator, context):  # noqa: N802 (gRPC's name)
        if not self._busy.acquire(blocking=False):
            context.abort(grpc.StatusCode.ALREADY_EXISTS, "this plugin already serves a PluginService.Connect stream")
        self.opened.set()
        s = Session(self.rt)

        def serve():
            try:
                reason = s.run(request_iterator, context.cancel)
                log.info("the Host's stream ended (%s)", reason)
            except RefusedError as e:
                self.outcome["refused"] = e
            finally:
                self.ended.set()
        threading.Thread(target=serve, name="altar-plugin-session", daemon=True).start()
        yield from s.outgoing()


class _Health(health_pb2_grpc.HealthServicer):
    """grpc.health.v1.Health: "plugin" (and the server as a whole, "") is
    SERVING."""

    def Check(self, request, context):  # noqa: N802 (gRPC's name)
        if request.service in ("", PLUGIN_HEALTH_SERVICE):
            return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
        context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return None


def _go_plugin_controller(rt):
    """go-plugin's plugin.GRPCController/Shutdown, which its client calls to
    stop a plugin gracefully before killing it. Its messages are
    google.protobuf.Empty, so no generated code is needed: both are empty."""

    def shutdown(_request, _context):
        log.info("the Host asked the plugin to shut down")
        threading.Thread(target=rt.stop, name="altar-plugin-shutdown", daemon=True).start()
        return b""

    return grpc.method_handlers_generic_handler("plugin.GRPCController", {
        "Shutdown": grpc.unary_unary_rpc_method_handler(
            shutdown, request_deserializer=lambda b: b, response_serializer=lambda b: b),
    })


def backoff(n, lo, hi):
    """The delay before reconnect attempt n (from 0): lo doubled n times,
    capped at hi, with equal jitter so that runtimes restarted together do
    not reconnect in step."""
    d = hi if n >= 62 else min(hi, lo * (1 << n))
    return d / 2 + random.uniform(0, d / 2)


def _channel(target):
    """A channel to the Host: plaintext on loopback, TLS elsewhere."""
    host = target.rsplit(":", 1)[0].strip("[]") if ":" in target else target
    loopback = host == "localhost"
    if not loopback:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
    if loopback:
        return grpc.insecure_channel(target)
    return grpc.secure_channel(target, grpc.ssl_channel_credentials())

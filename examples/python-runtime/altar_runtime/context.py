"""The per-call context a tool receives."""

import threading
import time

from .errors import Cancelled

# Why a call stopped.
CANCELLED = "cancelled"
DEADLINE = "deadline"
CONNECTION_LOST = "connection_lost"


class Context:
    """One tool call as the tool sees it.

    A tool that declares a parameter named ``ctx`` receives one. It is
    stopped when the Host cancels the call (``CancelInvocation``), when the
    call's deadline passes, or when the connection to the Host is lost; a
    long-running tool should check :attr:`cancelled` or wait with
    :meth:`wait` instead of ``time.sleep``. A stream tool is also stopped at
    its next ``yield`` once the call is.

    Attributes: ``invocation_id``, ``correlation_id``, ``session_id``,
    ``tool_name``, ``contract_version``, ``attempt`` (1 first), ``stream``
    (the caller reads chunks), ``metadata`` (a dict, W3C trace context
    included), ``security_context`` (the caller's ``altar.v1.SecurityContext``)
    and ``deadline`` (seconds since the epoch, as ``time.time()``, or None).
    """

    def __init__(self, call):
        self.invocation_id = call.invocation_id
        self.correlation_id = call.correlation_id
        self.session_id = call.session_id
        self.tool_name = call.tool_name
        self.contract_version = call.contract_version
        self.attempt = call.attempt
        self.stream = call.stream
        self.metadata = dict(call.metadata)
        self.security_context = call.security_context
        self.deadline = None
        if call.HasField("deadline"):
            self.deadline = call.deadline.seconds + call.deadline.nanos / 1e9
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._why = None
        self._reason = ""

    @property
    def cancelled(self):
        """True once the call was stopped: cancelled, past its deadline, or
        its connection lost."""
        if self._done.is_set():
            return True
        if self.deadline is not None and time.time() >= self.deadline:
            self._stop(DEADLINE, "the call's deadline passed")
            return True
        return False

    @property
    def reason(self):
        """Why the call was stopped (``"cancelled"``, ``"deadline"``,
        ``"connection_lost"``), or None while it runs."""
        _ = self.cancelled
        return self._why

    @property
    def done(self):
        """A ``threading.Event`` set when the call is cancelled or its
        connection lost, or once :attr:`cancelled` or :meth:`wait` has seen
        the deadline pass (prefer :meth:`wait`, which wakes at the deadline)."""
        return self._done

    def remaining(self):
        """Seconds left before the deadline (None when there is none)."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.time())

    def wait(self, timeout=None):
        """Wait up to ``timeout`` seconds (None: until stopped). Return True
        when the call was stopped, False when the time ran out first."""
        left = self.remaining()
        if left is not None and (timeout is None or left < timeout):
            if self._done.wait(left):
                return True
            return self.cancelled
        return self._done.wait(timeout) or self.cancelled

    def check(self):
        """Raise :class:`Cancelled` once the call was stopped."""
        if self.cancelled:
            raise Cancelled(self._reason or self._why)

    def _stop(self, why, reason):
        with self._lock:
            if self._why is None:
                self._why, self._reason = why, reason
        self._done.set()

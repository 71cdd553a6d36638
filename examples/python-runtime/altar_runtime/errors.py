"""ALTAR errors as Python exceptions.

A tool reports its own failure by raising :class:`ToolError` with a code
from the one error-code table (``proto/altar/v1/error.proto``): the code's
short name (``"TOOL_FAILED"``), its full name (``"ERROR_CODE_TOOL_FAILED"``)
or its number. Any other exception a tool raises is a ``TOOL_FAILED``
failure with the exception's text. Whether a code is retryable is read from
the table's ``retryable`` option, not repeated here.
"""

from ._proto import error_pb2

_CODES = error_pb2.ErrorCode.DESCRIPTOR
_PREFIX = "ERROR_CODE_"


def code_number(code):
    """Return the number of an error code given by name or number."""
    if isinstance(code, int) and not isinstance(code, bool):
        if code in _CODES.values_by_number:
            return code
        raise ValueError(f"{code} is not an ALTAR error code")
    if isinstance(code, str):
        name = code if code.startswith(_PREFIX) else _PREFIX + code
        if name in _CODES.values_by_name:
            return _CODES.values_by_name[name].number
    raise ValueError(f"{code!r} is not an ALTAR error code (see proto/altar/v1/error.proto)")


def code_name(number):
    """Return the full name of an error code number ("ERROR_CODE_...")."""
    v = _CODES.values_by_number.get(number)
    return v.name if v is not None else f"ERROR_CODE_{number}"


def retryable(number):
    """Report whether the table marks the code retryable."""
    v = _CODES.values_by_number.get(number)
    return bool(v is not None and v.GetOptions().Extensions[error_pb2.retryable])


class ToolError(Exception):
    """A tool's failure, answered to the Host as an ``altar.v1.Error``.

    ``field_errors`` is a list of ``(path, rule, message)`` tuples (``path``
    a JSON pointer into the arguments); ``details`` a dict of strings.
    """

    def __init__(self, code="TOOL_FAILED", message="", *, field_errors=(), retry_after_ms=0, details=None):
        self.code = code_number(code)
        self.message = str(message)
        self.field_errors = list(field_errors)
        self.retry_after_ms = int(retry_after_ms)
        self.details = dict(details or {})
        super().__init__(f"{code_name(self.code)}: {self.message}")

    def to_proto(self, invocation_id="", correlation_id=""):
        """Return the ``altar.v1.Error`` of this failure."""
        e = error_pb2.Error(
            code=self.code,
            message=self.message,
            retry_after_ms=self.retry_after_ms,
            invocation_id=invocation_id,
            correlation_id=correlation_id,
        )
        for path, rule, message in self.field_errors:
            e.field_errors.add(path=path, rule=rule, message=message)
        for k, v in self.details.items():
            e.details[str(k)] = str(v)
        return e


class Cancelled(Exception):
    """Raised by :meth:`Context.check` once the call was cancelled or its
    deadline passed; the runtime answers CANCELLED or DEADLINE_EXCEEDED."""


class RefusedError(Exception):
    """The Host refused the runtime's announcement (or ended the stream with
    a protocol error). ``code`` is the Host's error code number."""

    def __init__(self, host_id, code, message):
        self.host_id = host_id
        self.code = code
        self.message = message
        host = f"Host {host_id}" if host_id else "the Host"
        super().__init__(f"{host} refused the runtime: {code_name(code)}: {message}")

    @property
    def retryable(self):
        """Whether announcing again later may succeed."""
        return retryable(self.code)

"""Tools and how one call is executed: transport-independent, like the Go
SDK's Handler (plugins/sdk/handler.go), whose answers it mirrors."""

import inspect
import logging
import time

from . import values
from ._proto import invocation_pb2
from .context import CANCELLED, CONNECTION_LOST, DEADLINE
from .errors import Cancelled, ToolError

# A stream tool called without streaming answers with the array of its
# values; this bounds it (as sdk.MaxCollectedChunks does).
MAX_COLLECTED_CHUNKS = 100_000
# Bounds the text of an unexpected exception sent to the Host.
MAX_ERROR_MESSAGE = 4096

SUCCESS = invocation_pb2.TOOL_RESULT_STATUS_SUCCESS
ERROR = invocation_pb2.TOOL_RESULT_STATUS_ERROR

log = logging.getLogger("altar_runtime")


class Tool:
    """One tool: a Python function fulfilling the Host's contract ``name``.

    The call's arguments are passed as keyword arguments, exactly as the
    Host sent them (a missing argument is not passed, so the function's
    default applies; an explicit null is ``None``). A parameter named
    ``ctx`` receives the call's :class:`Context`; ``**kwargs`` receives
    every argument. A stream tool returns an iterable (usually it is a
    generator): each item is one chunk.
    """

    def __init__(self, name, fn, *, streaming=False, version=""):
        if not name:
            raise ValueError("a tool needs the name of the contract it fulfils")
        if not callable(fn):
            raise TypeError(f"tool {name!r}: {fn!r} is not callable")
        self.name = name
        self.fn = fn
        self.streaming = streaming
        self.version = version or ""
        sig = inspect.signature(fn)
        self._wants_ctx = "ctx" in sig.parameters
        self._var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        self._params = {}
        for pname, p in sig.parameters.items():
            if pname == "ctx" or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            if p.kind is p.POSITIONAL_ONLY:
                raise TypeError(f"tool {name!r}: parameter {pname!r} is positional-only; arguments are passed by name")
            self._params[pname] = p.default is p.empty

    def bind(self, args):
        """Check the arguments against the function's parameters; raise an
        INVALID_ARGUMENTS ToolError naming every field that does not fit."""
        problems = []
        for pname, required in self._params.items():
            if required and pname not in args:
                problems.append((f"/{pname}", "required", f"tool {self.name!r} needs argument {pname!r}"))
        if not self._var_kw:
            for k in args:
                if k not in self._params:
                    problems.append((f"/{k}", "additional_properties", f"tool {self.name!r} takes no argument {k!r}"))
        if "ctx" in args:
            problems.append(("/ctx", "additional_properties", "the argument name 'ctx' is reserved for the call's context"))
        if problems:
            raise ToolError("INVALID_ARGUMENTS", f"arguments do not fit tool {self.name!r}", field_errors=problems)

    def call(self, ctx, args):
        """Run the function with the arguments and the context."""
        self.bind(args)
        if self._wants_ctx:
            return self.fn(ctx=ctx, **args)
        return self.fn(**args)


def failure(tool_name, ctx, exc):
    """Return the ``altar.v1.Error`` for a call that raised ``exc``.

    A ToolError keeps its code; an exception after the call was stopped says
    why it was stopped; anything else is the tool's own failure
    (TOOL_FAILED with the exception's text)."""
    if isinstance(exc, ToolError):
        err = exc
    elif ctx is not None and (ctx.cancelled or isinstance(exc, Cancelled)):
        why = ctx.reason
        if why == DEADLINE:
            err = ToolError("DEADLINE_EXCEEDED", f"tool {tool_name!r} did not finish before the call's deadline")
        elif why == CONNECTION_LOST:
            err = ToolError("CONNECTION_LOST", f"call to tool {tool_name!r} stopped: the connection to the Host was lost")
        else:
            err = ToolError("CANCELLED", f"call to tool {tool_name!r} was cancelled: {ctx._reason or 'no reason given'}")
    elif isinstance(exc, values.ConversionError):
        err = ToolError("INVALID_RESULT", f"tool {tool_name!r} returned a value with no ALTAR form: {exc}")
    else:
        text = str(exc) or type(exc).__name__
        if len(text) > MAX_ERROR_MESSAGE:
            text = text[:MAX_ERROR_MESSAGE] + "…"
        err = ToolError("TOOL_FAILED", text)
    if not isinstance(exc, ToolError):
        log.debug("tool %s failed", tool_name, exc_info=exc,
                  extra={"invocation_id": getattr(ctx, "invocation_id", ""), "code": err.code})
    return err.to_proto(getattr(ctx, "invocation_id", ""), getattr(ctx, "correlation_id", ""))


def not_found(call):
    """The error for a call to a tool this runtime does not have."""
    return ToolError("TOOL_NOT_FOUND", f"this runtime has no tool named {call.tool_name!r}").to_proto(
        call.invocation_id, call.correlation_id)


def arguments(call):
    """The call's parameters as a dict of Python values."""
    try:
        return values.fields_to_python(call.parameters)
    except values.ConversionError as e:
        raise ToolError("INVALID_ARGUMENTS", str(e), field_errors=[(e.path, "type", e.reason)]) from e


def invoke(tool, call, ctx):
    """Execute a call and return its ``altar.v1.ToolResult`` (never None).
    A stream tool called this way answers with the array of its values."""
    start = time.monotonic()
    res = invocation_pb2.ToolResult(invocation_id=call.invocation_id, correlation_id=call.correlation_id)
    if tool is None:
        res.status = ERROR
        res.error.CopyFrom(not_found(call))
        return res
    try:
        out = tool.call(ctx, arguments(call))
        if tool.streaming:
            items = []
            for item in out:
                ctx.check()
                if len(items) >= MAX_COLLECTED_CHUNKS:
                    raise ToolError("RESOURCE_EXHAUSTED",
                                    f"tool {tool.name!r} yielded more than {MAX_COLLECTED_CHUNKS} values; call it with streaming")
                items.append(item)
            ctx.check()
            out = items
        payload = values.from_python(out)
    except Exception as exc:  # pylint: disable=broad-except
        res.status = ERROR
        res.error.CopyFrom(failure(tool.name, ctx, exc))
    else:
        res.status = SUCCESS
        res.payload.CopyFrom(payload)
    res.execution_time_ms = int((time.monotonic() - start) * 1000)
    return res


def stream(tool, call, ctx, send):
    """Execute a call and answer it with chunks through ``send``: chunk_id
    from 1, one per yielded value, then a final chunk with no payload (or,
    for a unary tool, the final chunk carries its result); a failure is a
    final error chunk. ``send(chunk, final)`` returns False when the chunk
    could not be delivered (the call or the connection ended)."""

    def chunk(n):
        return invocation_pb2.StreamChunk(invocation_id=call.invocation_id, correlation_id=call.correlation_id, chunk_id=n)

    if tool is None:
        final = chunk(1)
        final.is_final = True
        final.error.CopyFrom(not_found(call))
        send(final, True)
        return
    next_id = 1
    final = None
    out = None
    try:
        out = tool.call(ctx, arguments(call))
        if tool.streaming:
            for item in out:
                ctx.check()
                c = chunk(next_id)
                c.payload.CopyFrom(values.from_python(item, f"/{next_id - 1}"))
                if not send(c, False):
                    ctx.check()
                    return
                next_id += 1
            ctx.check()  # a generator that returned early because the call was stopped
            final = chunk(next_id)
        else:
            final = chunk(next_id)
            final.payload.CopyFrom(values.from_python(out))
    except Exception as exc:  # pylint: disable=broad-except
        final = chunk(next_id)
        final.error.CopyFrom(failure(tool.name, ctx, exc))
    finally:
        close = getattr(out, "close", None)
        if tool.streaming and close is not None:
            close()  # runs the generator's finally blocks when it was stopped early
    final.is_final = True
    send(final, True)


__all__ = ["Tool", "invoke", "stream", "failure", "CANCELLED", "DEADLINE", "CONNECTION_LOST"]

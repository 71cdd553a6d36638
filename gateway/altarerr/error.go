package altarerr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Error is a failure with an ALTAR code. The zero value is not useful; build
// one with New, Wrap or FromProto.
type Error struct {
	// Code is the row of the error-code table this failure belongs to.
	Code altarv1.ErrorCode
	// Message says what went wrong and, where it can, what to do about it.
	Message string
	// Fields lists every failed check, for validation failures.
	Fields []*altarv1.FieldError
	// RetryAfter, when positive, is the earliest a retry may succeed.
	RetryAfter time.Duration
	// CorrelationID ties the failure to the request that caused it.
	CorrelationID string
	// InvocationID names the invocation, where there is one.
	InvocationID string
	// Details carries extra context (runtime id, tool, limit). Never secrets
	// or argument values.
	Details map[string]string

	cause error
}

// New returns an error with the code and a formatted message.
func New(code altarv1.ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error with the code and message that wraps cause, so
// errors.Is and errors.As see through it.
func Wrap(code altarv1.ErrorCode, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), cause: cause}
}

// CodeName is the code's short name: "INVALID_ARGUMENTS" for
// ERROR_CODE_INVALID_ARGUMENTS.
func CodeName(code altarv1.ErrorCode) string {
	return strings.TrimPrefix(code.String(), "ERROR_CODE_")
}

// Error formats the code, the message, the first field errors and the cause.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(CodeName(e.Code))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	const shown = 3
	for i, f := range e.Fields {
		if i == shown {
			fmt.Fprintf(&b, "; and %d more", len(e.Fields)-shown)
			break
		}
		b.WriteString("; ")
		b.WriteString(FormatField(f))
	}
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	return b.String()
}

// FormatField renders one field error as "file:line:col: path: message (rule)",
// leaving out the parts it does not have (an empty path is the whole value
// or document).
func FormatField(f *altarv1.FieldError) string {
	var b strings.Builder
	if f.GetFile() != "" {
		b.WriteString(f.GetFile())
		if f.GetLine() > 0 {
			fmt.Fprintf(&b, ":%d", f.GetLine())
			if f.GetColumn() > 0 {
				fmt.Fprintf(&b, ":%d", f.GetColumn())
			}
		}
		b.WriteString(": ")
	}
	if path := f.GetPath(); path != "" {
		b.WriteString(path)
		b.WriteString(": ")
	}
	b.WriteString(f.GetMessage())
	if f.GetRule() != "" {
		fmt.Fprintf(&b, " (%s)", f.GetRule())
	}
	return b.String()
}

// Unwrap returns the wrapped cause.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is an *Error with the same code, so
// errors.Is(err, altarerr.New(code, "")) tests for a code.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// Info returns the code's row of the error-code table.
func (e *Error) Info() altarv1.CodeInfo { return e.Code.Info() }

// HTTPStatus is the HTTP status the code maps to.
func (e *Error) HTTPStatus() int { return int(e.Code.Info().HTTPStatus) }

// Retryable reports whether the same request may succeed later.
func (e *Error) Retryable() bool { return e.Code.Info().Retryable }

// WithField appends a field error and returns e.
func (e *Error) WithField(path, rule, message string) *Error {
	e.Fields = append(e.Fields, &altarv1.FieldError{Path: path, Rule: rule, Message: message})
	return e
}

// WithDetail sets one detail and returns e.
func (e *Error) WithDetail(key, value string) *Error {
	if e.Details == nil {
		e.Details = make(map[string]string)
	}
	e.Details[key] = value
	return e
}

// Proto returns the error's wire form. The cause is folded into the message.
func (e *Error) Proto() *altarv1.Error {
	msg := e.Message
	if e.cause != nil {
		if msg == "" {
			msg = e.cause.Error()
		} else {
			msg = msg + ": " + e.cause.Error()
		}
	}
	return &altarv1.Error{
		Code:          e.Code,
		Message:       msg,
		FieldErrors:   e.Fields,
		RetryAfterMs:  e.RetryAfter.Milliseconds(),
		CorrelationId: e.CorrelationID,
		InvocationId:  e.InvocationID,
		Details:       e.Details,
	}
}

// FromProto turns a wire error back into an *Error. A nil p gives nil.
func FromProto(p *altarv1.Error) *Error {
	if p == nil {
		return nil
	}
	return &Error{
		Code:          p.GetCode(),
		Message:       p.GetMessage(),
		Fields:        p.GetFieldErrors(),
		RetryAfter:    time.Duration(p.GetRetryAfterMs()) * time.Millisecond,
		CorrelationID: p.GetCorrelationId(),
		InvocationID:  p.GetInvocationId(),
		Details:       p.GetDetails(),
	}
}

// GRPCStatus returns the gRPC status for the code with the wire error as its
// detail, so status.FromError and status.Convert see it.
func (e *Error) GRPCStatus() *status.Status {
	st := status.New(codes.Code(e.Code.Info().GRPCCode), e.Error())
	if withDetails, err := st.WithDetails(e.Proto()); err == nil {
		return withDetails
	}
	return st
}

// From returns err as an *Error: the *Error it wraps, the altar.v1.Error
// carried by a gRPC status, or a new error whose code is derived from
// context cancellation, deadline, or the gRPC code. A nil err gives nil.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Wrap(altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, err, "deadline exceeded")
	case errors.Is(err, context.Canceled):
		return Wrap(altarv1.ErrorCode_ERROR_CODE_CANCELLED, err, "cancelled")
	}
	if st, ok := status.FromError(err); ok {
		for _, d := range st.Details() {
			if p, ok := d.(*altarv1.Error); ok {
				return FromProto(p)
			}
		}
		if st.Code() != codes.Unknown {
			return &Error{Code: codeForGRPC(st.Code()), Message: st.Message()}
		}
	}
	return Wrap(altarv1.ErrorCode_ERROR_CODE_INTERNAL, err, "internal error")
}

// CodeOf returns the ALTAR code of err (see From); nil has ERROR_CODE_UNSPECIFIED.
func CodeOf(err error) altarv1.ErrorCode {
	if err == nil {
		return altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED
	}
	return From(err).Code
}

// codeForGRPC maps a gRPC code with no ALTAR detail to the nearest ALTAR code.
func codeForGRPC(c codes.Code) altarv1.ErrorCode {
	switch c {
	case codes.Canceled:
		return altarv1.ErrorCode_ERROR_CODE_CANCELLED
	case codes.InvalidArgument, codes.OutOfRange:
		return altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST
	case codes.DeadlineExceeded:
		return altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED
	case codes.NotFound:
		return altarv1.ErrorCode_ERROR_CODE_NOT_FOUND
	case codes.AlreadyExists:
		return altarv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS
	case codes.PermissionDenied:
		return altarv1.ErrorCode_ERROR_CODE_PERMISSION_DENIED
	case codes.ResourceExhausted:
		return altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED
	case codes.FailedPrecondition, codes.Aborted:
		return altarv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION
	case codes.Unimplemented:
		return altarv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED
	case codes.Unavailable:
		return altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST
	case codes.Unauthenticated:
		return altarv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED
	case codes.DataLoss:
		return altarv1.ErrorCode_ERROR_CODE_STREAM_BROKEN
	default:
		return altarv1.ErrorCode_ERROR_CODE_INTERNAL
	}
}

package altarerr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

const (
	codeInvalidArgs     = altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS
	codeInvalidReq      = altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST
	codeToolNotFound    = altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND
	codeExhausted       = altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED
	codeInternal        = altarv1.ErrorCode_ERROR_CODE_INTERNAL
	codeCancelled       = altarv1.ErrorCode_ERROR_CODE_CANCELLED
	codeDeadline        = altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED
	codeUnspecified     = altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED
	codeInvalidManifest = altarv1.ErrorCode_ERROR_CODE_INVALID_MANIFEST
)

func TestCodeName(t *testing.T) {
	tests := []struct {
		code altarv1.ErrorCode
		want string
	}{
		{codeInvalidArgs, "INVALID_ARGUMENTS"},
		{codeUnspecified, "UNSPECIFIED"},
		{altarv1.ErrorCode(999), "999"},
	}
	for _, tt := range tests {
		if got := altarerr.CodeName(tt.code); got != tt.want {
			t.Errorf("CodeName(%d) = %q, want %q", tt.code, got, tt.want)
		}
	}
}

func TestErrorFormatting(t *testing.T) {
	field := func(path, rule, msg string) *altarv1.FieldError {
		return &altarv1.FieldError{Path: path, Rule: rule, Message: msg}
	}
	tests := []struct {
		name string
		err  *altarerr.Error
		want string
	}{
		{
			name: "code only",
			err:  &altarerr.Error{Code: codeInternal},
			want: "INTERNAL",
		},
		{
			name: "message",
			err:  altarerr.New(codeToolNotFound, "no tool %q", "weather"),
			want: `TOOL_NOT_FOUND: no tool "weather"`,
		},
		{
			name: "one field",
			err:  altarerr.New(codeInvalidArgs, "bad arguments").WithField("/city", "required", "is required"),
			want: "INVALID_ARGUMENTS: bad arguments; /city: is required (required)",
		},
		{
			name: "root field without rule",
			err:  altarerr.New(codeInvalidArgs, "bad").WithField("", "", "must be an object"),
			want: "INVALID_ARGUMENTS: bad; must be an object",
		},
		{
			name: "three fields are all shown",
			err: &altarerr.Error{Code: codeInvalidArgs, Message: "bad", Fields: []*altarv1.FieldError{
				field("/a", "type", "a"), field("/b", "type", "b"), field("/c", "type", "c"),
			}},
			want: "INVALID_ARGUMENTS: bad; /a: a (type); /b: b (type); /c: c (type)",
		},
		{
			name: "more than three fields are counted",
			err: &altarerr.Error{Code: codeInvalidArgs, Message: "bad", Fields: []*altarv1.FieldError{
				field("/a", "type", "a"), field("/b", "type", "b"), field("/c", "type", "c"),
				field("/d", "type", "d"), field("/e", "type", "e"),
			}},
			want: "INVALID_ARGUMENTS: bad; /a: a (type); /b: b (type); /c: c (type); and 2 more",
		},
		{
			name: "cause",
			err:  altarerr.Wrap(codeInternal, io.ErrUnexpectedEOF, "reading manifest"),
			want: "INTERNAL: reading manifest: unexpected EOF",
		},
		{
			name: "cause without message",
			err:  altarerr.Wrap(codeInternal, io.EOF, ""),
			want: "INTERNAL: EOF",
		},
		{
			name: "fields and cause",
			err:  altarerr.Wrap(codeInvalidManifest, io.EOF, "manifest").WithField("/contracts/0/name", "pattern", "bad name"),
			want: "INVALID_MANIFEST: manifest; /contracts/0/name: bad name (pattern): EOF",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q\nwant      %q", got, tt.want)
			}
		})
	}
}

func TestFormatField(t *testing.T) {
	tests := []struct {
		f    *altarv1.FieldError
		want string
	}{
		{&altarv1.FieldError{Path: "/x", Rule: "minimum", Message: "must be >= 1"}, "/x: must be >= 1 (minimum)"},
		{&altarv1.FieldError{Message: "not an object"}, "not an object"},
		{&altarv1.FieldError{File: "m.yaml", Path: "/a", Message: "m"}, "m.yaml: /a: m"},
		{&altarv1.FieldError{File: "m.yaml", Line: 3, Path: "/a", Message: "m"}, "m.yaml:3: /a: m"},
		{&altarv1.FieldError{File: "m.yaml", Line: 3, Column: 7, Path: "/a", Rule: "type", Message: "m"}, "m.yaml:3:7: /a: m (type)"},
		// A column without a line, or a line without a file, is not shown.
		{&altarv1.FieldError{File: "m.yaml", Column: 7, Path: "/a", Message: "m"}, "m.yaml: /a: m"},
		{&altarv1.FieldError{Line: 3, Path: "/a", Message: "m"}, "/a: m"},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := altarerr.FormatField(tt.f); got != tt.want {
			t.Errorf("FormatField(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestIsByCode(t *testing.T) {
	err := altarerr.New(codeToolNotFound, "no tool %q", "weather")
	wrapped := fmt.Errorf("invoking: %w", err)
	twice := fmt.Errorf("request 7: %w", wrapped)
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"same code, empty target message", err, altarerr.New(codeToolNotFound, ""), true},
		{"same code and message", err, altarerr.New(codeToolNotFound, `no tool "weather"`), true},
		{"same code, other message", err, altarerr.New(codeToolNotFound, "other"), false},
		{"other code", err, altarerr.New(codeInvalidArgs, ""), false},
		{"through %w", wrapped, altarerr.New(codeToolNotFound, ""), true},
		{"through %w twice", twice, altarerr.New(codeToolNotFound, ""), true},
		{"other code through %w", twice, altarerr.New(codeInternal, ""), false},
		{"target wrapped", err, fmt.Errorf("x: %w", altarerr.New(codeToolNotFound, "")), true},
		{"plain target", err, io.EOF, false},
		{"the cause", altarerr.Wrap(codeInternal, io.EOF, "read"), io.EOF, true},
		{"the cause through %w", fmt.Errorf("x: %w", altarerr.Wrap(codeInternal, io.EOF, "read")), io.EOF, true},
		{"not the cause", altarerr.Wrap(codeInternal, io.EOF, "read"), io.ErrUnexpectedEOF, false},
	}
	for _, tt := range tests {
		if got := errors.Is(tt.err, tt.target); got != tt.want {
			t.Errorf("%s: errors.Is(%v, %v) = %v, want %v", tt.name, tt.err, tt.target, got, tt.want)
		}
	}
}

func TestAsThroughWrap(t *testing.T) {
	orig := altarerr.New(codeExhausted, "queue full").WithDetail("limit", "queue")
	orig.RetryAfter = 2 * time.Second
	err := fmt.Errorf("tool %q: %w", "weather", fmt.Errorf("attempt 1: %w", orig))

	var got *altarerr.Error
	if !errors.As(err, &got) {
		t.Fatalf("errors.As(%v) found no *altarerr.Error", err)
	}
	if got != orig {
		t.Errorf("errors.As found %p, want the original %p", got, orig)
	}
	if got.RetryAfter != 2*time.Second || got.Details["limit"] != "queue" {
		t.Errorf("errors.As lost fields: %+v", got)
	}
	if errors.Unwrap(altarerr.New(codeInternal, "x")) != nil {
		t.Error("an error without a cause unwraps to something")
	}
	if u := errors.Unwrap(altarerr.Wrap(codeInternal, io.EOF, "x")); u != io.EOF {
		t.Errorf("Unwrap = %v, want io.EOF", u)
	}
}

func TestAccessors(t *testing.T) {
	for _, c := range altarv1.Codes() {
		e := altarerr.New(c, "m")
		info := c.Info()
		if e.Info() != info {
			t.Errorf("%v: Info() = %+v, want %+v", c, e.Info(), info)
		}
		if e.HTTPStatus() != int(info.HTTPStatus) {
			t.Errorf("%v: HTTPStatus() = %d, want %d", c, e.HTTPStatus(), info.HTTPStatus)
		}
		if e.Retryable() != info.Retryable {
			t.Errorf("%v: Retryable() = %v, want %v", c, e.Retryable(), info.Retryable)
		}
	}

	e := altarerr.New(codeInvalidArgs, "bad").
		WithField("/a", "type", "want a string").
		WithField("/b", "required", "is required").
		WithDetail("tool", "weather").
		WithDetail("runtime", "py-1").
		WithDetail("tool", "forecast")
	if len(e.Fields) != 2 || e.Fields[1].GetPath() != "/b" || e.Fields[1].GetRule() != "required" {
		t.Errorf("WithField: fields = %v", e.Fields)
	}
	if len(e.Details) != 2 || e.Details["tool"] != "forecast" || e.Details["runtime"] != "py-1" {
		t.Errorf("WithDetail: details = %v", e.Details)
	}
}

func TestCodeOf(t *testing.T) {
	tests := []struct {
		err  error
		want altarv1.ErrorCode
	}{
		{nil, codeUnspecified},
		{altarerr.New(codeToolNotFound, ""), codeToolNotFound},
		{fmt.Errorf("x: %w", altarerr.New(codeToolNotFound, "")), codeToolNotFound},
		{context.Canceled, codeCancelled},
		{io.EOF, codeInternal},
	}
	for _, tt := range tests {
		if got := altarerr.CodeOf(tt.err); got != tt.want {
			t.Errorf("CodeOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// fullError is an *Error with every field set.
func fullError() *altarerr.Error {
	return &altarerr.Error{
		Code:    codeInvalidArgs,
		Message: "arguments do not match weather@1.2.0",
		Fields: []*altarv1.FieldError{
			{Path: "/city", Rule: "required", Message: "is required"},
			{Path: "/days", Rule: "maximum", Message: "must be <= 14", File: "call.json", Line: 2, Column: 11},
		},
		RetryAfter:    1500 * time.Millisecond,
		CorrelationID: "corr-1",
		InvocationID:  "inv-1",
		Details:       map[string]string{"tool": "weather", "runtime": "py-1"},
	}
}

func TestProtoRoundTrip(t *testing.T) {
	e := fullError()
	p := e.Proto()
	want := &altarv1.Error{
		Code:          codeInvalidArgs,
		Message:       "arguments do not match weather@1.2.0",
		FieldErrors:   e.Fields,
		RetryAfterMs:  1500,
		CorrelationId: "corr-1",
		InvocationId:  "inv-1",
		Details:       map[string]string{"tool": "weather", "runtime": "py-1"},
	}
	if !proto.Equal(p, want) {
		t.Fatalf("Proto() = %v\nwant %v", p, want)
	}

	// Through the binary wire and back.
	b, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var decoded altarv1.Error
	if err := proto.Unmarshal(b, &decoded); err != nil {
		t.Fatal(err)
	}
	back := altarerr.FromProto(&decoded)
	if back.Code != e.Code || back.Message != e.Message || back.RetryAfter != e.RetryAfter ||
		back.CorrelationID != e.CorrelationID || back.InvocationID != e.InvocationID {
		t.Errorf("FromProto(Proto()) = %+v, want %+v", back, e)
	}
	if len(back.Fields) != len(e.Fields) {
		t.Fatalf("FromProto lost field errors: %v", back.Fields)
	}
	for i := range e.Fields {
		if !proto.Equal(back.Fields[i], e.Fields[i]) {
			t.Errorf("field %d = %v, want %v", i, back.Fields[i], e.Fields[i])
		}
	}
	if len(back.Details) != 2 || back.Details["tool"] != "weather" || back.Details["runtime"] != "py-1" {
		t.Errorf("details = %v", back.Details)
	}
	if !proto.Equal(back.Proto(), p) {
		t.Errorf("Proto(FromProto(Proto())) = %v, want %v", back.Proto(), p)
	}
	if back.Error() != e.Error() {
		t.Errorf("Error() after the round trip = %q, want %q", back.Error(), e.Error())
	}
}

func TestProtoFoldsCause(t *testing.T) {
	tests := []struct {
		err  *altarerr.Error
		want string
	}{
		{altarerr.Wrap(codeInternal, io.EOF, "reading"), "reading: EOF"},
		{altarerr.Wrap(codeInternal, io.EOF, ""), "EOF"},
		{altarerr.New(codeInternal, "no cause"), "no cause"},
	}
	for _, tt := range tests {
		if got := tt.err.Proto().GetMessage(); got != tt.want {
			t.Errorf("Proto().Message = %q, want %q", got, tt.want)
		}
		// The cause does not survive the wire: only its text does.
		if back := altarerr.FromProto(tt.err.Proto()); errors.Unwrap(back) != nil {
			t.Errorf("FromProto(Proto()) has a cause: %v", errors.Unwrap(back))
		}
	}
}

func TestProtoRetryAfterTruncatesToMilliseconds(t *testing.T) {
	e := altarerr.New(codeExhausted, "full")
	e.RetryAfter = 2*time.Second + 999*time.Microsecond
	if got := e.Proto().GetRetryAfterMs(); got != 2000 {
		t.Errorf("RetryAfterMs = %d, want 2000", got)
	}
	if got := altarerr.FromProto(&altarv1.Error{RetryAfterMs: 250}).RetryAfter; got != 250*time.Millisecond {
		t.Errorf("RetryAfter = %v, want 250ms", got)
	}
}

func TestFromProtoNil(t *testing.T) {
	if got := altarerr.FromProto(nil); got != nil {
		t.Errorf("FromProto(nil) = %v, want nil", got)
	}
}

func TestGRPCStatusEveryCode(t *testing.T) {
	for _, c := range altarv1.Codes() {
		t.Run(c.String(), func(t *testing.T) {
			e := altarerr.New(c, "failed").WithField("/x", "type", "want a string")
			st := e.GRPCStatus()
			if want := codes.Code(c.Info().GRPCCode); st.Code() != want {
				t.Errorf("GRPCStatus().Code() = %v, want %v", st.Code(), want)
			}
			if st.Message() != e.Error() {
				t.Errorf("GRPCStatus().Message() = %q, want %q", st.Message(), e.Error())
			}
			p := detail(t, st)
			if !proto.Equal(p, e.Proto()) {
				t.Errorf("detail = %v, want %v", p, e.Proto())
			}

			// status.FromError sees the status, also through %w.
			for _, err := range []error{e, fmt.Errorf("x: %w", e)} {
				got, ok := status.FromError(err)
				if !ok {
					t.Fatalf("status.FromError(%v) is not ok", err)
				}
				if got.Code() != st.Code() {
					t.Errorf("status.FromError(%v).Code() = %v, want %v", err, got.Code(), st.Code())
				}
			}
		})
	}
}

// detail returns the one altar.v1.Error carried in st's details.
func detail(t *testing.T, st *status.Status) *altarv1.Error {
	t.Helper()
	var found *altarv1.Error
	for _, d := range st.Details() {
		p, ok := d.(*altarv1.Error)
		if !ok {
			t.Fatalf("status detail is %T (%v), want *altarv1.Error", d, d)
		}
		if found != nil {
			t.Fatal("status carries more than one altar.v1.Error")
		}
		found = p
	}
	if found == nil {
		t.Fatalf("status %v carries no altar.v1.Error", st)
	}
	return found
}

func TestFrom(t *testing.T) {
	withDetail, err := status.New(codes.InvalidArgument, "ignored text").WithDetails(fullError().Proto())
	if err != nil {
		t.Fatal(err)
	}
	wrapped := altarerr.New(codeToolNotFound, "no tool")
	plain := errors.New("disk on fire")
	unknownStatus := status.Error(codes.Unknown, "mystery")

	tests := []struct {
		name     string
		err      error
		wantCode altarv1.ErrorCode
		// wantMsg is a fragment of Error().
		wantMsg string
		// wantIs are errors the result must match with errors.Is.
		wantIs []error
		// wantSame is the *Error the result must be.
		wantSame *altarerr.Error
	}{
		{
			name: "context.Canceled", err: context.Canceled,
			wantCode: codeCancelled, wantMsg: "CANCELLED: cancelled: context canceled",
			wantIs: []error{context.Canceled},
		},
		{
			name: "context.DeadlineExceeded", err: context.DeadlineExceeded,
			wantCode: codeDeadline, wantMsg: "DEADLINE_EXCEEDED: deadline exceeded: context deadline exceeded",
			wantIs: []error{context.DeadlineExceeded},
		},
		{
			name: "wrapped context.Canceled", err: fmt.Errorf("waiting for runtime: %w", context.Canceled),
			wantCode: codeCancelled, wantIs: []error{context.Canceled},
		},
		{
			name: "cause of a cancelled context", err: fmt.Errorf("x: %w", ctxErr(t)),
			wantCode: codeCancelled, wantIs: []error{context.Canceled},
		},
		{
			name: "gRPC status without details", err: status.Error(codes.NotFound, "no such session"),
			wantCode: altarv1.ErrorCode_ERROR_CODE_NOT_FOUND, wantMsg: "NOT_FOUND: no such session",
		},
		{
			name: "gRPC status with details", err: withDetail.Err(),
			wantCode: codeInvalidArgs, wantMsg: fullError().Error(),
		},
		{
			name: "gRPC status with details, wrapped", err: fmt.Errorf("call: %w", withDetail.Err()),
			wantCode: codeInvalidArgs, wantMsg: fullError().Error(),
		},
		{
			name: "gRPC Unknown without details", err: unknownStatus,
			wantCode: codeInternal, wantMsg: "INTERNAL: internal error: rpc error: code = Unknown desc = mystery",
			wantIs: []error{unknownStatus},
		},
		{
			name: "wrapped *Error", err: fmt.Errorf("a: %w", fmt.Errorf("b: %w", wrapped)),
			wantCode: codeToolNotFound, wantSame: wrapped,
		},
		{
			name: "*Error itself", err: wrapped,
			wantCode: codeToolNotFound, wantSame: wrapped,
		},
		{
			name: "plain error", err: plain,
			wantCode: codeInternal, wantMsg: "INTERNAL: internal error: disk on fire",
			wantIs: []error{plain},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := altarerr.From(tt.err)
			if got == nil {
				t.Fatalf("From(%v) = nil", tt.err)
			}
			if got.Code != tt.wantCode {
				t.Errorf("From(%v).Code = %v, want %v", tt.err, got.Code, tt.wantCode)
			}
			if !strings.Contains(got.Error(), tt.wantMsg) {
				t.Errorf("From(%v).Error() = %q, want it to contain %q", tt.err, got.Error(), tt.wantMsg)
			}
			for _, target := range tt.wantIs {
				if !errors.Is(got, target) {
					t.Errorf("From(%v) does not match %v", tt.err, target)
				}
			}
			if tt.wantSame != nil && got != tt.wantSame {
				t.Errorf("From(%v) = %p, want the wrapped %p", tt.err, got, tt.wantSame)
			}
		})
	}

	if got := altarerr.From(nil); got != nil {
		t.Errorf("From(nil) = %v, want nil", got)
	}
}

// ctxErr returns the error of a context that has been cancelled.
func ctxErr(t *testing.T) error {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx.Err()
}

func TestFromGRPCCodeWithoutDetails(t *testing.T) {
	tests := []struct {
		code codes.Code
		want altarv1.ErrorCode
	}{
		{codes.Canceled, codeCancelled},
		{codes.Unknown, codeInternal},
		{codes.InvalidArgument, codeInvalidReq},
		{codes.DeadlineExceeded, codeDeadline},
		{codes.NotFound, altarv1.ErrorCode_ERROR_CODE_NOT_FOUND},
		{codes.AlreadyExists, altarv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS},
		{codes.PermissionDenied, altarv1.ErrorCode_ERROR_CODE_PERMISSION_DENIED},
		{codes.ResourceExhausted, codeExhausted},
		{codes.FailedPrecondition, altarv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION},
		{codes.Aborted, altarv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION},
		{codes.OutOfRange, codeInvalidReq},
		{codes.Unimplemented, altarv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED},
		{codes.Internal, codeInternal},
		{codes.Unavailable, altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST},
		{codes.DataLoss, altarv1.ErrorCode_ERROR_CODE_STREAM_BROKEN},
		{codes.Unauthenticated, altarv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED},
	}
	for _, tt := range tests {
		got := altarerr.From(status.Error(tt.code, "m"))
		if got.Code != tt.want {
			t.Errorf("From(status %v).Code = %v, want %v", tt.code, got.Code, tt.want)
		}
		// The ALTAR code chosen maps back to the same gRPC code, where the
		// table allows it.
		if tt.code != codes.Unknown && tt.code != codes.Aborted && tt.code != codes.OutOfRange {
			if back := codes.Code(got.Code.Info().GRPCCode); back != tt.code {
				t.Errorf("From(status %v) = %v, which maps back to %v", tt.code, got.Code, back)
			}
		}
	}
}

func TestFromGRPCStatusEveryCode(t *testing.T) {
	for _, c := range altarv1.Codes() {
		t.Run(c.String(), func(t *testing.T) {
			e := fullError()
			e.Code = c
			got := altarerr.From(e.GRPCStatus().Err())
			if got.Code != c || !proto.Equal(got.Proto(), e.Proto()) {
				t.Errorf("From(GRPCStatus().Err()) = %v, want %v", got.Proto(), e.Proto())
			}
		})
	}
}

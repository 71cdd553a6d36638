package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/gateway/wire"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// This file is the HTTP/JSON transport: routes under /v1/ that mirror the
// Host API one to one (docs/http.md). Bodies are the protocol's canonical
// JSON, except that tool arguments are natural JSON and invoke results and
// stream chunks carry their payload in natural JSON as well. A request's
// context is owned by net/http and ends when the client goes away, so a
// client that disconnects cancels its invocation.

// Defaults for the HTTP transport.
const (
	// DefaultHTTPMaxBodyBytes bounds a request body; it matches the wire
	// and schema limits.
	DefaultHTTPMaxBodyBytes = 4 << 20
	// DefaultHTTPReadTimeout bounds reading one request body.
	DefaultHTTPReadTimeout = 30 * time.Second
	// DefaultHTTPWriteTimeout bounds one non-streaming response, counted
	// from when its request was read: it must outlast the longest call
	// (the Host's default maximum invocation timeout is 5 minutes).
	DefaultHTTPWriteTimeout = 5*time.Minute + 30*time.Second
)

// HTTPOption configures NewHTTP.
type HTTPOption interface{ apply(*httpOptions) }

type httpOptions struct {
	runtimeOrigins []string
	maxBody        int64
	readTimeout    time.Duration
	writeTimeout   time.Duration
	ready          func(context.Context) error
	log            *slog.Logger
	runtimes       RuntimeServer // nil: /v1/runtimes/connect answers 404
	pingInterval   time.Duration
	pingTimeout    time.Duration
	mounts         []mount
}

// mount is a handler served under a path prefix (see WithMount).
type mount struct {
	prefix string
	h      http.Handler
}

type httpOptionFunc func(*httpOptions)

func (f httpOptionFunc) apply(o *httpOptions) { f(o) }

// WithHTTPMaxBodyBytes bounds request bodies (and WebSocket invoke
// messages); a larger one is refused with PAYLOAD_TOO_LARGE (413) while it
// is read.
func WithHTTPMaxBodyBytes(n int64) HTTPOption {
	return httpOptionFunc(func(o *httpOptions) {
		if n > 0 {
			o.maxBody = n
		}
	})
}

// WithHTTPTimeouts sets the per-request read deadline (reading the body)
// and write deadline (writing a non-streaming response). Streams (SSE,
// WebSocket) clear both once their request is read: they last as long as
// the invocation. Zero leaves a default in place.
func WithHTTPTimeouts(read, write time.Duration) HTTPOption {
	return httpOptionFunc(func(o *httpOptions) {
		if read > 0 {
			o.readTimeout = read
		}
		if write > 0 {
			o.writeTimeout = write
		}
	})
}

// WithReadiness sets the check behind /readyz: 200 when it returns nil,
// else 503 with its message. Without one /readyz is always 200.
func WithReadiness(f func(context.Context) error) HTTPOption {
	return httpOptionFunc(func(o *httpOptions) { o.ready = f })
}

// WithHTTPLogger sets the logger for failures the client cannot be told of.
func WithHTTPLogger(l *slog.Logger) HTTPOption {
	return httpOptionFunc(func(o *httpOptions) {
		if l != nil {
			o.log = l
		}
	})
}

// WithMount serves h at prefix and every path under it, behind the same
// API-key authentication as /v1/ (the caller's principal is in the
// request's context; runtime keys are refused). The handler sets its own
// deadlines.
func WithMount(prefix string, h http.Handler) HTTPOption {
	return httpOptionFunc(func(o *httpOptions) {
		if h != nil && prefix != "" {
			o.mounts = append(o.mounts, mount{prefix: "/" + strings.Trim(prefix, "/"), h: h})
		}
	})
}

// NewHTTP returns the HTTP/JSON handler for api. keys authenticate every
// /v1/ route ("Authorization: Bearer <key>" or "X-API-Key: <key>"); with no
// keys every caller is auth.Anonymous. /healthz, /readyz and
// /v1/openapi.json need no key.
//
// The handler sets per-request read and write deadlines with
// http.ResponseController, so the http.Server serving it should have a
// WriteTimeout and ReadTimeout of 0 (a server-wide WriteTimeout would cut
// long streams) and its own ReadHeaderTimeout and IdleTimeout.
func NewHTTP(api API, keys *auth.KeySet, opts ...HTTPOption) http.Handler {
	return newEcho(api, keys, opts...)
}

type httpServer struct {
	api  API
	keys *auth.KeySet
	o    httpOptions
}

func newEcho(api API, keys *auth.KeySet, opts ...HTTPOption) *echo.Echo {
	o := httpOptions{
		maxBody:      DefaultHTTPMaxBodyBytes,
		readTimeout:  DefaultHTTPReadTimeout,
		writeTimeout: DefaultHTTPWriteTimeout,
		log:          slog.New(slog.DiscardHandler),
		pingInterval: runtime.DefaultHeartbeatInterval,
		pingTimeout:  runtime.DefaultHeartbeatTimeout,
	}
	for _, opt := range opts {
		opt.apply(&o)
	}
	s := &httpServer{api: api, keys: keys, o: o}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.echoError

	e.GET("/healthz", func(c echo.Context) error { return c.JSONBlob(http.StatusOK, []byte(`{"status":"ok"}`)) })
	e.GET("/readyz", s.readyz)
	e.GET("/v1/openapi.json", func(c echo.Context) error { return c.JSONBlob(http.StatusOK, openAPIDocument) })

	// The middleware goes on each route, not on the group: a group with
	// middleware answers 404 for every unmatched path under it, hiding 405.
	v1 := authGroup{e.Group("/v1"), s.authenticate}
	v1.POST("/sessions", s.createSession)
	v1.GET("/sessions", s.listSessions)
	v1.GET("/sessions/:id", s.getSession)
	v1.DELETE("/sessions/:id", s.destroySession)
	v1.GET("/tools", s.listTools)
	v1.GET("/tools/:name", s.getContract)
	v1.POST("/tools/:name/invoke", s.invoke)
	v1.GET("/tools/:name/stream", s.stream)
	v1.POST("/tools/:name/stream", s.stream)
	v1.GET("/tools/:name/ws", s.websocket)
	v1.POST("/invocations/:id/cancel", s.cancelInvocation)
	v1.GET("/invocations/:id", s.getInvocation)
	v1.GET("/stats", s.stats)
	v1.GET("/host", s.hostInfo)
	v1.GET("/runtimes", s.listRuntimes)
	// Runtimes connect with a runtime (or admin) key, which the client API
	// refuses: the route has its own authentication.
	e.GET("/v1/runtimes/connect", s.runtimeConnect, s.authenticateRuntime)
	v1.POST("/admin/manifests", s.loadManifest)
	v1.POST("/admin/manifests/reload", s.reloadManifests)
	v1.PUT("/admin/mode", s.setMode)
	for _, m := range o.mounts {
		// Mounted handlers (the MCP facade) are not part of the REST API:
		// they get the same authentication and nothing else (no deadlines,
		// no error shape), and are not in the OpenAPI document.
		h := echo.WrapHandler(m.h)
		e.Any(m.prefix, h, s.authenticate)
		e.Any(m.prefix+"/*", h, s.authenticate)
	}
	return e
}

type authGroup struct {
	g  *echo.Group
	mw echo.MiddlewareFunc
}

func (a authGroup) GET(p string, h echo.HandlerFunc)    { a.g.GET(p, h, a.mw) }
func (a authGroup) POST(p string, h echo.HandlerFunc)   { a.g.POST(p, h, a.mw) }
func (a authGroup) PUT(p string, h echo.HandlerFunc)    { a.g.PUT(p, h, a.mw) }
func (a authGroup) DELETE(p string, h echo.HandlerFunc) { a.g.DELETE(p, h, a.mw) }

// authenticate puts the caller's principal in the request context. Runtime
// keys may not call the client API; /v1/admin/ needs an admin key (the API
// checks too).
func (s *httpServer) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		p := auth.Anonymous
		if !s.keys.Empty() {
			presented := r.Header.Get("Authorization")
			if presented == "" {
				presented = r.Header.Get("X-API-Key")
			}
			var err error
			if p, err = s.keys.Authenticate(presented); err != nil {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="altar"`)
				return err
			}
			admin := strings.HasPrefix(c.Path(), "/v1/admin/")
			if p.Role == auth.RoleRuntime || (admin && p.Role != auth.RoleAdmin) {
				return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PERMISSION_DENIED, "a %s key may not call %s %s", p.Role, r.Method, c.Path())
			}
		}
		c.SetRequest(r.WithContext(auth.WithPrincipal(r.Context(), p)))
		return next(c)
	}
}

func (s *httpServer) readyz(c echo.Context) error {
	if s.o.ready != nil {
		if err := s.o.ready(c.Request().Context()); err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
		}
	}
	return c.JSONBlob(http.StatusOK, []byte(`{"status":"ready"}`))
}

// statusError is an ALTAR error answered with an HTTP status other than its
// code's (405 and 415, which the code table has no row for).
type statusError struct {
	status int
	err    *altarerr.Error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// echoError is echo's error handler: every failure, echo's own 404 and
// 405 included, is answered in the one error shape.
func (s *httpServer) echoError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := 0
	var se *statusError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &se):
		status, err = se.status, se.err
	case errors.As(err, &he):
		switch he.Code {
		case http.StatusNotFound:
			err = altarerr.New(altarv1.ErrorCode_ERROR_CODE_NOT_FOUND, "no route for %s %s", c.Request().Method, c.Request().URL.Path)
		case http.StatusMethodNotAllowed:
			status = http.StatusMethodNotAllowed
			err = altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "method %s is not allowed on %s", c.Request().Method, c.Request().URL.Path)
		default:
			status = he.Code
			err = altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "%v", he.Message)
		}
	}
	writeError(c.Response(), status, altarerr.From(err))
}

// httpError is the error shape of every HTTP answer (docs/http.md).
type httpError struct {
	Code          string            `json:"code"`
	Message       string            `json:"message"`
	FieldErrors   []httpFieldError  `json:"fieldErrors,omitempty"`
	RetryAfterMs  int64             `json:"retryAfterMs,omitempty"`
	CorrelationID string            `json:"correlationId,omitempty"`
	InvocationID  string            `json:"invocationId,omitempty"`
	Details       map[string]string `json:"details,omitempty"`
}

type httpFieldError struct {
	Path    string `json:"path"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

func errorBody(e *altarerr.Error) httpError {
	p := e.Proto()
	out := httpError{
		Code: altarerr.CodeName(p.GetCode()), Message: p.GetMessage(),
		RetryAfterMs: p.GetRetryAfterMs(), CorrelationID: p.GetCorrelationId(),
		InvocationID: p.GetInvocationId(), Details: p.GetDetails(),
	}
	for _, f := range p.GetFieldErrors() {
		out.FieldErrors = append(out.FieldErrors, httpFieldError{Path: f.GetPath(), Rule: f.GetRule(), Message: f.GetMessage()})
	}
	return out
}

func marshalError(e *altarerr.Error) []byte {
	b, _ := json.Marshal(struct {
		Error httpError `json:"error"`
	}{errorBody(e)})
	return b
}

func writeError(w http.ResponseWriter, status int, e *altarerr.Error) {
	if status == 0 {
		status = e.HTTPStatus()
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(marshalError(e))
}

// setDeadlines bounds reading the request and writing the response. A
// server that cannot set them (httptest recorders) is left as it is.
func (s *httpServer) setDeadlines(c echo.Context) {
	rc := http.NewResponseController(c.Response().Writer)
	now := time.Now()
	_ = rc.SetReadDeadline(now.Add(s.o.readTimeout))
	_ = rc.SetWriteDeadline(now.Add(s.o.readTimeout + s.o.writeTimeout))
}

// bodyRead lifts the read deadline once the body is in: net/http keeps
// reading the connection in the background to notice a client that goes
// away, and a read deadline passing there would cancel the request's
// context, and with it a call that is merely slow.
func bodyRead(c echo.Context) {
	_ = http.NewResponseController(c.Response().Writer).SetReadDeadline(time.Time{})
}

// readBody reads a JSON request body, enforcing the size limit while
// reading. An empty body is nil; a non-empty one must be application/json.
func (s *httpServer) readBody(c echo.Context) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > s.o.maxBody {
		return nil, tooLarge(s.o.maxBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response().Writer, r.Body, s.o.maxBody))
	bodyRead(c)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(s.o.maxBody)
		}
		return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, err, "reading the request body")
	}
	if len(body) == 0 {
		return nil, nil
	}
	if err := checkJSONContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	return body, nil
}

func checkJSONContentType(ct string) error {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		if ct == "" {
			ct = "none"
		}
		return &statusError{status: http.StatusUnsupportedMediaType, err: altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
			"the request body must be application/json, not %s", ct)}
	}
	return nil
}

func tooLarge(limit int64) error {
	msg := fmt.Sprintf("the request body is larger than the limit of %d bytes", limit)
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, "%s", msg).WithField("", "max_bytes", msg)
}

// decodeBody decodes a canonical-JSON body into m (strict protojson: an
// unknown field is refused and named). An empty body leaves m as it is.
func (s *httpServer) decodeBody(c echo.Context, m proto.Message) error {
	body, err := s.readBody(c)
	if err != nil || body == nil {
		return err
	}
	if err := wire.Unmarshal(body, m, wire.FormatJSON, wire.Limits{MaxBytes: int(s.o.maxBody)}); err != nil {
		e := altarerr.From(err)
		if e.Code == altarv1.ErrorCode_ERROR_CODE_MALFORMED_MESSAGE {
			// The protojson error names the offset (line:column) or the
			// unknown field; it is the caller's to fix.
			msg := e.Error()
			if cause := errors.Unwrap(e); cause != nil {
				msg = cause.Error()
			}
			return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, err, "invalid %s body: %s",
				m.ProtoReflect().Descriptor().Name(), strings.TrimPrefix(msg, "proto: "))
		}
		return e
	}
	return nil
}

// respond writes m in canonical JSON.
func respond(c echo.Context, status int, m proto.Message) error {
	b, err := wire.Marshal(m, wire.FormatJSON)
	if err != nil {
		return err
	}
	return c.JSONBlob(status, b)
}

// unary serves a call whose request is the JSON body (if any) plus path
// and query fields set by fill.
func unary[Req proto.Message, Resp proto.Message](s *httpServer, c echo.Context, req Req, fill func(Req) error, call func(context.Context, Req) (Resp, error)) error {
	s.setDeadlines(c)
	if err := s.decodeBody(c, req); err != nil {
		return err
	}
	if fill != nil {
		if err := fill(req); err != nil {
			return err
		}
	}
	resp, err := call(c.Request().Context(), req)
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, resp)
}

// pathParam returns a path parameter, unescaped ("rt-a%2Fecho" is
// "rt-a/echo").
func pathParam(c echo.Context, name string) (string, error) {
	v, err := url.PathUnescape(c.Param(name))
	if err != nil || v == "" {
		return "", altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "invalid path parameter %s %q", name, c.Param(name)).
			WithField(name, "path", "must be a non-empty, well-escaped path segment")
	}
	return v, nil
}

func queryInt32(c echo.Context, name string) (int32, error) {
	v := c.QueryParam(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 0 {
		return 0, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "query parameter %s=%q is not a non-negative integer", name, v).
			WithField(name, "type", "must be a non-negative integer")
	}
	return int32(n), nil
}

func (s *httpServer) createSession(c echo.Context) error {
	return unary(s, c, &altarv1.CreateSessionRequest{}, nil, s.api.CreateSession)
}

func (s *httpServer) listSessions(c echo.Context) error {
	return unary(s, c, &altarv1.ListSessionsRequest{}, func(r *altarv1.ListSessionsRequest) (err error) {
		r.PageToken = c.QueryParam("page_token")
		r.PageSize, err = queryInt32(c, "page_size")
		return err
	}, s.api.ListSessions)
}

func (s *httpServer) getSession(c echo.Context) error {
	return unary(s, c, &altarv1.GetSessionRequest{}, func(r *altarv1.GetSessionRequest) (err error) {
		r.SessionId, err = pathParam(c, "id")
		return err
	}, s.api.GetSession)
}

func (s *httpServer) destroySession(c echo.Context) error {
	return unary(s, c, &altarv1.DestroySessionRequest{}, func(r *altarv1.DestroySessionRequest) (err error) {
		r.SessionId, err = pathParam(c, "id")
		return err
	}, s.api.DestroySession)
}

func (s *httpServer) listTools(c echo.Context) error {
	return unary(s, c, &altarv1.ListToolsRequest{}, func(r *altarv1.ListToolsRequest) (err error) {
		r.SessionId, r.PageToken = c.QueryParam("session_id"), c.QueryParam("page_token")
		r.PageSize, err = queryInt32(c, "page_size")
		return err
	}, s.api.ListTools)
}

func (s *httpServer) getContract(c echo.Context) error {
	return unary(s, c, &altarv1.GetContractRequest{}, func(r *altarv1.GetContractRequest) (err error) {
		r.SessionId, r.Version = c.QueryParam("session_id"), c.QueryParam("version")
		r.ToolName, err = pathParam(c, "name")
		return err
	}, s.api.GetContract)
}

func (s *httpServer) cancelInvocation(c echo.Context) error {
	return unary(s, c, &altarv1.CancelInvocationRequest{}, func(r *altarv1.CancelInvocationRequest) (err error) {
		r.InvocationId, err = pathParam(c, "id")
		return err
	}, s.api.CancelInvocation)
}

func (s *httpServer) getInvocation(c echo.Context) error {
	return unary(s, c, &altarv1.GetInvocationRequest{}, func(r *altarv1.GetInvocationRequest) (err error) {
		r.InvocationId, err = pathParam(c, "id")
		return err
	}, s.api.GetInvocation)
}

func (s *httpServer) stats(c echo.Context) error {
	return unary(s, c, &altarv1.GetToolStatsRequest{}, func(r *altarv1.GetToolStatsRequest) error {
		r.ToolName = c.QueryParam("tool_name")
		return nil
	}, s.api.GetToolStats)
}

func (s *httpServer) hostInfo(c echo.Context) error {
	return unary(s, c, &altarv1.GetHostInfoRequest{}, nil, s.api.GetHostInfo)
}

func (s *httpServer) listRuntimes(c echo.Context) error {
	return unary(s, c, &altarv1.ListRuntimesRequest{}, nil, s.api.ListRuntimes)
}

func (s *httpServer) loadManifest(c echo.Context) error {
	return unary(s, c, &altarv1.LoadManifestRequest{}, nil, s.api.LoadManifest)
}

func (s *httpServer) reloadManifests(c echo.Context) error {
	return unary(s, c, &altarv1.ReloadManifestsRequest{}, nil, s.api.ReloadManifests)
}

func (s *httpServer) setMode(c echo.Context) error {
	return unary(s, c, &altarv1.SetHostModeRequest{}, nil, s.api.SetHostMode)
}

package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestHTTPErrors sends every kind of bad request to a keyed gateway and
// checks the exact HTTP status, the ALTAR error code and, where the API
// promises one, the detail: the field path of a wrong type, the unknown
// field's name, WWW-Authenticate on 401, and no hint which part of a key was
// wrong (a wrong key answers exactly as a missing one).
func TestHTTPErrors(t *testing.T) {
	needBinaries(t)
	g := startGateway(t, newKeys(t))
	startRuntime(t, g) // wrong types are refused against the contract either way; a runtime makes the 404 a real miss
	g.waitReady(t)

	const invoke = "/v1/tools/add/invoke"
	const good = `{"parameters":{"a":1,"b":2}}`
	// A body just over the default 4 MiB limit, still valid JSON.
	oversize := `{"parameters":{"a":1,"b":2},"correlationId":"` + strings.Repeat("x", 4<<20) + `"}`

	for _, tc := range []struct {
		name              string
		method, path, key string
		contentType, body string
		status            int
		code              string
		check             func(t *testing.T, r reply, e apiError)
	}{
		{
			name: "MalformedJSON", method: "POST", path: invoke, key: g.keys.client,
			contentType: "application/json", body: `{"parameters":{"a":1,`,
			status: http.StatusBadRequest, code: "INVALID_REQUEST",
		},
		{
			name: "OversizeBody", method: "POST", path: invoke, key: g.keys.client,
			contentType: "application/json", body: oversize,
			status: http.StatusRequestEntityTooLarge, code: "PAYLOAD_TOO_LARGE",
		},
		{
			name: "UnknownField", method: "POST", path: invoke, key: g.keys.client,
			contentType: "application/json", body: `{"parameters":{"a":1,"b":2},"bogus":true}`,
			status: http.StatusBadRequest, code: "INVALID_REQUEST",
			check: func(t *testing.T, r reply, e apiError) {
				if !strings.Contains(e.Error.Message, "bogus") {
					t.Errorf("the message does not name the unknown field: %s", r)
				}
			},
		},
		{
			name: "WrongTypes", method: "POST", path: invoke, key: g.keys.client,
			contentType: "application/json", body: `{"parameters":{"a":"one","b":2}}`,
			status: http.StatusBadRequest, code: "INVALID_ARGUMENTS",
			check: func(t *testing.T, r reply, e apiError) {
				for _, f := range e.Error.FieldErrors {
					if f.Path == "/a" {
						return
					}
				}
				t.Errorf("no field error at /a: %s", r)
			},
		},
		{
			name: "WrongContentType", method: "POST", path: invoke, key: g.keys.client,
			contentType: "text/plain", body: good,
			status: http.StatusUnsupportedMediaType, code: "INVALID_REQUEST",
		},
		{
			name: "MissingKey", method: "POST", path: invoke,
			contentType: "application/json", body: good,
			status: http.StatusUnauthorized, code: "UNAUTHENTICATED",
		},
		{
			name: "WrongKey", method: "POST", path: invoke, key: "not-" + g.keys.client,
			contentType: "application/json", body: good,
			status: http.StatusUnauthorized, code: "UNAUTHENTICATED",
		},
		{
			name: "RuntimeKeyOnClientAPI", method: "POST", path: invoke, key: g.keys.runtime,
			contentType: "application/json", body: good,
			status: http.StatusForbidden, code: "PERMISSION_DENIED",
		},
		{
			name: "ClientKeyOnAdminRoute", method: "POST", path: "/v1/admin/manifests/reload", key: g.keys.client,
			status: http.StatusForbidden, code: "PERMISSION_DENIED",
		},
		{
			name: "RuntimeKeyOnAdminRoute", method: "POST", path: "/v1/admin/manifests/reload", key: g.keys.runtime,
			status: http.StatusForbidden, code: "PERMISSION_DENIED",
		},
		{
			name: "UnknownTool", method: "POST", path: "/v1/tools/no-such-tool/invoke", key: g.keys.client,
			contentType: "application/json", body: good,
			status: http.StatusNotFound, code: "TOOL_NOT_FOUND",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := g.do(t, tc.method, tc.path, tc.key, tc.contentType, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %s, want %d", r, tc.status)
			}
			e := r.apiError(t)
			if e.Error.Code != tc.code {
				t.Errorf("code %q, want %q: %s", e.Error.Code, tc.code, r)
			}
			if tc.check != nil {
				tc.check(t, r, e)
			}
		})
	}

	t.Run("NoHintWhichKeyPartWasWrong", func(t *testing.T) {
		missing := g.do(t, "POST", invoke, "", "application/json", good)
		wrong := g.do(t, "POST", invoke, "not-"+g.keys.client, "application/json", good)
		for _, r := range []reply{missing, wrong} {
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate %q on %s", got, r)
			}
		}
		if m, w := missing.apiError(t).Error.Message, wrong.apiError(t).Error.Message; m != w {
			t.Errorf("a wrong key answers %q, a missing key %q: the difference is a hint", w, m)
		}
	})
}

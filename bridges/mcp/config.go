package mcp

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Transports a Server may use.
const (
	TransportStdio = "stdio"
	TransportHTTP  = "http" // streamable HTTP
	TransportSSE   = "sse"  // the 2024-11-05 HTTP+SSE transport
)

// TransportName is what the bridge's runtimes report as their transport.
const TransportName = "bridge:mcp"

// PrefixSeparator joins a server's prefix and a tool's name into a contract
// name: "everything.echo". "." is legal in contract names and in MCP tool
// names, and never appears in a prefix.
const PrefixSeparator = "."

// DefaultTimeout bounds connecting, initializing and listing tools when a
// Server sets no timeout.
const DefaultTimeout = 30 * time.Second

// Server is one MCP server to bridge. It is plain data; Validate checks it
// without I/O.
type Server struct {
	// Name identifies the server in the lock file, in `altar contracts` and
	// in the runtime id ("mcp:<name>").
	Name string
	// Prefix starts every contract name ("<prefix>.<tool>"); Name when
	// empty. Two servers never share one.
	Prefix string
	// Transport is stdio, http (streamable HTTP) or sse.
	Transport string

	// Command, Args, Env ("KEY=value", added to the gateway's environment)
	// and Dir start a stdio server.
	Command string
	Args    []string
	Env     []string
	Dir     string

	// URL, Headers and a bearer token (read from the environment variable
	// BearerTokenEnv or the file BearerTokenFile, never logged) reach an
	// HTTP or SSE server.
	URL             string
	Headers         map[string]string
	BearerTokenEnv  string
	BearerTokenFile string

	// Timeout bounds connecting, initializing and listing tools; zero is
	// DefaultTimeout. A call is bounded by its own deadline.
	Timeout time.Duration
}

// prefix is the contract-name prefix.
func (s Server) prefix() string {
	if s.Prefix != "" {
		return s.Prefix
	}
	return s.Name
}

// RuntimeID is the id of the server's runtime.
func (s Server) RuntimeID() string { return "mcp:" + s.Name }

func (s Server) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

// Validate checks the configuration, naming each bad field (path is the
// field's prefix in error paths, such as "mcp_servers[0]").
func (s Server) Validate(path string) error {
	e := altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, "invalid MCP server %q", s.Name)
	f := func(field, rule, format string, args ...any) {
		e.WithField(path+"."+field, rule, fmt.Sprintf(format, args...))
	}
	if err := checkPrefix(s.Name); err != nil {
		f("name", "value", "%v", err)
	}
	if s.Prefix != "" {
		if err := checkPrefix(s.Prefix); err != nil {
			f("prefix", "value", "%v", err)
		}
	}
	switch s.Transport {
	case TransportStdio:
		if strings.TrimSpace(s.Command) == "" {
			f("command", "required", "a stdio server needs a command")
		}
		if s.URL != "" {
			f("url", "value", "a stdio server has no url; set transport to http or sse")
		}
		for i, kv := range s.Env {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
				f(fmt.Sprintf("env[%d]", i), "value", "want KEY=value")
			}
		}
	case TransportHTTP, TransportSSE:
		u, err := url.Parse(s.URL)
		switch {
		case s.URL == "":
			f("url", "required", "an %s server needs a url", s.Transport)
		case err != nil:
			f("url", "value", "not a URL: %v", err)
		case u.Scheme != "http" && u.Scheme != "https":
			f("url", "value", "the scheme must be http or https, not %q", u.Scheme)
		case u.Host == "":
			f("url", "value", "the URL has no host")
		}
		if s.Command != "" {
			f("command", "value", "an %s server is not started by the gateway; set transport to stdio", s.Transport)
		}
		if s.BearerTokenEnv != "" && s.BearerTokenFile != "" {
			f("bearer_token_file", "value", "set bearer_token_env or bearer_token_file, not both")
		}
		for k := range s.Headers {
			if k == "" || strings.ContainsAny(k, " :\r\n") {
				f("headers", "value", "%q is not a header name", k)
			}
		}
	case "":
		f("transport", "required", "want stdio, http or sse")
	default:
		f("transport", "value", "%q: want stdio, http or sse", s.Transport)
	}
	if s.Timeout < 0 {
		f("timeout", "value", "%v is negative", s.Timeout)
	}
	if len(e.Fields) > 0 {
		return e
	}
	return nil
}

// ValidateServers checks each server and that no two share a name or a
// prefix; path is the list's key, such as "mcp_servers".
func ValidateServers(path string, servers []Server) error {
	e := altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, "invalid MCP servers")
	names, prefixes := map[string]int{}, map[string]int{}
	for i, s := range servers {
		p := fmt.Sprintf("%s[%d]", path, i)
		if err := s.Validate(p); err != nil {
			e.Fields = append(e.Fields, altarerr.From(err).Fields...)
		}
		if j, dup := names[s.Name]; dup && s.Name != "" {
			e.WithField(p+".name", "value", fmt.Sprintf("%q is also the name of %s[%d]", s.Name, path, j))
		} else {
			names[s.Name] = i
		}
		if j, dup := prefixes[s.prefix()]; dup && s.prefix() != "" {
			e.WithField(p+".prefix", "value", fmt.Sprintf("prefix %q is also the prefix of %s[%d]; tools would collide", s.prefix(), path, j))
		} else {
			prefixes[s.prefix()] = i
		}
	}
	if len(e.Fields) > 0 {
		return e
	}
	return nil
}

// checkPrefix allows a letter or "_", then letters, digits, "_" and "-",
// at most 32 characters: a prefix never contains the separator.
func checkPrefix(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	if len(s) > 32 {
		return fmt.Errorf("%q is longer than 32 characters", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-'):
		default:
			return fmt.Errorf("%q: a letter or \"_\" first, then letters, digits, \"_\" and \"-\"", s)
		}
	}
	return nil
}

// bearerToken reads the server's bearer token, "" when none is configured.
// The token is never logged; an error names where it was looked for only.
func (s Server) bearerToken() (string, error) {
	switch {
	case s.BearerTokenEnv != "":
		v, ok := os.LookupEnv(s.BearerTokenEnv)
		if !ok || v == "" {
			return "", altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG,
				"MCP server %q: the environment variable %s (bearer_token_env) is not set", s.Name, s.BearerTokenEnv)
		}
		return strings.TrimSpace(v), nil
	case s.BearerTokenFile != "":
		data, err := os.ReadFile(s.BearerTokenFile)
		if err != nil {
			return "", altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, err,
				"MCP server %q: reading bearer_token_file", s.Name)
		}
		if len(data) > 16<<10 {
			return "", altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG,
				"MCP server %q: bearer_token_file is larger than 16 KiB", s.Name)
		}
		return strings.TrimSpace(string(data)), nil
	}
	return "", nil
}

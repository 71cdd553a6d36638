package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	mcpbridge "github.com/altar-gateway/altar/bridges/mcp"
	"github.com/altar-gateway/altar/gateway/altarerr"
)

// MCPServer is one MCP server the gateway bridges (bridges/mcp.Server,
// which it maps onto): started over stdio, or reached over streamable HTTP
// or SSE. Its tools become contracts named "<prefix>.<tool>".
type MCPServer struct {
	// Name identifies the server in the lock file and in
	// `altar contracts`; its runtime id is "mcp:<name>".
	Name string `yaml:"name"`
	// Prefix starts its contract names; name when empty.
	Prefix string `yaml:"prefix,omitempty"`
	// Transport is stdio, http (streamable HTTP) or sse.
	Transport string `yaml:"transport"`
	// Command, Args, Env (NAME=value pairs added to the gateway's
	// environment) and Dir start a stdio server.
	Command string   `yaml:"command,omitempty"`
	Args    []string `yaml:"args,omitempty"`
	Env     []string `yaml:"env,omitempty"`
	Dir     string   `yaml:"dir,omitempty"`
	// URL and Headers ("Name: value") reach an HTTP or SSE server; its
	// bearer token is read from the environment variable BearerTokenEnv or
	// the file BearerTokenFile, never from altar.yaml, and never logged.
	URL             string   `yaml:"url,omitempty"`
	Headers         []string `yaml:"headers,omitempty"`
	BearerTokenEnv  string   `yaml:"bearer_token_env,omitempty"`
	BearerTokenFile string   `yaml:"bearer_token_file,omitempty"`
	// Timeout bounds connecting, initializing and listing tools (30s when
	// zero).
	Timeout Duration `yaml:"timeout,omitempty"`
}

// Bridge is the server's bridge configuration.
func (m MCPServer) Bridge() mcpbridge.Server {
	s := mcpbridge.Server{
		Name: m.Name, Prefix: m.Prefix, Transport: m.Transport,
		Command: m.Command, Args: slices.Clone(m.Args), Env: slices.Clone(m.Env), Dir: m.Dir,
		URL: m.URL, BearerTokenEnv: m.BearerTokenEnv, BearerTokenFile: m.BearerTokenFile,
		Timeout: time.Duration(m.Timeout),
	}
	for _, h := range m.Headers {
		if k, v, ok := strings.Cut(h, ":"); ok {
			if s.Headers == nil {
				s.Headers = map[string]string{}
			}
			s.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return s
}

// MCPBridges are the bridge configurations of every MCP server.
func (f *File) MCPBridges() []mcpbridge.Server {
	out := make([]mcpbridge.Server, len(f.MCPServers))
	for i, m := range f.MCPServers {
		out[i] = m.Bridge()
	}
	return out
}

// MCPLockPath is the MCP lock file: mcp_lock, else altar-mcp.lock.json in
// the directory of configPath (the file Load read; the working directory
// when there was none).
func (f *File) MCPLockPath(configPath string) string {
	if f.MCPLock != "" {
		return f.MCPLock
	}
	dir := "."
	if configPath != "" {
		dir = filepath.Dir(configPath)
	}
	return filepath.Join(dir, mcpbridge.DefaultLockFile)
}

// checkMCPServers reports each MCP server's field errors at its key path
// (mcp_servers[i].field) with the line it came from.
func (l *loader) checkMCPServers(f *File) {
	for i, m := range f.MCPServers {
		path := fmt.Sprintf("mcp_servers[%d]", i)
		for j, h := range m.Headers {
			if k, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(k) == "" {
				p := fmt.Sprintf("%s.headers[%d]", path, j)
				// Never echo the value: a header may carry a secret.
				l.fail(l.nearestOrigin(p), p, RuleValue, "want \"Name: value\"")
			}
		}
	}
	var e *altarerr.Error
	if err := mcpbridge.ValidateServers("mcp_servers", f.MCPBridges()); errors.As(err, &e) {
		for _, fe := range e.Fields {
			l.fail(l.nearestOrigin(fe.GetPath()), fe.GetPath(), RuleValue, "%s", fe.GetMessage())
		}
	}
}

// nearestOrigin is where the value at path came from: the field, else the
// nearest enclosing one that has an origin (mcp_servers[0].env[2] →
// mcp_servers[0].env → mcp_servers[0]; invoke.retry.jitter → invoke.retry).
func (l *loader) nearestOrigin(path string) origin {
	for p := path; p != ""; {
		if o, ok := l.origin[p]; ok {
			return o
		}
		switch i := strings.LastIndexAny(p, ".["); {
		case i < 0:
			p = ""
		default:
			p = p[:i]
		}
	}
	return origin{}
}

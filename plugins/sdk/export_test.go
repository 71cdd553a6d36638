package sdk

import (
	"context"
	"io"
)

// ServePluginWith is ServePlugin reading the environment through getenv
// and writing the handshake line to stdout, for tests.
func (r *Runtime) ServePluginWith(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	return r.servePlugin(ctx, getenv, stdout)
}

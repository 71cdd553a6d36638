package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/config"
)

// Load reads the defaults, then the file, then the ALTAR_* variables, then
// any flags; every problem comes back at once with the key's path and where
// its value came from.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "altar-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "altar.yaml")
	_ = os.WriteFile(path, []byte("grpc:\n  addr: 127.0.0.1:0\nsessions:\n  max_ttl: 2h\n"), 0o600)

	f, err := config.Load(path, []string{"ALTAR_SESSIONS_DEFAULT_TTL=10m"},
		config.Setting{Path: "log.level", Value: "debug", Source: "--log-level"})
	if err != nil {
		panic(err)
	}
	cfg := f.Config() // a gateway.Config, for gateway.New
	fmt.Println(cfg.GRPCAddr, cfg.Sessions.DefaultTTL, cfg.Sessions.MaxTTL, f.Log.Level)

	_, err = config.Load(path, []string{"ALTAR_SESSIONS_MAX_TTL=forever", "ALTAR_GRPC_ADRR=x"})
	var e *altarerr.Error
	if errors.As(err, &e) {
		for _, fe := range e.Fields {
			fmt.Println(fe.GetPath(), "|", fe.GetMessage())
		}
	}
	// Output:
	// 127.0.0.1:0 10m0s 2h0m0s debug
	// sessions.max_ttl | from ALTAR_SESSIONS_MAX_TTL: "forever" is not a duration; write it as a number with a unit: "30s", "5m", "1h30m"
	//  | ALTAR_GRPC_ADRR matches no configuration key; did you mean ALTAR_GRPC_ADDR? (the keys and their variables are in docs/configuration.md)
}

package launch_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/plugins/launch"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func TestConfigValidate(t *testing.T) {
	good := launch.Config{Name: "calc", Command: "/bin/calc"}
	tests := []struct {
		name   string
		edit   func(*launch.Config)
		fields []string
	}{
		{"minimal", func(*launch.Config) {}, nil},
		{"full", func(c *launch.Config) {
			c.Args, c.Env, c.Dir = []string{"-v"}, []string{"A=1", "B="}, "/srv"
			c.SHA256 = strings.Repeat("0a", 32)
			c.StartTimeout = time.Second
			c.Restart = launch.RestartPolicy{MinBackoff: time.Second, MaxBackoff: time.Minute, Budget: 2, Window: time.Hour}
		}, nil},
		{"empty name", func(c *launch.Config) { c.Name = "" }, []string{"name"}},
		{"name with a slash", func(c *launch.Config) { c.Name = "a/b" }, []string{"name"}},
		{"no command", func(c *launch.Config) { c.Command = " " }, []string{"command"}},
		{"env without =", func(c *launch.Config) { c.Env = []string{"A=1", "B"} }, []string{"env[1]"}},
		{"env reserved", func(c *launch.Config) { c.Env = []string{"ALTAR_PLUGIN=x", "ALTAR_RUNTIME_ID=y"} }, []string{"env[0]", "env[1]"}},
		{"short hash", func(c *launch.Config) { c.SHA256 = "abc" }, []string{"sha256"}},
		{"upper-case hash", func(c *launch.Config) { c.SHA256 = strings.Repeat("0A", 32) }, []string{"sha256"}},
		{"sha256: prefix", func(c *launch.Config) { c.SHA256 = "sha256:" + strings.Repeat("0a", 32) }, []string{"sha256"}},
		{"negative durations", func(c *launch.Config) {
			c.StartTimeout, c.Restart.MinBackoff, c.Restart.MaxBackoff, c.Restart.Window = -1, -1, -1, -1
		}, []string{"start_timeout", "restart.min_backoff", "restart.max_backoff", "restart.window"}},
		{"negative budget", func(c *launch.Config) { c.Restart.Budget = -1 }, []string{"restart.budget"}},
		{"min over max", func(c *launch.Config) { c.Restart.MinBackoff, c.Restart.MaxBackoff = time.Minute, time.Second }, []string{"restart.min_backoff"}},
		{"min over the default max", func(c *launch.Config) { c.Restart.MinBackoff = time.Hour }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			err := c.Validate()
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("Validate = %v; want nil", err)
				}
				return
			}
			var e *altarerr.Error
			if !errors.As(err, &e) || e.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG {
				t.Fatalf("Validate = %v; want an INVALID_CONFIG error", err)
			}
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.GetPath())
			}
			if !reflect.DeepEqual(got, tt.fields) {
				t.Fatalf("fields = %q; want %q", got, tt.fields)
			}
		})
	}
}

func TestNewRefusesDuplicateNames(t *testing.T) {
	_, err := launch.New(nil, []launch.Config{
		{Name: "a", Command: "x"}, {Name: "b", Command: ""}, {Name: "a", Command: "y"},
	})
	var e *altarerr.Error
	if !errors.As(err, &e) {
		t.Fatalf("New = %v; want an *altarerr.Error", err)
	}
	var got []string
	for _, f := range e.Fields {
		got = append(got, f.GetPath())
	}
	if want := []string{"plugins[1].command", "plugins[2].name"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("fields = %q; want %q", got, want)
	}
}

func TestStartAfterClose(t *testing.T) {
	sup, err := launch.New(nil, []launch.Config{{Name: "a", Command: "/bin/true"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := sup.Start(context.Background()); err == nil {
		t.Fatal("Start after Close started plugins")
	}
	if err := sup.Close(context.Background()); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

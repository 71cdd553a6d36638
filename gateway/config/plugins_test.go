package config_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway/config"
	"github.com/altar-gateway/altar/plugins/launch"
)

func TestPluginsDecode(t *testing.T) {
	path := writeFile(t, `
plugins:
  - name: calc
    command: ./bin/calculator
    args: [-v]
    env: ["CALC_PRECISION=10"]
    dir: /srv/plugins
    sha256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08
    start_timeout: 5s
    restart: {min_backoff: 100ms, max_backoff: 10s, budget: 3, window: 5m}
  - name: weather
    command: weather-plugin
`)
	f, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []launch.Config{{
		Name:         "calc",
		Command:      "./bin/calculator",
		Args:         []string{"-v"},
		Env:          []string{"CALC_PRECISION=10"},
		Dir:          "/srv/plugins",
		SHA256:       "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		StartTimeout: 5 * time.Second,
		Restart:      launch.RestartPolicy{MinBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second, Budget: 3, Window: 5 * time.Minute},
	}, {Name: "weather", Command: "weather-plugin"}}
	if got := f.PluginConfigs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("PluginConfigs =\n%+v\nwant\n%+v", got, want)
	}
	for _, c := range f.PluginConfigs() {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
	}
}

func TestPluginsInvalid(t *testing.T) {
	tests := []struct {
		name, yaml string
		paths      []string
	}{
		{"no command", "plugins:\n  - name: calc\n", []string{"plugins[0].command"}},
		{"bad name", "plugins:\n  - {name: 'a b', command: x}\n", []string{"plugins[0].name"}},
		{"duplicate name", "plugins:\n  - {name: a, command: x}\n  - {name: a, command: y}\n", []string{"plugins[1].name"}},
		{"bad env", "plugins:\n  - {name: a, command: x, env: [NOVALUE, 'ALTAR_PLUGIN=1']}\n", []string{"plugins[0].env[0]", "plugins[0].env[1]"}},
		{"bad hash", "plugins:\n  - {name: a, command: x, sha256: abc}\n", []string{"plugins[0].sha256"}},
		{"backoff order", "plugins:\n  - {name: a, command: x, restart: {min_backoff: 1m, max_backoff: 1s}}\n", []string{"plugins[0].restart.min_backoff"}},
		{"negative budget", "plugins:\n  - {name: a, command: x, restart: {budget: -1}}\n", []string{"plugins[0].restart.budget"}},
		{"unknown key", "plugins:\n  - {name: a, command: x, cmd: y}\n", []string{"plugins[0].cmd"}},
		{"not a list", "plugins: {name: a}\n", []string{"plugins"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(writeFile(t, tt.yaml), nil)
			e := configError(t, err)
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.GetPath())
				if f.GetLine() == 0 {
					t.Errorf("%s: no line", f.GetPath())
				}
			}
			if !reflect.DeepEqual(got, tt.paths) {
				t.Fatalf("field paths = %q, want %q", got, tt.paths)
			}
		})
	}
}

func TestPluginsHaveNoVariable(t *testing.T) {
	for _, v := range config.Variables() {
		if v.Path == "plugins" || len(v.Path) > 8 && v.Path[:8] == "plugins." {
			t.Errorf("variable %s for %s: plugins are set in the file only", v.Name, v.Path)
		}
	}
}

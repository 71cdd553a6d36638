package launch

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/plugins/handshake"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// The handshake values of ALTAR runtime plugins (see plugins/handshake,
// where both sides take them from).
const (
	ProtocolVersion  = handshake.ProtocolVersion
	MagicCookieKey   = handshake.MagicCookieKey
	MagicCookieValue = handshake.MagicCookieValue
	EnvRuntimeID     = handshake.EnvRuntimeID
)

// Handshake is go-plugin's handshake configuration for ALTAR runtimes.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   MagicCookieKey,
	MagicCookieValue: MagicCookieValue,
}

// Defaults of a plugin's Config.
const (
	DefaultStartTimeout = 10 * time.Second
	DefaultMinBackoff   = 250 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
	DefaultBudget       = 5
	DefaultWindow       = 10 * time.Minute
)

// Config is one plugin: the runtime the Host launches and supervises. It is
// plain data; Validate checks it without I/O, and zero fields take the
// defaults.
type Config struct {
	// Name is the plugin's runtime id: the Host sets it in the child's
	// ALTAR_RUNTIME_ID, and the child must announce exactly it.
	Name string
	// Command is the executable: an absolute path, a path relative to Dir
	// (or to the Host's working directory when Dir is empty), or a name
	// looked up in PATH.
	Command string
	// Args are the command's arguments.
	Args []string
	// Env are "NAME=value" pairs added to the child's environment. The
	// child inherits the Host's environment except its ALTAR_* variables
	// (the Host's own configuration); Env and ALTAR_RUNTIME_ID come after.
	Env []string
	// Dir is the child's working directory ("" is the Host's).
	Dir string
	// SHA256 pins the executable: the lower-case hex SHA-256 of the file
	// (`altar plugin hash PATH` prints it). When set, a file that does not
	// match is not started. "" starts whatever the file is.
	SHA256 string
	// StartTimeout bounds the start: the child printing its handshake line
	// and reporting SERVING.
	StartTimeout time.Duration
	// Restart is what happens when the plugin's process or its stream ends
	// while the Host runs.
	Restart RestartPolicy
}

// RestartPolicy restarts a plugin that ended (crashed, exited, or lost its
// stream) with exponential backoff, at most Budget times within any Window;
// beyond that the plugin stays down (StateFailed) until the Host restarts.
type RestartPolicy struct {
	// MinBackoff is the delay before the first restart; each consecutive
	// failed run doubles it, up to MaxBackoff. A run that lasted MaxBackoff
	// or longer starts the doubling again.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Budget is how many restarts are allowed within Window.
	Budget int
	Window time.Duration
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the configuration. Its field errors name the fields by
// their altar.yaml keys ("command", "restart.max_backoff"), relative to the
// plugin; the configuration file prefixes them with "plugins[i].".
func (c Config) Validate() error {
	e := altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, "invalid plugin %q", c.Name)
	if !namePattern.MatchString(c.Name) {
		e.WithField("name", "pattern", fmt.Sprintf("%q must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit (it is the plugin's runtime id)", c.Name))
	}
	if strings.TrimSpace(c.Command) == "" {
		e.WithField("command", "required", "must not be empty")
	}
	for i, kv := range c.Env {
		name, _, ok := strings.Cut(kv, "=")
		switch {
		case !ok || !envNamePattern.MatchString(name):
			e.WithField(fmt.Sprintf("env[%d]", i), "pattern", "must be NAME=value with NAME letters, digits and '_'")
		case name == MagicCookieKey || name == EnvRuntimeID:
			e.WithField(fmt.Sprintf("env[%d]", i), "reserved", name+" is set by the Host")
		}
	}
	if c.SHA256 != "" {
		if b, err := hex.DecodeString(c.SHA256); err != nil || len(b) != 32 || c.SHA256 != strings.ToLower(c.SHA256) {
			e.WithField("sha256", "pattern", "must be the 64 lower-case hex characters of the executable's SHA-256 (`altar plugin hash PATH` prints it)")
		}
	}
	nonNegative := func(path string, d time.Duration) {
		if d < 0 {
			e.WithField(path, "range", fmt.Sprintf("%v must not be negative (0 takes the default)", d))
		}
	}
	nonNegative("start_timeout", c.StartTimeout)
	nonNegative("restart.min_backoff", c.Restart.MinBackoff)
	nonNegative("restart.max_backoff", c.Restart.MaxBackoff)
	nonNegative("restart.window", c.Restart.Window)
	if c.Restart.Budget < 0 {
		e.WithField("restart.budget", "range", fmt.Sprintf("%d must not be negative (0 takes the default, %d)", c.Restart.Budget, DefaultBudget))
	}
	if d := c.withDefaults(); d.Restart.MinBackoff > d.Restart.MaxBackoff {
		e.WithField("restart.min_backoff", "range", fmt.Sprintf("%v is longer than restart.max_backoff %v", d.Restart.MinBackoff, d.Restart.MaxBackoff))
	}
	if len(e.Fields) > 0 {
		return e
	}
	return nil
}

func (c Config) withDefaults() Config {
	or := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	or(&c.StartTimeout, DefaultStartTimeout)
	or(&c.Restart.MinBackoff, DefaultMinBackoff)
	or(&c.Restart.MaxBackoff, max(DefaultMaxBackoff, c.Restart.MinBackoff))
	or(&c.Restart.Window, DefaultWindow)
	if c.Restart.Budget <= 0 {
		c.Restart.Budget = DefaultBudget
	}
	return c
}

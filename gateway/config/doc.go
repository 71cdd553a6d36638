// Package config is the gateway's configuration file, altar.yaml, and the
// ALTAR_* environment variables that mirror every key in it.
//
// A File is pure data. Load builds one in a fixed order: the defaults of
// gateway.DefaultConfig first, then the file, then the environment, then any
// Settings the caller passes (command-line flags), each later source
// winning. Decoding is strict: an unknown key in the file, an ALTAR_*
// variable that names no key, a value of the wrong YAML kind and a value that
// does not parse are all refused, every one of them reported at once in one
// *altarerr.Error (ERROR_CODE_INVALID_CONFIG) whose field errors carry the
// key's path ("sessions.max_ttl") and where the value came from: the file's
// line, or the variable or flag that set it.
//
// File.Config maps a loaded File onto gateway.Config, whose Validate checks
// the rules that span keys. Nothing in this package listens, dials or starts
// anything; Load reads the one file it is given and nothing else.
package config

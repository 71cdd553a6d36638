package schema

// Limits bound what untrusted input may cost. A breach is a validation
// error (ERROR_CODE_PAYLOAD_TOO_LARGE) naming the limit, never a stack
// overflow or an unbounded allocation. Zero fields take the defaults.
type Limits struct {
	// MaxDepth is the deepest nesting of values: the top-level value is
	// depth 1, and each value inside an array or object is one deeper
	// (scalars included).
	MaxDepth int
	// MaxBytes is the largest encoded document (JSON or protobuf).
	MaxBytes int
	// MaxProperties is the most fields one object may have.
	MaxProperties int
	// MaxItems is the most items one array may have.
	MaxItems int
	// MaxStringBytes is the longest string or bytes value.
	MaxStringBytes int
}

// Default limits: generous for tool arguments, small enough that a hostile
// payload cannot exhaust the Host.
const (
	DefaultMaxDepth       = 64
	DefaultMaxBytes       = 4 << 20
	DefaultMaxProperties  = 1024
	DefaultMaxItems       = 100_000
	DefaultMaxStringBytes = 1 << 20
)

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{
		MaxDepth:       DefaultMaxDepth,
		MaxBytes:       DefaultMaxBytes,
		MaxProperties:  DefaultMaxProperties,
		MaxItems:       DefaultMaxItems,
		MaxStringBytes: DefaultMaxStringBytes,
	}
}

// orDefault returns l with every zero field set to its default.
func (l Limits) orDefault() Limits {
	d := DefaultLimits()
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxProperties <= 0 {
		l.MaxProperties = d.MaxProperties
	}
	if l.MaxItems <= 0 {
		l.MaxItems = d.MaxItems
	}
	if l.MaxStringBytes <= 0 {
		l.MaxStringBytes = d.MaxStringBytes
	}
	return l
}

package altarv1

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ProtocolVersion is the version of the ALTAR protocol this package defines.
// Peers announce it; the Host refuses a different major version.
const ProtocolVersion = "1.0"

// Every capability constant below has a one-line comment of the form
// "Name: meaning"; the capability table of docs/protocol.md is generated from
// those comments and KnownCapabilities (go test ./docs -update).

// Compliance-level markers. A peer at level N declares every marker from
// altar_level_1 up to altar_level_N, together with the feature capabilities
// the level requires (see CapabilitiesForLevel).
const (
	// CapabilityLevel1: claims Level 1, the core (announce, sessions, fulfil, synchronous calls, STRICT and DEVELOPMENT modes).
	CapabilityLevel1 = "altar_level_1"
	// CapabilityLevel2: claims Level 2 (Level 1 plus streaming, cancellation, correlation, security context, rich errors).
	CapabilityLevel2 = "altar_level_2"
	// CapabilityLevel3: claims Level 3 (Level 2 plus trace propagation and tenant isolation).
	CapabilityLevel3 = "altar_level_3"
)

// Feature capabilities a runtime (or a Host) implements on the wire.
const (
	// CapabilityHeartbeat: sends a Heartbeat every negotiated interval and treats a silent peer as gone.
	CapabilityHeartbeat = "heartbeat"
	// CapabilityStreaming: answers a ToolCall with stream set by StreamChunks (chunk_id from 1, one is_final).
	CapabilityStreaming = "streaming"
	// CapabilityCancellation: stops work on CancelInvocation and when a ToolCall's deadline passes.
	CapabilityCancellation = "cancellation"
	// CapabilityCorrelation: echoes correlation_id on every reply and carries it into its own logs.
	CapabilityCorrelation = "correlation"
	// CapabilitySecurityContext: reads ToolCall.security_context and acts as that principal.
	CapabilitySecurityContext = "security_context"
	// CapabilityRichErrors: reports failures as altar.v1.Error with a table code, field_errors and retry_after_ms.
	CapabilityRichErrors = "rich_errors"
	// CapabilityProgress: sets StreamChunk.progress on long-running invocations.
	CapabilityProgress = "progress"
	// CapabilityBinaryPayloads: accepts and returns Value.bytes_value (raw bytes, no base64 on the binary wire).
	CapabilityBinaryPayloads = "binary_payloads"
	// CapabilitySessionState: keeps per-session state and drops it on a SessionEvent (EXPIRED, DESTROYED).
	CapabilitySessionState = "session_state"
	// CapabilityIdempotency: executes a ToolCall at most once per invocation_id, answering repeats with the first result.
	CapabilityIdempotency = "idempotency"
	// CapabilityRegisterTools: may send RegisterTools to define its own contracts (DEVELOPMENT mode only).
	CapabilityRegisterTools = "register_tools"
	// CapabilityTracing: continues the W3C trace context carried in metadata ("traceparent", "tracestate").
	CapabilityTracing = "tracing"
	// CapabilityMultiTenancy: isolates state and data by SecurityContext.tenant_id.
	CapabilityMultiTenancy = "multi_tenancy"
	// CapabilityFlowControl: sends no more chunks of a stream than ToolCall.stream_window allows beyond those the Host credited back (StreamCredit).
	CapabilityFlowControl = "flow_control"
)

// Host features a Host advertises (GetHostInfoResponse.capabilities); no
// runtime is required to declare them.
const (
	// CapabilityCircuitBreaker: the Host stops routing to a failing runtime and answers CIRCUIT_OPEN with retry_after_ms.
	CapabilityCircuitBreaker = "circuit_breaker"
	// CapabilityAuthorization: the Host enforces per-tool authorization policies over SecurityRequirement.
	CapabilityAuthorization = "authorization"
	// CapabilityCaching: the Host serves results of idempotent, cacheable tools from cache for cache_ttl_ms.
	CapabilityCaching = "caching"
	// CapabilityClustering: the Host shares sessions and routes calls across several Host instances.
	CapabilityClustering = "clustering"
	// CapabilityAuditLog: the Host keeps a tamper-evident (hash-chained) audit log of every call.
	CapabilityAuditLog = "audit_log"
)

// CustomCapabilityPrefix starts every capability outside the well-known set:
// "x-" followed by a lowercase name such as "x-acme-gpu".
const CustomCapabilityPrefix = "x-"

// maxCustomCapabilityLen bounds a custom capability, prefix included.
const maxCustomCapabilityLen = 64

var (
	// ErrInvalidCapabilities is matched (errors.Is) by the error of
	// ValidateCapabilities.
	ErrInvalidCapabilities = errors.New("invalid capabilities")
	// ErrMissingCapabilities is matched by the error of CheckComplianceLevel
	// when the level's required capabilities are not all declared.
	ErrMissingCapabilities = errors.New("missing capabilities")
	// ErrInvalidComplianceLevel is matched by the error of
	// CheckComplianceLevel for an unspecified or undefined level.
	ErrInvalidComplianceLevel = errors.New("invalid compliance level")
	// ErrUnsupportedProtocolVersion is matched by the error of
	// CheckProtocolVersion.
	ErrUnsupportedProtocolVersion = errors.New("unsupported protocol version")
)

// knownCapabilities is every well-known capability, in documentation order.
var knownCapabilities = []string{
	CapabilityLevel1,
	CapabilityLevel2,
	CapabilityLevel3,
	CapabilityHeartbeat,
	CapabilityStreaming,
	CapabilityCancellation,
	CapabilityCorrelation,
	CapabilitySecurityContext,
	CapabilityRichErrors,
	CapabilityProgress,
	CapabilityBinaryPayloads,
	CapabilitySessionState,
	CapabilityIdempotency,
	CapabilityRegisterTools,
	CapabilityTracing,
	CapabilityMultiTenancy,
	CapabilityFlowControl,
	CapabilityCircuitBreaker,
	CapabilityAuthorization,
	CapabilityCaching,
	CapabilityClustering,
	CapabilityAuditLog,
}

// levelRequirements is what each level adds to the one below it.
var levelRequirements = map[ComplianceLevel][]string{
	ComplianceLevel_COMPLIANCE_LEVEL_1: {
		CapabilityLevel1,
		CapabilityHeartbeat,
	},
	ComplianceLevel_COMPLIANCE_LEVEL_2: {
		CapabilityLevel2,
		CapabilityStreaming,
		CapabilityCancellation,
		CapabilityCorrelation,
		CapabilitySecurityContext,
		CapabilityRichErrors,
	},
	ComplianceLevel_COMPLIANCE_LEVEL_3: {
		CapabilityLevel3,
		CapabilityTracing,
		CapabilityMultiTenancy,
	},
}

// levels is every defined level, lowest first.
var levels = []ComplianceLevel{
	ComplianceLevel_COMPLIANCE_LEVEL_1,
	ComplianceLevel_COMPLIANCE_LEVEL_2,
	ComplianceLevel_COMPLIANCE_LEVEL_3,
}

var customCapability = regexp.MustCompile(`^x-[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$`)

// KnownCapabilities returns every well-known capability string: the level
// markers, the feature capabilities, then the Host features. The slice is
// the caller's to keep.
func KnownCapabilities() []string {
	return slices.Clone(knownCapabilities)
}

// IsKnownCapability reports whether s is a well-known capability string.
// Custom "x-" capabilities are not known (see ValidateCapabilities).
func IsKnownCapability(s string) bool {
	return slices.Contains(knownCapabilities, s)
}

// IsCustomCapability reports whether s is a well-formed custom capability:
// "x-", then a lowercase letter, then lowercase letters and digits in words
// joined by single "-" or "_", at most 64 bytes in all.
func IsCustomCapability(s string) bool {
	return len(s) <= maxCustomCapabilityLen && customCapability.MatchString(s)
}

// CapabilityProblem is one bad entry of a capability list.
type CapabilityProblem struct {
	// Index is the entry's position in the list.
	Index int
	// Capability is the entry as given.
	Capability string
	// Reason says what is wrong with it.
	Reason string
}

// CapabilitiesError lists every bad entry of a capability list. It matches
// ErrInvalidCapabilities with errors.Is.
type CapabilitiesError struct {
	Problems []CapabilityProblem
}

// Error renders every problem as `[index] "capability": reason`.
func (e *CapabilitiesError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidCapabilities.Error())
	for i, p := range e.Problems {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "[%d] %q: %s", p.Index, p.Capability, p.Reason)
	}
	return b.String()
}

// Unwrap returns ErrInvalidCapabilities.
func (e *CapabilitiesError) Unwrap() error { return ErrInvalidCapabilities }

// ValidateCapabilities checks a declared capability list: every entry must be
// a well-known capability or a well-formed custom "x-" capability, and none
// may appear twice. The error is a *CapabilitiesError naming every bad entry
// with its index; a nil or empty list is valid.
func ValidateCapabilities(caps []string) error {
	var problems []CapabilityProblem
	first := make(map[string]int, len(caps))
	for i, c := range caps {
		bad := func(reason string) {
			problems = append(problems, CapabilityProblem{Index: i, Capability: c, Reason: reason})
		}
		switch {
		case c == "":
			bad("empty capability")
			continue
		case IsKnownCapability(c):
		case strings.HasPrefix(c, CustomCapabilityPrefix):
			if !IsCustomCapability(c) {
				bad(`malformed custom capability: want "x-" and a lowercase name of letters, digits, "-" or "_" (at most 64 bytes), such as "x-acme-gpu"`)
				continue
			}
		default:
			bad(`unknown capability: use a well-known name or a custom one starting with "x-"`)
			continue
		}
		if j, dup := first[c]; dup {
			bad("duplicate of [" + strconv.Itoa(j) + "]")
			continue
		}
		first[c] = i
	}
	if problems != nil {
		return &CapabilitiesError{Problems: problems}
	}
	return nil
}

// CapabilitiesForLevel returns the capabilities a peer declaring level l must
// also declare, in documentation order. Levels are cumulative:
//
//   - Level 1 (core: announce, sessions, fulfil, synchronous calls, both
//     modes): altar_level_1 and heartbeat, since every peer must send a
//     Heartbeat each negotiated interval. The rest of Level 1 is the base
//     protocol itself and has no capability string.
//   - Level 2: Level 1 plus altar_level_2, streaming, cancellation,
//     correlation, security_context and rich_errors.
//   - Level 3: Level 2 plus altar_level_3, tracing and multi_tenancy.
//
// The Host-only parts of Levels 2 and 3 (circuit breakers, authorization
// policies, clustering, caching, tamper-evident audit) are obligations of a
// Host, which advertises them by their own capability strings; they are not
// required of runtimes and are not listed here. An unspecified or undefined
// level returns nil. The slice is the caller's to keep.
func CapabilitiesForLevel(l ComplianceLevel) []string {
	if _, ok := levelRequirements[l]; !ok {
		return nil
	}
	var caps []string
	for _, lv := range levels {
		if lv > l {
			break
		}
		caps = append(caps, levelRequirements[lv]...)
	}
	return caps
}

// LevelFromCapabilities returns the highest level whose required
// capabilities (CapabilitiesForLevel) are all in caps, or
// COMPLIANCE_LEVEL_UNSPECIFIED when not even Level 1's are.
func LevelFromCapabilities(caps []string) ComplianceLevel {
	best := ComplianceLevel_COMPLIANCE_LEVEL_UNSPECIFIED
	for _, l := range levels {
		if len(missing(l, caps)) > 0 {
			break
		}
		best = l
	}
	return best
}

// CheckComplianceLevel refuses a peer that claims level l without declaring
// every capability the level requires; the error names the missing ones and
// matches ErrMissingCapabilities. An unspecified or undefined level is
// refused with an error matching ErrInvalidComplianceLevel.
func CheckComplianceLevel(l ComplianceLevel, caps []string) error {
	if _, ok := levelRequirements[l]; !ok {
		return fmt.Errorf("%w: %s: declare one of COMPLIANCE_LEVEL_1, COMPLIANCE_LEVEL_2, COMPLIANCE_LEVEL_3",
			ErrInvalidComplianceLevel, l)
	}
	if m := missing(l, caps); len(m) > 0 {
		return fmt.Errorf("%w: %s requires capabilities that were not declared: %s",
			ErrMissingCapabilities, l, quoteAll(m))
	}
	return nil
}

// missing returns the capabilities level l requires that caps lacks.
func missing(l ComplianceLevel, caps []string) []string {
	var m []string
	for _, c := range CapabilitiesForLevel(l) {
		if !slices.Contains(caps, c) {
			m = append(m, c)
		}
	}
	return m
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// CheckProtocolVersion accepts a peer's protocol version when it is
// "MAJOR.MINOR" with the same major version as ProtocolVersion; minor
// versions within a major are compatible (new features are negotiated by
// capabilities). Anything else is refused with an error that says what this
// side speaks and matches ErrUnsupportedProtocolVersion.
func CheckProtocolVersion(v string) error {
	want, _, _ := strings.Cut(ProtocolVersion, ".")
	speaks := fmt.Sprintf("this side speaks ALTAR %s (accepts any %s.x)", ProtocolVersion, want)
	if v == "" {
		return fmt.Errorf("%w: no protocol version given; %s", ErrUnsupportedProtocolVersion, speaks)
	}
	major, minor, ok := strings.Cut(v, ".")
	if !ok || !isVersionNumber(major) || !isVersionNumber(minor) {
		return fmt.Errorf("%w: %q is not MAJOR.MINOR; %s", ErrUnsupportedProtocolVersion, v, speaks)
	}
	if major != want {
		return fmt.Errorf("%w: %q has major version %s; %s", ErrUnsupportedProtocolVersion, v, major, speaks)
	}
	return nil
}

// isVersionNumber reports whether s is a decimal number without sign or
// leading zeros.
func isVersionNumber(s string) bool {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

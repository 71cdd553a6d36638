package session

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// check returns nil if md is within the limits, and otherwise an error
// about the first offending key in sorted order: ERROR_CODE_INVALID_REQUEST
// for an empty or non-UTF-8 key or value, ERROR_CODE_PAYLOAD_TOO_LARGE for a
// bound exceeded. The error's field path is the key's JSON pointer
// ("/metadata/<key>").
func (l MetadataLimits) check(md map[string]string) error {
	if len(md) == 0 {
		return nil
	}
	if len(md) > l.MaxEntries {
		msg := "at most " + strconv.Itoa(l.MaxEntries) + " entries"
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, "session metadata has %d entries; the limit is %d", len(md), l.MaxEntries).
			WithField("/metadata", "max_entries", msg)
	}
	// Check in map order, which allocates nothing; only a failure is worth
	// sorting the keys for, so that the error names the first bad key.
	total := 0
	for k, v := range md {
		if l.keyError(k, v) != nil {
			return l.firstError(md)
		}
		total += len(k) + len(v)
	}
	if total > l.MaxTotalBytes {
		return l.firstError(md)
	}
	return nil
}

// firstError returns the error about the first bad key in sorted order.
func (l MetadataLimits) firstError(md map[string]string) error {
	total := 0
	for _, k := range slices.Sorted(maps.Keys(md)) {
		v := md[k]
		if err := l.keyError(k, v); err != nil {
			return err
		}
		total += len(k) + len(v)
		if total > l.MaxTotalBytes {
			return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, "session metadata passes %d bytes at key %s", l.MaxTotalBytes, quote(k)).
				WithField("/metadata/"+pointerEscape(k), "max_total_bytes", "keys and values together at most "+strconv.Itoa(l.MaxTotalBytes)+" bytes")
		}
	}
	return nil
}

// keyError returns the error about one entry, if any.
func (l MetadataLimits) keyError(k, v string) error {
	const (
		invalid  = altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST
		tooLarge = altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE
	)
	var e *altarerr.Error
	switch {
	case k == "":
		e = altarerr.New(invalid, "session metadata has an empty key").
			WithField("", "key", "keys must not be empty")
	case !utf8.ValidString(k):
		e = altarerr.New(invalid, "session metadata key %s is not valid UTF-8", quote(k)).
			WithField("", "key", "keys must be UTF-8")
	case len(k) > l.MaxKeyBytes:
		e = altarerr.New(tooLarge, "session metadata key %s is %d bytes; the limit is %d", quote(k), len(k), l.MaxKeyBytes).
			WithField("", "max_key_bytes", "at most "+strconv.Itoa(l.MaxKeyBytes)+" bytes")
	case !utf8.ValidString(v):
		e = altarerr.New(invalid, "session metadata value of key %s is not valid UTF-8", quote(k)).
			WithField("", "value", "values must be UTF-8")
	case len(v) > l.MaxValueBytes:
		e = altarerr.New(tooLarge, "session metadata value of key %s is %d bytes; the limit is %d", quote(k), len(v), l.MaxValueBytes).
			WithField("", "max_value_bytes", "at most "+strconv.Itoa(l.MaxValueBytes)+" bytes")
	default:
		return nil
	}
	e.Fields[0].Path = "/metadata/" + pointerEscape(k)
	return e
}

// quote quotes a key for a message, shortening a long one: the message must
// name the key without echoing kilobytes of it.
func quote(k string) string {
	const shown = 64
	if len(k) <= shown {
		return strconv.Quote(k)
	}
	cut := shown
	for cut > 0 && !utf8.RuneStart(k[cut]) {
		cut--
	}
	return strconv.Quote(k[:cut]) + "…"
}

// pointerEscape escapes a key as one JSON pointer token (RFC 6901).
func pointerEscape(k string) string {
	if !strings.ContainsAny(k, "~/") {
		return k
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
}

package altarv1_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// retryableCodes are the codes error.proto marks (retryable) = true: the
// same request may succeed later. Changing the table means changing this
// list on purpose.
var retryableCodes = []altarv1.ErrorCode{
	altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE,
	altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED,
	altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED,
	altarv1.ErrorCode_ERROR_CODE_CIRCUIT_OPEN,
	altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST,
}

// categoryByHundreds is the category each hundreds digit of a code number
// belongs to.
var categoryByHundreds = map[int32]altarv1.ErrorCategory{
	1: altarv1.ErrorCategory_ERROR_CATEGORY_AUTHORIZATION,
	2: altarv1.ErrorCategory_ERROR_CATEGORY_VALIDATION,
	3: altarv1.ErrorCategory_ERROR_CATEGORY_RUNTIME,
	4: altarv1.ErrorCategory_ERROR_CATEGORY_TRANSPORT,
	5: altarv1.ErrorCategory_ERROR_CATEGORY_CONFIGURATION,
}

func TestCodesAreEveryEnumValueInOrder(t *testing.T) {
	codes := altarv1.Codes()
	values := altarv1.ErrorCode(0).Descriptor().Values()
	if len(codes) != values.Len() {
		t.Fatalf("Codes() has %d codes, the enum %d values", len(codes), values.Len())
	}
	if !slices.IsSorted(codes) {
		t.Errorf("Codes() is not in number order: %v", codes)
	}
	if len(slices.Compact(slices.Clone(codes))) != len(codes) {
		t.Errorf("Codes() repeats a code: %v", codes)
	}
	if codes[0] != altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
		t.Errorf("first code = %v, want ERROR_CODE_UNSPECIFIED = 0", codes[0])
	}
	for _, c := range codes {
		if _, ok := altarv1.ErrorCode_name[int32(c)]; !ok {
			t.Errorf("Codes() returned %d, which has no name", c)
		}
		if !strings.HasPrefix(c.String(), "ERROR_CODE_") {
			t.Errorf("code %d is named %q, want an ERROR_CODE_ prefix", c, c)
		}
	}
}

func TestCodeTableRows(t *testing.T) {
	usedCategories := map[altarv1.ErrorCategory]bool{}
	for _, c := range altarv1.Codes() {
		t.Run(c.String(), func(t *testing.T) {
			info := c.Info()
			if info.Code != c {
				t.Errorf("Info().Code = %v, want %v", info.Code, c)
			}
			usedCategories[info.Category] = true

			if info.Category == altarv1.ErrorCategory_ERROR_CATEGORY_UNSPECIFIED {
				t.Errorf("no category")
			}
			if _, ok := altarv1.ErrorCategory_name[int32(info.Category)]; !ok {
				t.Errorf("category %d is not an ErrorCategory", info.Category)
			}
			if c != altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
				hundreds := int32(c) / 100
				want, ok := categoryByHundreds[hundreds]
				if !ok {
					t.Errorf("number %d is outside 100..599", c)
				} else if info.Category != want {
					t.Errorf("number %d is in the %dxx range of %v but its category is %v",
						c, hundreds, want, info.Category)
				}
			}

			if info.GRPCCode < 1 || info.GRPCCode > 16 {
				t.Errorf("gRPC code %d is outside 1..16 (OK is never an error)", info.GRPCCode)
			}

			if info.HTTPStatus < 400 || info.HTTPStatus > 599 {
				t.Errorf("HTTP status %d is outside 400..599", info.HTTPStatus)
			}
			if info.HTTPStatus == 499 {
				if c != altarv1.ErrorCode_ERROR_CODE_CANCELLED {
					t.Errorf("HTTP status 499 (client closed request) is only for CANCELLED")
				}
			} else if http.StatusText(int(info.HTTPStatus)) == "" {
				t.Errorf("HTTP status %d is not a registered status", info.HTTPStatus)
			}

			if want := slices.Contains(retryableCodes, c); info.Retryable != want {
				t.Errorf("Retryable = %v, want %v", info.Retryable, want)
			}
			if info.Retryable {
				switch info.Category {
				case altarv1.ErrorCategory_ERROR_CATEGORY_RUNTIME, altarv1.ErrorCategory_ERROR_CATEGORY_TRANSPORT:
				default:
					t.Errorf("retryable, but in category %v, where retrying fails the same way", info.Category)
				}
			}
		})
	}
	for _, cat := range categoryByHundreds {
		if !usedCategories[cat] {
			t.Errorf("no code in category %v", cat)
		}
	}
}

func TestCodeTableSpotChecks(t *testing.T) {
	// A few rows every transport relies on, pinned.
	tests := []struct {
		code altarv1.ErrorCode
		want altarv1.CodeInfo
	}{
		{altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED, altarv1.CodeInfo{
			Category: altarv1.ErrorCategory_ERROR_CATEGORY_RUNTIME, GRPCCode: 2, HTTPStatus: 500}},
		{altarv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED, altarv1.CodeInfo{
			Category: altarv1.ErrorCategory_ERROR_CATEGORY_AUTHORIZATION, GRPCCode: 16, HTTPStatus: 401}},
		{altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS, altarv1.CodeInfo{
			Category: altarv1.ErrorCategory_ERROR_CATEGORY_VALIDATION, GRPCCode: 3, HTTPStatus: 400}},
		{altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND, altarv1.CodeInfo{
			Category: altarv1.ErrorCategory_ERROR_CATEGORY_VALIDATION, GRPCCode: 5, HTTPStatus: 404}},
		{altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, altarv1.CodeInfo{
			Category: altarv1.ErrorCategory_ERROR_CATEGORY_RUNTIME, GRPCCode: 4, HTTPStatus: 504, Retryable: true}},
		{altarv1.ErrorCode_ERROR_CODE_CANCELLED, altarv1.CodeInfo{
			Category: altarv1.ErrorCategory_ERROR_CATEGORY_RUNTIME, GRPCCode: 1, HTTPStatus: 499}},
		{altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, altarv1.CodeInfo{
			Category: altarv1.ErrorCategory_ERROR_CATEGORY_RUNTIME, GRPCCode: 8, HTTPStatus: 429, Retryable: true}},
		{altarv1.ErrorCode_ERROR_CODE_UNSUPPORTED_PROTOCOL_VERSION, altarv1.CodeInfo{
			Category: altarv1.ErrorCategory_ERROR_CATEGORY_TRANSPORT, GRPCCode: 9, HTTPStatus: 400}},
		{altarv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED, altarv1.CodeInfo{
			Category: altarv1.ErrorCategory_ERROR_CATEGORY_CONFIGURATION, GRPCCode: 12, HTTPStatus: 501}},
	}
	for _, tt := range tests {
		tt.want.Code = tt.code
		if got := tt.code.Info(); got != tt.want {
			t.Errorf("%v.Info() = %+v, want %+v", tt.code, got, tt.want)
		}
	}
}

func TestInfoOfUnknownCodeFallsBack(t *testing.T) {
	fallback := altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED.Info()
	for _, c := range []altarv1.ErrorCode{-1, 1, 99, 210, 600, 999, 1 << 30} {
		if _, defined := altarv1.ErrorCode_name[int32(c)]; defined {
			t.Fatalf("test code %d is defined; pick another", c)
		}
		info := c.Info()
		if info.Code != c {
			t.Errorf("ErrorCode(%d).Info().Code = %v, want the code itself", c, info.Code)
		}
		want := fallback
		want.Code = c
		if info != want {
			t.Errorf("ErrorCode(%d).Info() = %+v, want the UNSPECIFIED row %+v", c, info, want)
		}
		if info.Retryable || info.GRPCCode != 2 || info.HTTPStatus != 500 {
			t.Errorf("ErrorCode(%d).Info() = %+v, want a non-retryable UNKNOWN/500", c, info)
		}
	}
}

package altarv1

import (
	"sync"

	"google.golang.org/protobuf/proto"
)

// CodeInfo is one row of the error-code table: what the descriptor's enum
// value options say about an ErrorCode.
type CodeInfo struct {
	Code       ErrorCode
	Category   ErrorCategory
	GRPCCode   int32
	HTTPStatus int32
	Retryable  bool
}

var codeTable = sync.OnceValue(func() map[ErrorCode]CodeInfo {
	values := ErrorCode(0).Descriptor().Values()
	table := make(map[ErrorCode]CodeInfo, values.Len())
	for i := range values.Len() {
		v := values.Get(i)
		opts := v.Options()
		code := ErrorCode(v.Number())
		table[code] = CodeInfo{
			Code:       code,
			Category:   proto.GetExtension(opts, E_Category).(ErrorCategory),
			GRPCCode:   proto.GetExtension(opts, E_GrpcCode).(int32),
			HTTPStatus: proto.GetExtension(opts, E_HttpStatus).(int32),
			Retryable:  proto.GetExtension(opts, E_Retryable).(bool),
		}
	}
	return table
})

// Info returns the code's row of the error-code table. An unknown code gets
// the row of ERROR_CODE_UNSPECIFIED (an internal, non-retryable failure).
func (c ErrorCode) Info() CodeInfo {
	t := codeTable()
	if info, ok := t[c]; ok {
		return info
	}
	info := t[ErrorCode_ERROR_CODE_UNSPECIFIED]
	info.Code = c
	return info
}

// Codes returns every defined ErrorCode in number order.
func Codes() []ErrorCode {
	values := ErrorCode(0).Descriptor().Values()
	codes := make([]ErrorCode, 0, values.Len())
	for i := range values.Len() {
		codes = append(codes, ErrorCode(values.Get(i).Number()))
	}
	return codes
}

// Package altarv1 is the ALTAR protocol, version 1: the messages and
// services generated from the .proto files beside this file, plus the few
// hand-written facts every peer needs in Go (the well-known capability
// strings and compliance levels, and the error-code table read from the
// descriptor).
//
// The .proto files are the source of truth; regenerate with `make proto`.
// This package imports nothing of ALTAR's.
package altarv1

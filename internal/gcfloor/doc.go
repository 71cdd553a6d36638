// Package gcfloor keeps Go's garbage collector from running more often than
// a heap of a given size needs.
//
// With Go's default (GOGC=100) a collection starts once the heap has grown
// by as much as survived the last one. A gateway keeps little (a few MiB of
// sessions and contracts) and allocates a lot per call, so at a high call
// rate it collected hundreds of times a second and spent about a fifth of
// its CPU doing it (docs/performance.md). Run raises GOGC while the live
// heap is small, so that a collection starts no earlier than at the floor,
// and lowers it back to Go's default as the live heap grows toward the
// floor: the heap never holds more than the larger of the floor and twice
// its live data, as with the default. The memory limit (GOMEMLIMIT), when
// one is set, still applies.
package gcfloor

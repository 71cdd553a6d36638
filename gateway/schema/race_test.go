//go:build race

package schema_test

// raceEnabled is set under -race, where sync.Pool drops items at random, so
// allocation counts of pooled code are not meaningful.
const raceEnabled = true

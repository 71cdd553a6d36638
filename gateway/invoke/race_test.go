//go:build race

package invoke

// raceEnabled is set when the tests run with -race, under which sync.Pool
// drops items at random (to shake out misuse), so allocation counts of
// pooled code are not meaningful.
const raceEnabled = true

package invoke

// SetTestHooks installs hooks for the engine's otherwise invisible waits
// and returns a function that removes them. Call it before starting calls
// and remove after they end.
func SetTestHooks(joined, queued func(string)) (restore func()) {
	testHooks.joined, testHooks.queued = joined, queued
	return func() { testHooks.joined, testHooks.queued = nil, nil }
}

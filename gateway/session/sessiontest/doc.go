// Package sessiontest helps test code that uses package session: TestStore,
// the conformance tests every session.Store implementation must pass, and
// Clock, a fake session.Clock driven by the test.
package sessiontest

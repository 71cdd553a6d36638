package mcp

// DirectCalls is how many calls the bridge's live session sent without
// mcp-go's client (direct.go), and whether its calls still go direct.
func DirectCalls(b *Bridge) (n uint64, direct bool) {
	sess := b.current()
	if sess == nil || sess.direct == nil {
		return 0, false
	}
	return sess.direct.next.Load(), sess.direct.usable()
}

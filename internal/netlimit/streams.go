package netlimit

// A Listener's Streams caps count the HTTP/2 streams a server holds open
// for its connections, per client and in total, from the frames
// themselves (CountFrames): a stream opens when the client's HEADERS
// frame for a new stream is read, and ends when the server writes a frame
// that ends it (with END_STREAM, or a RST_STREAM), when the client resets
// it, or when its connection closes. The calls caps give a call's place
// back when its handler returns, and the Unsent bounds count the bytes of
// answers; but grpc-go writes a call's trailers behind its answer's DATA,
// which waits for the client's flow-control window, and holds the stream
// (about 3.5 KB) until they are written: a client that keeps its window
// shut held 119,000 finished health checks, 400 MB, from 8 addresses, each
// answer a few bytes (an outside review). A stream over a cap resets its
// connection before the server reads it, which frees what the server holds
// for the connection's other streams.
//
// Streams are tracked by id, not counted: a client resetting a stream
// that has ended, or one it never opened, gives back nothing.

// opened counts the stream id that a client's HEADERS frame names, if it
// opens a new one (above any the client opened before: a stream's later
// HEADERS, its trailers, are not), or reports false, counting nothing,
// when it would pass a Streams cap.
func (c *conn) opened(id uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || id <= c.lastStream {
		return true
	}
	c.lastStream = id
	if !c.streams.Acquire(c.client) {
		return false
	}
	if c.open == nil {
		c.open = map[uint32]struct{}{}
	}
	c.open[id] = struct{}{}
	return true
}

// ended gives back stream id's place, if it holds one.
func (c *conn) ended(id uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.open[id]; ok {
		delete(c.open, id)
		c.streams.Release(c.client)
	}
}

// forget gives back what c still holds, unsent answers and open streams,
// once it is closed.
func (c *conn) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	if c.unsent != nil {
		c.unsent.add(c.client, c.written-c.queued, false)
	}
	for range c.open {
		c.streams.Release(c.client)
	}
	c.open = nil
}

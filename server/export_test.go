package server

import (
	"net/http"
	"net/netip"
	"testing"
)

// ViaGateway is the HTTP API with every request served by grpc-gateway: the
// HTTP chain over the gateway mux of every service, with no route index and
// no fastGet.
func ViaGateway(n *Node) http.Handler {
	return n.httpErrs.httpChain(n.httpErrs.mux, n.cfg.Limits.MaxMessageBytes, nil, nil)
}

// ServesFastGet reports whether the HTTP API serves r with a fastGet.
func ServesFastGet(n *Node, r *http.Request) bool {
	h, _ := n.routes.Handler(r)
	f, ok := h.(*fastGet)
	if !ok {
		return false
	}
	_, ok = f.match(r)
	return ok
}

// OpenStreams is the number of HTTP/2 streams the listener called name
// ("gRPC", "peer") holds open, in total and from addr's client.
func OpenStreams(n *Node, name string, addr netip.Addr) (total, fromClient int) {
	return n.listeners[name].Streams.Open(addr)
}

// UnsentHTTP is the bytes of answers the HTTP API is writing, in total
// and to addr's client.
func UnsentHTTP(n *Node, addr netip.Addr) (total, fromClient int64) {
	return n.httpUnsent.Held(addr)
}

// StopRestoreAfterOpen makes every Restore of the test stop with err as soon
// as its store is open, as a restore killed there would.
func StopRestoreAfterOpen(t testing.TB, err error) {
	restoreOpened = func() error { return err }
	t.Cleanup(func() { restoreOpened = nil })
}

// DefaultLimits are the limits a node runs with when its configuration
// sets none.
func DefaultLimits() Limits { return Limits{}.withDefaults() }

// OpenFileLimit is the process's open-file limit, or 0 where it is not
// known.
func OpenFileLimit() uint64 { return openFileLimit() }

package server

import "net/http"

// ViaGateway is the HTTP API with every request served by grpc-gateway: the
// HTTP chain over the gateway mux of every service, with no route index and
// no fastGet.
func ViaGateway(n *Node) http.Handler {
	return n.httpErrs.httpChain(n.httpErrs.mux, n.cfg.Limits.MaxMessageBytes, nil)
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

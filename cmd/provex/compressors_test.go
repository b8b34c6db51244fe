package main

import (
	"testing"

	"google.golang.org/grpc/encoding"
)

// TestNoCompressorButGzipIsRegistered: the node's gRPC servers refuse
// compressed requests by a decompressor of their own for gzip
// (server.uncompressedOnly), the one compressor the binary's dependencies
// register (the trace exporter's). grpc-go would inflate a request under
// any other name a dependency registered, before any interceptor: this
// binary's registry must hold gzip alone of the names grpc's ecosystem
// uses.
func TestNoCompressorButGzipIsRegistered(t *testing.T) {
	if encoding.GetCompressor("gzip") == nil {
		t.Error("gzip is not registered: the trace exporter no longer brings it, and server.uncompressedOnly may go")
	}
	for _, name := range []string{"deflate", "zstd", "snappy", "s2", "br", "brotli", "lz4", "zlib", "x-gzip"} {
		if encoding.GetCompressor(name) != nil {
			t.Errorf("a dependency registers the compressor %q: grpc-go inflates requests named with it before the node's checks", name)
		}
	}
}

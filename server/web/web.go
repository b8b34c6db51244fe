// Package web serves the national dashboard: a read-only page at "/" that
// signs in with a node's token and draws the national views from the node's
// own HTTP/JSON API. Its HTML, script and style are embedded in the binary,
// so the page works on a network with no way out (no CDN, no fonts
// fetched), and it needs no build step.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"time"
)

//go:embed static
var static embed.FS

// csp keeps the page to its own origin: it sits on the API's origin, where
// an injected script could call the API with the token the page holds, so
// no inline script, no eval, nothing from elsewhere.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

type asset struct {
	body        []byte
	contentType string
	etag        string
}

func load(name, contentType string) asset {
	b, err := static.ReadFile("static/" + name)
	if err != nil {
		panic(err) // embedded at build time: missing means a broken build
	}
	sum := sha256.Sum256(b)
	return asset{body: b, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// files are the dashboard's paths: the page itself and what it loads.
var files = map[string]asset{
	"/":                 load("index.html", "text/html; charset=utf-8"),
	"/assets/app.js":    load("app.js", "text/javascript; charset=utf-8"),
	"/assets/style.css": load("style.css", "text/css; charset=utf-8"),
}

// Patterns are the http.ServeMux patterns Handler answers; the caller
// registers exactly these, so every other path stays the API's.
func Patterns() []string {
	return []string{"/{$}", "/assets/app.js", "/assets/style.css"}
}

// Handler serves the dashboard's files at Patterns.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// The paths stay the same from one version of the binary to the
		// next, so browsers revalidate each time; the ETag (a hash of the
		// content) makes that a 304 until the node is upgraded.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}

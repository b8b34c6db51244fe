//go:build unix

package server_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/client"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/server"
)

// TestHTTPAnswersLeftUnread: a client with a viewer's token that asks for
// page after page and reads none of them, over HTTP/1.1 connections with a
// receive buffer of 2 KB or over HTTP/2 with its window shut, has its
// answers' bytes held while net/http writes them, within its bound: once
// they would pass it, its requests get 429 instead of the node keeping
// every answer in memory for as long as the write timeout (an outside
// review grew a node by 2 GB from one address). Another client is served
// meanwhile, and what the client's connections held is given back once
// they close.
func TestHTTPAnswersLeftUnread(t *testing.T) {
	// Pages of more than the 4 MB a connection's kernel buffers take, so
	// that their writes wait on the client.
	const bound, records = 12 << 20, 180
	p := newPair(t, server.Limits{UnsentPerAddress: bound, MaxMessageBytes: 8 << 20, WriteTimeout: 5 * time.Minute, IdleTimeout: 5 * time.Minute})
	p.tlsAPI = true
	province := p.start("cao-bang")
	addr := province.srv.HTTPAddr()
	ctx := testCtx(t)
	withCA, err := client.WithCA(p.ca.CertPEM())
	mustf(t, err, "CA")
	api, err := client.Dial(province.srv.GRPCAddr(), client.WithToken(province.token), withCA)
	mustf(t, err, "dial")
	t.Cleanup(func() { api.Close() })
	for i := range records {
		a := newAgreement(fmt.Sprintf("big %03d", i))
		a.Summary = strings.Repeat("\U0001D54F", 8000) // 32 KB
		_, err := api.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang", Agreement: a})
		mustf(t, err, "create agreement %d", i)
	}
	viewer, err := province.srv.IssueToken(ctx, auth.RoleViewer, "slow reader", time.Time{})
	mustf(t, err, "issue a viewer's token")
	const path = "/v1/provinces/cao-bang/agreements?page_size=1000"
	// get sends the GET over HTTP/1.1 from d, and reads its answer's head.
	get := func(t *testing.T, d *net.Dialer) (net.Conn, *http.Response) {
		t.Helper()
		raw, err := d.Dial("tcp", addr)
		mustf(t, err, "dial")
		c := tls.Client(raw, &tls.Config{RootCAs: p.pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
		t.Cleanup(func() { c.Close() })
		req, err := http.NewRequest("GET", "https://localhost"+path, nil)
		mustf(t, err, "request")
		req.Header.Set("Authorization", "Bearer "+viewer)
		mustf(t, req.Write(c), "send the request")
		c.SetReadDeadline(time.Now().Add(time.Minute))
		resp, err := http.ReadResponse(bufio.NewReader(c), req)
		mustf(t, err, "read the answer's head")
		return c, resp
	}
	readPage := func(t *testing.T, what string) int {
		t.Helper()
		_, resp := get(t, fromAddr("127.0.0.3"))
		page, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("%s: %s, %d bytes (%v); want 200", what, resp.Status, len(page), err)
		}
		return len(page)
	}
	page := readPage(t, "a page")
	if page < 5<<20 {
		t.Fatalf("a page of %d bytes, want more than 5 MiB", page)
	}
	held := func(t *testing.T, from string) int64 {
		t.Helper()
		total, fromClient := server.UnsentHTTP(province.srv, netip.MustParseAddr(from))
		if fromClient > bound {
			t.Fatalf("the answers of %s hold %d bytes, past its bound of %d", from, fromClient, bound)
		}
		return total
	}
	// check fails the test unless at least one request was refused, and
	// no more answered than the bound holds.
	check := func(t *testing.T, what string, answered, refused int) {
		t.Helper()
		t.Logf("%s: %d answers of %d bytes left unread, %d requests refused", what, answered, page, refused)
		if refused == 0 || answered > bound/page {
			t.Fatalf("%s: %d requests answered and %d refused of a client leaving its answers (%d bytes each) unread; want at most %d answered, the rest refused",
				what, answered, refused, page, bound/page)
		}
	}

	t.Run("HTTP/1.1", func(t *testing.T) {
		slow := &net.Dialer{LocalAddr: fromAddr("127.0.0.2").LocalAddr, Timeout: 5 * time.Second,
			Control: func(_, _ string, raw syscall.RawConn) error {
				var err error
				if cerr := raw.Control(func(fd uintptr) {
					err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
				}); cerr != nil {
					return cerr
				}
				return err
			}}
		var unread []net.Conn
		refused := 0
		for i := range 3 * bound / page {
			c, resp := get(t, slow)
			held(t, "127.0.0.2")
			switch resp.StatusCode {
			case http.StatusOK:
				unread = append(unread, c)
			case http.StatusTooManyRequests:
				body, _ := io.ReadAll(resp.Body)
				if !strings.Contains(string(body), `"code":8`) || !strings.Contains(string(body), "wait unread") {
					t.Errorf("request %d refused with %s", i, body)
				}
				refused++
			default:
				t.Fatalf("request %d: %s", i, resp.Status)
			}
		}
		check(t, "HTTP/1.1", len(unread), refused)
		readPage(t, "another client")
		for _, c := range unread {
			c.Close()
		}
		waitFor(t, 30*time.Second, "the answers' bytes given back", func() bool { return held(t, "127.0.0.2") == 0 })
	})

	t.Run("HTTP/2", func(t *testing.T) {
		const streams = 6
		c, fr := dialShutH2(t, p, "127.0.0.4", addr)
		for i := range streams {
			getH2(t, fr, uint32(2*i+1), path, [2]string{"authorization", "Bearer " + viewer})
		}
		got := map[string]int{}
		c.SetReadDeadline(time.Now().Add(time.Minute))
		for got["200"]+got["429"] < streams {
			f, err := fr.ReadFrame()
			mustf(t, err, "answers so far %v", got)
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					mustf(t, fr.WriteSettingsAck(), "ack SETTINGS")
				}
			case *http2.MetaHeadersFrame:
				got[f.PseudoValue("status")]++
			}
			held(t, "127.0.0.4")
		}
		check(t, "HTTP/2", got["200"], got["429"])
		readPage(t, "another client")
		c.Close()
		waitFor(t, 30*time.Second, "the answers' bytes given back", func() bool { return held(t, "127.0.0.4") == 0 })
	})
}

// TestSummaryCSVRefusedIsA429: summary.csv, whose first page would pass
// its client's bound on answers left unread, is answered 429 whole, with
// Retry-After, as any answer none of which is sent yet: it took the
// refused write for a reply cut off and aborted it, the 429 unsent and
// the connection closed (a review).
func TestSummaryCSVRefusedIsA429(t *testing.T) {
	tn := startSecNode(t, "cao-bang", func(c *server.Config) { c.Limits.UnsentPerAddress = 8 })
	req, err := http.NewRequest("GET", tn.BaseURL+"/v1/national/agreements/summary.csv?group_by=kind", nil)
	mustf(t, err, "request")
	req.Header.Set("Authorization", "Bearer "+tn.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("summary.csv past the bound: no answer: %v; want a 429", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || err != nil || !strings.Contains(string(body), "wait unread") || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("summary.csv past the bound: %s %q (read: %v), Retry-After %q; want a whole 429 saying answers wait unread, Retry-After 1",
			resp.Status, body, err, resp.Header.Get("Retry-After"))
	}
}

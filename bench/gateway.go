package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/server"
)

// gatewayLoadOptions is what the callers of both transports do: the same
// concurrency, round length and rounds, alternating gRPC and HTTP.
type gatewayLoadOptions struct {
	grpcAddr, httpAddr, token, name string
	conc, rounds                    int
	duration                        time.Duration
	only, httpClient                string
	// nodePID is the node's process, whose CPU time each round reports
	// per call; the callers' process is this one (the same in-process).
	nodePID int
}

func (o *gatewayLoadOptions) flags(fs *flag.FlagSet) {
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "length of each timed round")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of each transport, alternating")
	fs.IntVar(&o.conc, "c", 16, "concurrent callers")
	fs.StringVar(&o.only, "only", "", "run only this transport (gRPC or HTTP), e.g. to profile it")
	fs.StringVar(&o.httpClient, "http-client", "conn", "HTTP client: conn (one keep-alive connection per caller, net/http's request writer and response parser) or net/http (http.Client's pooled Transport)")
}

// runGateway compares Get of one record over the HTTP/JSON gateway with the
// same Get over gRPC, on one dev node, at the same concurrency, in
// alternating rounds so that a change in the machine's load falls on both
// alike. By default the callers of both transports run in one process of
// their own (this binary, as "gateway-load"), so that the node's profile
// and garbage collector are its own; -clients in-process runs them in the
// node's process.
func runGateway(args []string) error {
	fs := flag.NewFlagSet("gateway", flag.ExitOnError)
	var o gatewayLoadOptions
	o.flags(fs)
	clients := fs.String("clients", "subprocess", "where the callers run: subprocess (one process for both transports) or in-process")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the node's process to this file")
	fs.Parse(args)
	if *clients != "subprocess" && *clients != "in-process" {
		return fmt.Errorf("-clients %q: want subprocess or in-process", *clients)
	}
	dir, err := os.MkdirTemp("", "provex-bench-gateway-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	node, token, err := benchNode(server.Config{
		Member: "cao-bang", DataDir: filepath.Join(dir, "provex"), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	defer node.stop()
	c, conn, err := dial(node.node.GRPCAddr(), token)
	if err != nil {
		return err
	}
	if _, err := c.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
		Parent: "provinces/cao-bang", AgreementId: "gateway-bench", Agreement: benchAgreement(0),
	}); err != nil {
		conn.Close()
		return err
	}
	conn.Close()
	o.grpcAddr, o.httpAddr, o.token = node.node.GRPCAddr(), node.node.HTTPAddr(), token
	o.name = "provinces/cao-bang/agreements/gateway-bench"
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	if *clients == "in-process" {
		o.nodePID = os.Getpid()
		return gatewayLoad(o)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "gateway-load",
		"-grpc", o.grpcAddr, "-http", o.httpAddr, "-name", o.name,
		"-c", strconv.Itoa(o.conc), "-rounds", strconv.Itoa(o.rounds), "-duration", o.duration.String(),
		"-only", o.only, "-http-client", o.httpClient)
	cmd.Env = append(os.Environ(), "PROVEX_BENCH_TOKEN="+token)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// runGatewayLoad is the callers' process of runGateway.
func runGatewayLoad(args []string) error {
	fs := flag.NewFlagSet("gateway-load", flag.ExitOnError)
	var o gatewayLoadOptions
	o.flags(fs)
	fs.StringVar(&o.grpcAddr, "grpc", "", "the node's gRPC address")
	fs.StringVar(&o.httpAddr, "http", "", "the node's HTTP address")
	fs.StringVar(&o.name, "name", "", "the agreement to Get")
	fs.Parse(args)
	o.token = os.Getenv("PROVEX_BENCH_TOKEN")
	o.nodePID = os.Getppid()
	return gatewayLoad(o)
}

// gatewayLoad runs the timed rounds and prints their tables.
func gatewayLoad(o gatewayLoadOptions) error {
	c, conn, err := dial(o.grpcAddr, o.token)
	if err != nil {
		return err
	}
	defer conn.Close()
	getGRPC := func(int, int) error {
		_, err := c.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: o.name})
		return err
	}
	url := "http://" + o.httpAddr + "/v1/" + o.name
	var getHTTP func(worker, i int) error
	switch o.httpClient {
	case "net/http":
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.conc, MaxConnsPerHost: o.conc}}
		getHTTP = func(int, int) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+o.token)
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			return readOK(resp)
		}
	case "conn":
		conns := make([]*httpConn, o.conc)
		for i := range conns {
			conns[i] = &httpConn{addr: o.httpAddr}
		}
		defer func() {
			for _, hc := range conns {
				hc.close()
			}
		}()
		getHTTP = func(worker, _ int) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+o.token)
			return conns[worker].do(req)
		}
	default:
		return fmt.Errorf("-http-client %q: want conn or net/http", o.httpClient)
	}
	// Warm both paths (connections, caches) before timing.
	measure(o.conc, o.duration/4, getGRPC)
	measure(o.conc, o.duration/4, getHTTP)

	type row struct {
		transport       string
		r               result
		nodeCPU, ownCPU time.Duration // per call
	}
	var rows []row
	for round := 0; round < o.rounds; round++ {
		for _, t := range []struct {
			name string
			op   func(int, int) error
		}{{"gRPC", getGRPC}, {"HTTP", getHTTP}} {
			if o.only != "" && o.only != t.name {
				continue
			}
			node0, own0 := processCPU(o.nodePID), processCPU(os.Getpid())
			r := measure(o.conc, o.duration, t.op)
			rw := row{transport: t.name, r: r}
			if calls := time.Duration(r.ops + r.errors); calls > 0 {
				rw.nodeCPU, rw.ownCPU = (processCPU(o.nodePID)-node0)/calls, (processCPU(os.Getpid())-own0)/calls
			}
			fmt.Fprintf(os.Stderr, "round %d %s Get c=%d: %d ops, %.0f/s, p50 %s ms, p99 %s ms, %d errors, CPU per call: node %s, callers %s\n",
				round+1, t.name, o.conc, r.ops, r.throughput, ms(r.p50), ms(r.p99), r.errors, us(rw.nodeCPU), us(rw.ownCPU))
			rows = append(rows, rw)
		}
	}
	own := "callers' CPU µs per call"
	if o.nodePID == os.Getpid() {
		own = "(same process)"
	}
	fmt.Printf("| round | transport | Get/s | p50 ms | p99 ms | errors | node CPU µs per call | %s |\n|---|---|---|---|---|---|---|---|\n", own)
	perRound := 2
	if o.only != "" {
		perRound = 1
	}
	for i, rw := range rows {
		fmt.Printf("| %d | %s | %.0f | %s | %s | %d | %s | %s |\n", i/perRound+1, rw.transport, rw.r.throughput, ms(rw.r.p50), ms(rw.r.p99), rw.r.errors, us(rw.nodeCPU), us(rw.ownCPU))
	}
	if o.only != "" {
		return nil
	}
	fmt.Printf("\n| round | HTTP/gRPC throughput | HTTP/gRPC p50 | HTTP/gRPC node CPU per call |\n|---|---|---|---|\n")
	for i := 0; i+1 < len(rows); i += 2 {
		g, h := rows[i], rows[i+1]
		fmt.Printf("| %d | %.2fx | %.2fx | %.2fx |\n", i/2+1, h.r.throughput/g.r.throughput, float64(h.r.p50)/float64(g.r.p50), float64(h.nodeCPU)/float64(g.nodeCPU))
	}
	return nil
}

// readOK reads resp's body to its end and fails unless the status is 200.
func readOK(resp *http.Response) error {
	_, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("HTTP %s", resp.Status)
	}
	return err
}

// httpConn is one caller's HTTP/1.1 keep-alive connection: each call writes
// a request with net/http's writer and parses the whole response with its
// reader (status line, headers, body by Content-Length or chunks), as
// http.Transport does, without the Transport's pool and its two goroutines
// per connection. The gRPC client's one connection is shared by all callers;
// this one is not shared, so it needs no lock.
type httpConn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func (h *httpConn) do(req *http.Request) error {
	if h.c == nil {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			return err
		}
		h.c, h.r, h.w = c, bufio.NewReader(c), bufio.NewWriter(c)
	}
	err := req.Write(h.w)
	if err == nil {
		err = h.w.Flush()
	}
	var resp *http.Response
	if err == nil {
		resp, err = http.ReadResponse(h.r, req)
	}
	if err == nil {
		err = readOK(resp)
		if resp.Close {
			h.close()
		}
	}
	if err != nil {
		h.close()
	}
	return err
}

func (h *httpConn) close() {
	if h.c != nil {
		h.c.Close()
		h.c = nil
	}
}

// processCPU is the user and system CPU time pid has used, from
// /proc/<pid>/stat (in clock ticks of 10 ms, USER_HZ), or 0 where there is
// no /proc.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing one. utime and stime are fields 14 and 15.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func us(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Nanoseconds())/1000) }

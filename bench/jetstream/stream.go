package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	"github.com/provex/provex/storage/sqlstore"
)

const streamName = "PROVEX"

// embedded is a JetStream server running in this process and a client of
// it over loopback TCP (as provex's followers reach their peer).
type embedded struct {
	srv *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

// startServer runs JetStream on a file store in dir. SyncAlways makes the
// file store fsync every write (message blocks and consumer state) before
// acknowledging it, the closest JetStream comes to provex's
// synchronous=FULL; by default it fsyncs only every two minutes.
func startServer(dir string) (*embedded, error) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: dir,
		SyncAlways: true, NoLog: true, NoSigs: true})
	if err != nil {
		return nil, err
	}
	go srv.Start()
	if !srv.ReadyForConnections(5 * time.Minute) {
		srv.Shutdown()
		return nil, errors.New("JetStream server did not start")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		srv.Shutdown()
		return nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		nc.Close()
		srv.Shutdown()
		return nil, err
	}
	return &embedded{srv, nc, js}, nil
}

// stream is the stream of entries and how many messages it holds.
func (e *embedded) stream() (jetstream.Stream, int, error) {
	st, err := e.js.Stream(ctx, streamName)
	if err != nil {
		return nil, 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, 0, err
	}
	return st, int(info.State.Msgs), nil
}

func (e *embedded) close() {
	e.nc.Close()
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// checkpointsFile holds the origin's checkpoints, read with the stream's
// load: the replay into provex's schema needs them and the origin's
// database is in use by its node by then.
const checkpointsFile = "checkpoints.json"

// runLoad copies the origin's change log, as stored (sealed entries
// sealed), into a JetStream stream, one message per entry: the entry as
// provex's sync sends it (syncv1.Entry). Untimed.
func runLoad(args []string) (any, error) {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	originDB := fs.String("origin", "", "the origin node's database")
	dir := fs.String("dir", "", "JetStream store directory")
	fs.Parse(args)
	src, err := sqlstore.Open(ctx, *originDB, "", sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	origin := src.Member()
	var cps []changelog.Checkpoint
	for from := uint64(1); ; {
		cp, err := src.NextCheckpoint(ctx, origin, from)
		if err != nil {
			return nil, err
		}
		if cp.Seq == 0 {
			break
		}
		cps = append(cps, cp)
		from = cp.Seq + 1
	}
	if err := os.RemoveAll(*dir); err != nil {
		return nil, err
	}
	e, err := startServer(*dir)
	if err != nil {
		return nil, err
	}
	defer e.close()
	if _, err := e.js.CreateStream(ctx, jetstream.StreamConfig{Name: streamName, Subjects: []string{"changes.>"},
		Storage: jetstream.FileStorage, Replicas: 1}); err != nil {
		return nil, err
	}
	start := time.Now()
	n := 0
	for after := uint64(0); ; {
		entries, err := src.Changes(ctx, origin, after, 10_000)
		if err != nil {
			return nil, err
		}
		if len(entries) == 0 {
			break
		}
		for i := range entries {
			en := &entries[i]
			b, err := proto.Marshal(&syncv1.Entry{Origin: en.Origin, Seq: en.Seq, Hlc: en.HLC, Name: en.Name, Data: en.Data,
				Sealed: en.Sealed, PrevHash: en.PrevHash, Hash: en.Hash})
			if err != nil {
				return nil, err
			}
			if _, err := e.js.PublishAsync("changes."+origin, b, jetstream.WithStallWait(time.Minute)); err != nil {
				return nil, err
			}
		}
		n += len(entries)
		after = entries[len(entries)-1].Seq
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-time.After(10 * time.Minute):
		return nil, errors.New("JetStream did not acknowledge the load")
	}
	_, total, err := e.stream()
	if err != nil {
		return nil, err
	}
	if total != n {
		return nil, fmt.Errorf("the stream holds %d messages of %d entries", total, n)
	}
	b, err := json.Marshal(cps)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(*dir, checkpointsFile), b, 0o600); err != nil {
		return nil, err
	}
	return Timing{Entries: n, Seconds: time.Since(start).Seconds()}, nil
}

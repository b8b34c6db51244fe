package server

import (
	"context"
	"sync"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/resource"
)

// queryShare bounds the queries each identity runs at once (a semaphore
// per identity, made when it is first needed and dropped when no call of
// that identity holds or waits for it).
type queryShare struct {
	per int
	mu  sync.Mutex
	ids map[string]*querySlots
}

type querySlots struct {
	slots chan struct{}
	users int // calls holding or waiting for a slot
}

func newQueryShare(per int) *queryShare {
	return &queryShare{per: per, ids: map[string]*querySlots{}}
}

// lookups are the reads of bounded cost a reader's token makes: the
// standard Get of one named record of each kind, and the node's sync
// state. Any other read is a query, whose cost its caller sets (a List's
// filter, a summary's grouping, a workflow's status, which pages through
// every reply to a record).
var lookups = func() map[string]bool {
	m := map[string]bool{auth.MethodGetSyncState: true}
	for _, k := range resource.Kinds() {
		md := k.Method("Get")
		m["/"+string(md.Parent().FullName())+"/"+string(md.Name())] = true
	}
	return m
}()

// isQuery says whether a method shares its caller's query slots: a read
// other than a lookup, and an admin's check of the whole audit trail.
func isQuery(req auth.Requirement, fullMethod string) bool {
	return fullMethod == auth.MethodVerifyAuditLog || req == auth.RequireRead && !lookups[fullMethod]
}

// acquire waits for one of id's slots until ctx ends, and returns what
// gives it back.
func (q *queryShare) acquire(ctx context.Context, id string) (release func(), err error) {
	q.mu.Lock()
	s := q.ids[id]
	if s == nil {
		s = &querySlots{slots: make(chan struct{}, q.per)}
		q.ids[id] = s
	}
	s.users++
	q.mu.Unlock()
	leave := func() {
		q.mu.Lock()
		if s.users--; s.users == 0 {
			delete(q.ids, id)
		}
		q.mu.Unlock()
	}
	if ctx.Err() != nil {
		// A select with a free slot and an ended context picks either:
		// half such calls blamed other queries that did not run.
		leave()
		return nil, apperr.DeadlineExceeded("the call's deadline passed before its query began")
	}
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, apperr.DeadlineExceeded("%s's other queries (at most %d run at once) did not leave this one a turn before its deadline", id, q.per)
	}
}

package server

import (
	"context"
	"strings"
	"sync"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/internal/apperr"
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

// isQuery says whether a method is a query: a read that needs a reader's
// token, but for a Get of named records or of the node's state, which is
// a lookup; and the check of the whole audit trail. A workflow's status (GetIncidentAcknowledgementStatus ...) pages
// through every reply to a record: a query.
func isQuery(req auth.Requirement, fullMethod string) bool {
	if fullMethod == auth.MethodVerifyAuditLog {
		return true // an admin's, but a read of the whole trail
	}
	if req != auth.RequireRead {
		return false
	}
	name := fullMethod[strings.LastIndexByte(fullMethod, '/')+1:]
	lookup := strings.HasPrefix(name, "Get") || strings.HasPrefix(name, "BatchGet")
	return !lookup || strings.HasSuffix(name, "Status")
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
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, apperr.DeadlineExceeded("%s's other queries (at most %d run at once) did not leave this one a turn before its deadline", id, q.per)
	}
}

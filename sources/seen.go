package sources

import (
	"container/list"
	"context"
	"fmt"
	"sync"

	"github.com/leakguard/leakguard/keystore"
)

// DefaultSeenCache is the in-memory LRU size NewSeen uses for cacheSize <= 0.
const DefaultSeenCache = 100_000

// Seen is a SeenSet backed by the store (Store.MarkSeen, shared by every
// process) with a bounded in-memory LRU in front of it, so hot ids cost no
// round trip. Safe for concurrent use.
type Seen struct {
	store  keystore.Store
	source string
	size   int

	mu    sync.Mutex
	order *list.List // front = most recent
	items map[string]*list.Element
}

var _ SeenSet = (*Seen)(nil)

// NewSeen returns the SeenSet of one source. cacheSize bounds the LRU.
func NewSeen(store keystore.Store, source string, cacheSize int) *Seen {
	if cacheSize <= 0 {
		cacheSize = DefaultSeenCache
	}
	return &Seen{store: store, source: source, size: cacheSize,
		order: list.New(), items: make(map[string]*list.Element)}
}

// FirstSeen records id and reports whether it was new. An id the LRU holds
// is known without asking the store; otherwise the store decides, so two
// processes never both see an id as new.
func (s *Seen) FirstSeen(ctx context.Context, id string) (bool, error) {
	s.mu.Lock()
	if e, ok := s.items[id]; ok {
		s.order.MoveToFront(e)
		s.mu.Unlock()
		return false, nil
	}
	s.mu.Unlock()
	isNew, err := s.store.MarkSeen(ctx, s.source, id)
	if err != nil {
		return false, fmt.Errorf("mark %s content seen: %w", s.source, err)
	}
	s.remember(id)
	return isNew, nil
}

// Has reports whether id is in the in-memory cache, without recording it
// or asking the store. Sources check Has before fetching an item and call
// FirstSeen only after every hit of the item was published: marking first
// would lose the item if fetching or publishing then failed.
func (s *Seen) Has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[id]
	if ok {
		s.order.MoveToFront(e)
	}
	return ok
}

func (s *Seen) remember(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.items[id]; ok {
		s.order.MoveToFront(e)
		return
	}
	s.items[id] = s.order.PushFront(id)
	for s.order.Len() > s.size {
		last := s.order.Back()
		s.order.Remove(last)
		delete(s.items, last.Value.(string))
	}
}

// Len is the number of ids in the in-memory cache.
func (s *Seen) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len()
}

// SeenHas asks the in-memory part of set, when it has one (Seen.Has),
// whether id was recorded. nil and other sets answer false.
func SeenHas(set SeenSet, id string) bool {
	if h, ok := set.(interface{ Has(string) bool }); ok {
		return h.Has(id)
	}
	return false
}

// MarkSeen records id in set (nil: nothing to do). Call it only after the
// item's hits are all published.
func MarkSeen(ctx context.Context, set SeenSet, id string) error {
	if set == nil {
		return nil
	}
	_, err := set.FirstSeen(ctx, id)
	return err
}

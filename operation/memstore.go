package operation

import (
	"context"
	"sync"

	"github.com/fountainai/fountain"
)

// MemStore keeps operations in memory while they run and forgets each
// once it ends and is read: a runner over it records nothing lasting. A
// stack plan runs its dry runs on one, so that planning leaves no trace
// in the operations' list but what the plan itself reports.
type MemStore struct {
	mu  sync.Mutex
	ops map[string]*fountain.Operation
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{ops: map[string]*fountain.Operation{}} }

var _ Store = (*MemStore)(nil)

// CreateOperation keeps op.
func (m *MemStore) CreateOperation(_ context.Context, op *fountain.Operation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *op
	m.ops[op.ID] = &c
	return nil
}

// UpdateOperation keeps op's new state.
func (m *MemStore) UpdateOperation(_ context.Context, op *fountain.Operation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *op
	m.ops[op.ID] = &c
	return nil
}

// FindOperation returns op, and forgets it if it has ended.
func (m *MemStore) FindOperation(_ context.Context, id string) (*fountain.Operation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	op, ok := m.ops[id]
	if !ok {
		return nil, fountain.Errorf(fountain.ENOTFOUND, "operation %s not found", id)
	}
	if op.Status.Final() {
		delete(m.ops, id)
	}
	c := *op
	return &c, nil
}

// Forget drops an operation.
func (m *MemStore) Forget(id string) {
	m.mu.Lock()
	delete(m.ops, id)
	m.mu.Unlock()
}

// AppendEvents keeps nothing: a dry run's output is in its steps.
func (m *MemStore) AppendEvents(context.Context, ...fountain.Event) error { return nil }

// ListEvents has none.
func (m *MemStore) ListEvents(context.Context, string, int64, int) ([]fountain.Event, error) {
	return nil, nil
}

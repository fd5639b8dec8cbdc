package ssh

import (
	"context"
	"sync"
	"testing"
	"time"
)

// More commands at once than sshd's MaxSessions take turns on the one
// connection instead of being refused ("administratively prohibited").
func TestManyCommandsTakeTurns(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0", hostEd)
	srv.maxSessions = 10
	c := mustDial(t, dialer(newMemStore(), &logs{}), srv.target())
	var wg sync.WaitGroup
	errs := make(chan error, 25)
	for range 25 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Run(context.Background(), Cmd{Script: "sleep 0.1"}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// A borrowed client runs on its owner's connection; its Close leaves the
// connection open, the owner's ends it, and a borrowed Reconnect makes a
// connection of its own.
func TestBorrow(t *testing.T) {
	c, srv := localClient(t)
	ctx := context.Background()
	b := c.Borrow()
	if _, err := b.Run(ctx, Cmd{Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !c.Alive() || !b.Alive() {
		t.Fatal("a borrowed Close closed the connection")
	}
	if _, err := c.Run(ctx, Cmd{Argv: []string{"true"}}); err != nil {
		t.Fatalf("after a borrowed Close: %v", err)
	}
	if srv.accepted.Load() != 1 {
		t.Fatalf("%d connections for one", srv.accepted.Load())
	}
	r := c.Borrow()
	if err := r.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if c.Alive() || b.Alive() {
		t.Fatal("the owner's Close left the connection open")
	}
	if _, err := r.Run(ctx, Cmd{Argv: []string{"true"}}); err != nil {
		t.Fatalf("a reconnected borrower lost its own connection: %v", err)
	}
	r.Close()
	if r.Alive() {
		t.Fatal("a reconnected borrower's Close left its connection open")
	}
}

// A connection ended by the other side is not alive, so a shared one is
// dialed again rather than handed out dead.
func TestAliveSeesAClosedConnection(t *testing.T) {
	c, _ := localClient(t)
	if !c.Alive() {
		t.Fatal("a new connection is not alive")
	}
	c.current().conn.Close() // as if the peer had closed it: done is not closed
	for i := 0; c.Alive(); i++ {
		if i > 200 {
			t.Fatal("a closed connection still looks alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

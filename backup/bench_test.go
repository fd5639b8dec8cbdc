package backup_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/backup"
)

// benchFixture is a data directory whose store holds ops operations with
// 20 lines of output each.
func benchFixture(b *testing.B, ops int) *fixture {
	ctx := context.Background()
	f := newFixture(b)
	now := time.Now()
	for i := range ops {
		id := fmt.Sprintf("op_bench_%06d", i)
		op := &fountain.Operation{ID: id, Kind: "bench", Target: fmt.Sprint("bench/", i), Status: fountain.StatusSucceeded, CreatedAt: now,
			Steps: []fountain.Step{{Name: "step", Status: fountain.StepChanged, Output: strings.Repeat("output ", 20)}}}
		if err := f.db.CreateOperation(ctx, op); err != nil {
			b.Fatal(err)
		}
		events := make([]fountain.Event, 20)
		for j := range events {
			events[j] = fountain.Event{OperationID: id, Seq: int64(j + 1), Time: now, Type: "log", Data: fmt.Sprintf("line %d of operation %d: pulling layer sha256:%064d", j, i, i*j)}
		}
		if err := f.db.AppendEvents(ctx, events...); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.db.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkBackup takes and restores a backup of a store of 10,000
// operations (200,000 lines of output) and reports the store's size, the
// archive's, and the throughput. scrypt runs at the tests' low work factor;
// at age's default (18) add about a second to each side.
func BenchmarkBackup(b *testing.B) {
	f := benchFixture(b, 10_000)
	ctx := context.Background()
	var archive []byte
	var storeSize int64
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			var buf bytes.Buffer
			m, err := f.source().Write(ctx, &buf, passphrase)
			if err != nil {
				b.Fatal(err)
			}
			archive, storeSize = buf.Bytes(), m.Files[0].Size
		}
		b.SetBytes(storeSize)
		b.ReportMetric(float64(storeSize)/(1<<20), "store-MiB")
		b.ReportMetric(float64(len(archive))/(1<<20), "archive-MiB")
	})
	b.Run("restore", func(b *testing.B) {
		parent := b.TempDir()
		i := 0
		for b.Loop() {
			target := filepath.Join(parent, fmt.Sprint(i))
			i++
			if _, err := backup.Restore(ctx, bytes.NewReader(archive), passphrase, target); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.RemoveAll(target)
			b.StartTimer()
		}
		b.SetBytes(storeSize)
	})
}

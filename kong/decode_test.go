package kong

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/fountainai/fountain"
	"go.yaml.in/yaml/v3"
)

// Bomb shapes: how an anchor repeats the one before it.
const (
	bombList  = iota // &aN [*aN-1, *aN-1, ...]
	bombMap          // &aN {k0: *aN-1, k1: *aN-1, ...}
	bombMerge        // &aN [{<<: *aN-1, x: 0}, ...]
	bombShapes
)

// aliasBomb is a YAML configuration whose _ignore holds anchors that each
// repeat the one before fanOut times, depth times over, from a string of
// size bytes: it expands to fanOut^depth copies of the string.
func aliasBomb(shape, fanOut, depth, size int) string {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\n_ignore:\n  - &a0 {s: \"")
	b.WriteString(strings.Repeat("x", size))
	b.WriteString("\"}\n")
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "  - &a%d ", i)
		b.WriteString(map[int]string{bombList: "[", bombMap: "{", bombMerge: "["}[shape])
		for j := 0; j < fanOut; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			switch shape {
			case bombList:
				fmt.Fprintf(&b, "*a%d", i-1)
			case bombMap:
				fmt.Fprintf(&b, "k%d: *a%d", j, i-1)
			case bombMerge:
				fmt.Fprintf(&b, "{<<: *a%d, x%d: 0}", i-1, j)
			}
		}
		b.WriteString(map[int]string{bombList: "]", bombMap: "}", bombMerge: "]"}[shape])
		b.WriteString("\n")
	}
	return b.String()
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// bombs are the alias bombs the tests and the benchmark feed Parse: the
// probe's (fan-out 16, depth 4, a 900 KB string: tens of GB expanded) and
// others that stress values rather than bytes.
var bombs = []struct {
	name                       string
	shape, fanOut, depth, size int
}{
	{"strings 16^4 x 900KB", bombList, 16, 4, 900 << 10},
	{"strings 16^4 x 16KB", bombList, 16, 4, 16 << 10},
	{"lists 10^9", bombList, 10, 9, 1},
	{"maps 10^9", bombMap, 10, 9, 1},
	{"merges 10^9", bombMerge, 10, 9, 1},
	{"wide 1000^2", bombList, 1000, 2, 8},
}

// Issue 12, item 4: an alias bomb is refused while it is decoded, naming
// the field config and why, having allocated a few MB (it used to be
// expanded whole, then rendered: a 262 KB body took 2.2 s and 89 MB).
func TestAliasBombIsRefusedWhileDecoding(t *testing.T) {
	const maxAlloc = 20 << 20
	for _, bomb := range bombs {
		text := []byte(aliasBomb(bomb.shape, bomb.fanOut, bomb.depth, bomb.size))
		var err error
		n := allocated(func() { _, err = Parse(text) })
		var fe *fountain.Error
		if !errors.As(err, &fe) || fe.Code != fountain.EINVALID || fe.Field != "config" || !strings.Contains(fe.Message, "YAML aliases") {
			t.Errorf("%s: Parse = %v, want EINVALID config: ... YAML aliases ...", bomb.name, err)
		}
		if n > maxAlloc {
			t.Errorf("%s (%d bytes): Parse allocated %d bytes, more than %d", bomb.name, len(text), n, maxAlloc)
		}
	}
}

// The budgets leave ordinary uses of anchors and merge keys alone: a
// thousand services merging a shared block of settings.
func TestAnchorsWithinTheBudgets(t *testing.T) {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\n_ignore:\n  - &common {retries: 3, connect_timeout: 5000, read_timeout: 5000, write_timeout: 5000, tags: [a, b, c]}\nservices:\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "  - {<<: *common, name: s%d, url: \"http://10.0.0.%d:8080\"}\n", i, i%250+1)
	}
	c, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	// The anchor itself is kept in _ignore, as written.
	if got := strings.Count(c.YAML(), "retries: 3"); got != 1001 {
		t.Fatalf("%d mappings with the merged settings, want 1001", got)
	}
}

// BenchmarkAliasBomb reports how long refusing each bomb takes, and what
// it allocates (go test -bench AliasBomb -benchmem ./kong).
func BenchmarkAliasBomb(b *testing.B) {
	for _, bomb := range bombs {
		text := []byte(aliasBomb(bomb.shape, bomb.fanOut, bomb.depth, bomb.size))
		b.Run(strings.ReplaceAll(bomb.name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				if _, err := Parse(text); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

// FuzzAliasBomb builds bombs of every shape and size: Parse refuses or
// accepts them without panicking, naming config when it refuses for the
// budget, and what it accepts renders within MaxConfigSize.
func FuzzAliasBomb(f *testing.F) {
	for _, bomb := range bombs {
		f.Add(uint8(bomb.shape), uint16(bomb.fanOut), uint8(bomb.depth), uint32(bomb.size))
	}
	f.Add(uint8(bombList), uint16(2), uint8(3), uint32(10))
	f.Fuzz(func(t *testing.T, shape uint8, fanOut uint16, depth uint8, size uint32) {
		text := aliasBomb(int(shape%bombShapes), int(fanOut%2000)+1, int(depth%16), int(size%(1<<20)))
		c, err := Parse([]byte(text))
		if err != nil {
			var fe *fountain.Error
			if !errors.As(err, &fe) || fe.Code != fountain.EINVALID {
				t.Fatalf("Parse = %v, want EINVALID", err)
			}
			return
		}
		if len(c.YAML()) > MaxConfigSize {
			t.Fatalf("accepted %d bytes of YAML", len(c.YAML()))
		}
	})
}

// FuzzPlainScalar checks the decoder's fast path for booleans and numbers
// against yaml.v3's Decode, which it stands in for.
func FuzzPlainScalar(f *testing.F) {
	for _, s := range []string{"80", "0x50", "0o17", "017", "-0b101", "1_000", "1e3", "80.0", ".inf", "-.Inf", ".NaN", "true", "False",
		"9223372036854775808", "18446744073709551616", "+5", "1.5e-7", "0b", "._1", "yes"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var doc yaml.Node
		if yaml.Unmarshal([]byte("a: "+s), &doc) != nil || len(doc.Content) == 0 || len(doc.Content[0].Content) < 2 {
			return
		}
		n := doc.Content[0].Content[1]
		fast, ok := plainScalar(n)
		if !ok {
			return
		}
		var v any
		if err := n.Decode(&v); err != nil {
			t.Fatalf("%q: the fast path reads %v, Decode fails: %v", s, fast, err)
		}
		switch x := v.(type) {
		case int:
			v = int64(x)
		case float64:
			v = number(x)
		}
		if fmt.Sprintf("%T %v", fast, fast) != fmt.Sprintf("%T %v", v, v) {
			t.Fatalf("%q: the fast path reads %T %v, Decode %T %v", s, fast, fast, v, v)
		}
	})
}

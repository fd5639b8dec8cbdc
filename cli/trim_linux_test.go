//go:build linux

package cli

import (
	"errors"
	"os"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReadOnlyMappings(t *testing.T) {
	maps := []byte(`00400000-0184f000 r-xp 00000000 fe:00 9986166                            /opt/fountain
0184f000-0301f000 r--p 0144f000 fe:00 9986166                            /opt/fountain
0301f000-030d1000 rw-p 02c1f000 fe:00 9986166                            /opt/fountain
030d1000-030e1000 r--s 02c1f000 fe:00 9986166                            /opt/fountain
25804000-25825000 rw-p 00000000 00:00 0                                  [heap]
7f81b6804000-7f81b680c000 r--p 00000000 fe:00 9986339                    /opt/fountain-other
7f81b6b85000-7f81b6b87000 r-xp 00000000 00:00 0                          [vdso]
zz-yy r--p 00000000 fe:00 9986166 /opt/fountain
`)
	got := readOnlyMappings(maps, "/opt/fountain")
	want := [][2]uintptr{{0x400000, 0x184f000}, {0x184f000, 0x301f000}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
}

// After the trim, the program's pages mapped from its file are fewer:
// start-up's are gone, and nothing broke (the test goes on running code
// from those pages).
func TestTrimStartupPages(t *testing.T) {
	before := rssFile()
	err := trimStartupPages()
	if errors.Is(err, unix.EINVAL) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but this kernel has no MADV_PAGEOUT: %v", err)
		}
		t.Skipf("this kernel has no MADV_PAGEOUT: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile()
	t.Logf("RssFile %d kB before, %d kB after", before, after)
	if after >= before {
		t.Fatalf("RssFile %d kB after the trim, %d kB before", after, before)
	}
}

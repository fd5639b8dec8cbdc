//go:build linux

package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// trimStartupPages gives back to the kernel the pages of the program's
// own code and read-only data that start-up touched, once it is over.
//
// Fountain is one 60 MB binary (the API, the CLI, the console, the
// Lightsail emulator and the stand-ins, the AWS SDK, SQLite): starting
// the server runs every package's init and builds the API's schemas,
// which leaves about 35 MB of the binary resident, most of it never used
// again. Those pages are clean copies of the file: MADV_PAGEOUT drops
// them, and the ones a request needs come back at their first use, one
// page at a time (MADV_RANDOM turns off read-ahead and read-around for
// them, which would bring back whole neighbourhoods). Under load the
// binary's resident part is then what serving actually uses, about a
// third of it.
//
// Only read-only, private mappings of the executable are touched, and
// only with MADV_PAGEOUT, which goes through the kernel's reclaim: clean
// pages are dropped, a private copy (relocated data in a PIE or
// externally linked build) is swapped or left, never thrown away. (Never
// use MADV_DONTNEED or MADV_FREE here: they would discard such copies.)
// A kernel without MADV_PAGEOUT (before 5.4) refuses it; one since 6.0
// pages out a file's pages only for its owner (or root): where nothing
// was dropped, read-ahead is left on, and nothing changes.
func trimStartupPages() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("trim start-up pages: %w", err)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return fmt.Errorf("trim start-up pages: %w", err)
	}
	ranges := readOnlyMappings(maps, exe)
	before := rssFile()
	for _, r := range ranges {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r[0], r[1]-r[0], unix.MADV_PAGEOUT); errno != 0 {
			return fmt.Errorf("trim start-up pages: madvise(MADV_PAGEOUT): %w", errno)
		}
	}
	if after := rssFile(); before < 0 || after < 0 || after >= before {
		return fmt.Errorf("trim start-up pages: the kernel dropped none (resident file pages %d kB, then %d kB): the binary is not the server's own", before, after)
	}
	for _, r := range ranges {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r[0], r[1]-r[0], unix.MADV_RANDOM); errno != 0 {
			return fmt.Errorf("trim start-up pages: madvise(MADV_RANDOM): %w", errno)
		}
	}
	return nil
}

// rssFile is RssFile of /proc/self/status in kB, -1 if unknown.
func rssFile() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// readOnlyMappings are the [start, end) address ranges of /proc/self/maps
// that map file path read-only and private (r-xp, r--p).
func readOnlyMappings(maps []byte, path string) [][2]uintptr {
	var out [][2]uintptr
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// start-end perms offset dev inode path
		f := strings.Fields(sc.Text())
		if len(f) != 6 || f[5] != path || len(f[1]) != 4 || f[1][0] != 'r' || f[1][1] != '-' || f[1][3] != 'p' {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		out = append(out, [2]uintptr{uintptr(start), uintptr(end)})
	}
	return out
}

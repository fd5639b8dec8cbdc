package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/rootfile"
	"github.com/fountainai/fountain/sandbox"
)

// Disk space below which the data directory's file system is a warning,
// and a failure.
const (
	diskWarnBytes = 1 << 30
	diskFailBytes = 200 << 20
)

// maxWalk bounds how many entries a directory check looks at.
const maxWalk = 100_000

// owner returns the uid that owns fi (-1 if unknown).
func owner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// checkKeyDirs checks each directory ssh_key_path may name: there,
// private (0700), owned by the server's user, its private keys 0600.
func (d *Doctor) checkKeyDirs(context.Context) []api.Check {
	var out []api.Check
	for _, dir := range d.KeyDirs {
		out = append(out, d.checkKeyDir(dir))
	}
	if len(out) == 0 {
		out = append(out, warnCheck("ssh-key-dir", "FOUNTAIN_SSH_KEY_DIRS names no directory: no ssh_key_path can be used",
			"set FOUNTAIN_SSH_KEY_DIRS to directories holding SSH keys, e.g. ~/.ssh, or unset it"))
	}
	return out
}

func (d *Doctor) checkKeyDir(dir string) api.Check {
	const name = "ssh-key-dir"
	from := "default"
	if d.KeyDirsFromEnv {
		from = "FOUNTAIN_SSH_KEY_DIRS"
	}
	path, err := rootfile.ExpandHome(dir)
	if err != nil {
		return failCheck(name, fmt.Sprintf("%s (%s): cannot find the home directory", dir, from), "write the directory in full")
	}
	if !filepath.IsAbs(path) {
		return failCheck(name, fmt.Sprintf("%s (%s) is not an absolute path: keys there are refused", dir, from),
			"name it from / (or ~/) in FOUNTAIN_SSH_KEY_DIRS")
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && path == d.KeyDir:
		return okCheck(name, fmt.Sprintf("%s (%s): not created yet; `fountain serve` creates it (0700) and keeps Lightsail's default keys there", path, from))
	case errors.Is(err, fs.ErrNotExist) && !d.KeyDirsFromEnv:
		return okCheck(name, fmt.Sprintf("%s (%s): does not exist; nothing is read from it", path, from))
	case errors.Is(err, fs.ErrNotExist):
		return warnCheck(name, fmt.Sprintf("%s (FOUNTAIN_SSH_KEY_DIRS) does not exist: no key can be used from it", path),
			"create it (mkdir -m 700 "+path+") or remove it from FOUNTAIN_SSH_KEY_DIRS")
	case err != nil:
		return failCheck(name, fmt.Sprintf("%s (%s): %v", path, from, err), "make it readable by the user Fountain runs as")
	case !fi.IsDir():
		return failCheck(name, fmt.Sprintf("%s (%s) is not a directory", path, from), "name directories in FOUNTAIN_SSH_KEY_DIRS, not files")
	}
	status, mode := api.CheckOK, fi.Mode().Perm()
	var problems, fixes []string
	if uid := owner(fi); uid >= 0 && uid != d.uid() {
		status = worse(status, api.CheckFail)
		problems = append(problems, fmt.Sprintf("owned by uid %d, not uid %d (the server's user)", uid, d.uid()))
		fixes = append(fixes, fmt.Sprintf("chown %d %s", d.uid(), path))
	}
	switch {
	case mode&0o022 != 0:
		status = worse(status, api.CheckFail)
		problems = append(problems, fmt.Sprintf("writable by group or others (mode %04o): another user could put a key there", mode))
		fixes = append(fixes, "chmod 700 "+path)
	case mode&0o077 != 0:
		status = worse(status, api.CheckWarn)
		problems = append(problems, fmt.Sprintf("readable by group or others (mode %04o)", mode))
		fixes = append(fixes, "chmod 700 "+path)
	}
	keys, open, foreign, err := scanKeys(path, d.uid())
	if err != nil {
		return failCheck(name, fmt.Sprintf("%s (%s): cannot list it: %v", path, from, err), "make it readable by the user Fountain runs as")
	}
	if len(open) > 0 {
		status = worse(status, api.CheckFail)
		problems = append(problems, fmt.Sprintf("%s readable by group or others, refused as OpenSSH refuses them: %s", plural(len(open), "private key"), strings.Join(open, ", ")))
		fixes = append(fixes, "chmod 600 "+strings.Join(prefixAll(path, open), " "))
	}
	if len(foreign) > 0 {
		status = worse(status, api.CheckFail)
		problems = append(problems, fmt.Sprintf("%s owned by another user: %s", plural(len(foreign), "private key"), strings.Join(foreign, ", ")))
		fixes = append(fixes, fmt.Sprintf("chown %d %s", d.uid(), strings.Join(prefixAll(path, foreign), " ")))
	}
	found := fmt.Sprintf("%s (%s, %04o): %s", path, from, mode, plural(keys, "private key"))
	if len(problems) > 0 {
		found += "; " + strings.Join(problems, "; ")
	}
	return api.Check{Name: name, Status: status, Found: found, Fix: strings.Join(fixes, "; ")}
}

// scanKeys looks at the regular files directly in dir and returns how many
// are private keys, and the names of those others may read or another
// user owns. Only a key's first line is read.
func scanKeys(dir string, uid int) (keys int, open, foreign []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, nil, nil, err
	}
	for i, e := range entries {
		if i >= maxWalk {
			break
		}
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || fi.Size() > 64<<10 || !isPrivateKeyFile(filepath.Join(dir, e.Name())) {
			continue
		}
		keys++
		if fi.Mode().Perm()&0o077 != 0 {
			open = append(open, fmt.Sprintf("%s (%04o)", e.Name(), fi.Mode().Perm()))
		}
		if o := owner(fi); o >= 0 && o != uid {
			foreign = append(foreign, e.Name())
		}
	}
	return keys, open, foreign, nil
}

// isPrivateKeyFile says whether path starts like a PEM private key.
func isPrivateKeyFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 64)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	return bytes.HasPrefix(head, []byte("-----BEGIN ")) && bytes.Contains(head, []byte("PRIVATE KEY-----"))
}

// prefixAll joins dir to each "name (mode)" entry's name.
func prefixAll(dir string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		n, _, _ = strings.Cut(n, " (")
		out[i] = filepath.Join(dir, n)
	}
	return out
}

// checkDataDir checks the data directory: there, owned by the server's
// user, and everything in it private (files 0600, directories 0700).
func (d *Doctor) checkDataDir(context.Context) []api.Check {
	const name = "data-dir"
	fi, err := os.Stat(d.DataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return []api.Check{warnCheck(name, d.DataDir+" does not exist yet", "`fountain serve` creates it (0700); or name another with --data-dir / FOUNTAIN_DATA_DIR")}
	case err != nil:
		return []api.Check{failCheck(name, fmt.Sprintf("%s: %v", d.DataDir, err), "make it readable by the user Fountain runs as")}
	case !fi.IsDir():
		return []api.Check{failCheck(name, d.DataDir+" is not a directory", "name a directory with --data-dir / FOUNTAIN_DATA_DIR")}
	}
	if uid := owner(fi); uid >= 0 && uid != d.uid() {
		return []api.Check{failCheck(name, fmt.Sprintf("%s is owned by uid %d, not uid %d (the server's user)", d.DataDir, uid, d.uid()),
			fmt.Sprintf("chown -R %d %s, or run Fountain as its owner", d.uid(), d.DataDir))}
	}
	files, walked := 0, 0
	var loose []string
	_ = filepath.WalkDir(d.DataDir, func(p string, e fs.DirEntry, err error) error {
		walked++
		if err != nil || walked > maxWalk {
			return filepath.SkipAll
		}
		want := privateFile
		switch {
		case e.IsDir():
			want = privateDir
		case !e.Type().IsRegular():
			return nil
		default:
			files++
		}
		if fi, err := e.Info(); err == nil && fi.Mode().Perm()&^want != 0 {
			rel, _ := filepath.Rel(d.DataDir, p)
			loose = append(loose, fmt.Sprintf("%s (%04o)", rel, fi.Mode().Perm()))
		}
		return nil
	})
	found := fmt.Sprintf("%s (%04o): %s", d.DataDir, fi.Mode().Perm(), plural(files, "file"))
	if len(loose) == 0 {
		return []api.Check{okCheck(name, found+", all private (files 0600, directories 0700)")}
	}
	shown := loose[:min(len(loose), 5)]
	more := ""
	if len(loose) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(loose)-len(shown))
	}
	return []api.Check{warnCheck(name, fmt.Sprintf("%s; others may read %s: %s%s", found, plural(len(loose), "path"), strings.Join(shown, ", "), more),
		"`fountain serve` makes them private at start; or chmod -R go-rwx "+d.DataDir)}
}

// checkDisk checks the free space of the data directory's file system.
func (d *Doctor) checkDisk(context.Context) []api.Check {
	const name = "disk"
	statfs := d.Statfs
	if statfs == nil {
		statfs = freeSpace
	}
	// The nearest existing directory: the data directory may not exist yet.
	dir := d.DataDir
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	free, total, err := statfs(dir)
	if err != nil {
		return []api.Check{warnCheck(name, fmt.Sprintf("the free space of %s's file system is unknown: %v", dir, err), "")}
	}
	found := fmt.Sprintf("%s free of %s on the file system of %s", bytesText(free), bytesText(total), dir)
	switch {
	case free < diskFailBytes:
		return []api.Check{failCheck(name, found, "free space there: the store, logs and the sandbox's registry need it")}
	case free < diskWarnBytes:
		return []api.Check{warnCheck(name, found, "free some space there: under 1 GiB left")}
	}
	return []api.Check{okCheck(name, found)}
}

func freeSpace(path string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// bytesText writes a size in GiB or MiB.
func bytesText(n uint64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// checkAptCache checks the sandbox hosts' shared apt cache.
func (d *Doctor) checkAptCache(context.Context) []api.Check {
	const name = "apt-cache"
	dir := d.AptCacheDir
	if dir == "" {
		dir = sandbox.DefaultAptCacheDir()
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return []api.Check{okCheck(name, dir+": not created yet; the first apt download of a sandbox host fills it")}
	case err != nil:
		return []api.Check{failCheck(name, fmt.Sprintf("%s: %v", dir, err), "make it usable by the user Fountain runs as, or remove it")}
	case !fi.IsDir():
		return []api.Check{failCheck(name, dir+" is not a directory", "remove it; the apt proxy makes the directory")}
	}
	if uid := owner(fi); uid >= 0 && uid != d.uid() {
		return []api.Check{failCheck(name, fmt.Sprintf("%s is owned by uid %d, not uid %d: the apt proxy cannot keep downloads there", dir, uid, d.uid()),
			fmt.Sprintf("chown -R %d %s, or remove it", d.uid(), dir))}
	}
	files, walked := 0, 0
	var size int64
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		walked++
		if err != nil || walked > maxWalk {
			return filepath.SkipAll
		}
		if e.Type().IsRegular() {
			if fi, err := e.Info(); err == nil {
				files++
				size += fi.Size()
			}
		}
		return nil
	})
	return []api.Check{okCheck(name, fmt.Sprintf("%s: %s, %s (kept by `fountain sandbox down`)", dir, plural(files, "file"), bytesText(uint64(size))))}
}

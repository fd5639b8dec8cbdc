package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

var (
	lookPath       = exec.LookPath
	commandContext = exec.CommandContext
)

func runCmd(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := commandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// aptSource is one "deb" source: a mirror URI and the suites it serves.
type aptSource struct {
	URI    string
	Suites []string
}

// AptMirror returns the Debian mirror this machine's apt uses for suite,
// read from root/etc/apt/sources.list.d/*.sources (deb822 "URIs:") and
// root/etc/apt/sources.list ("deb URI suite ..."). root is "/" normally.
// A source serving exactly suite wins; otherwise the first plain http(s)
// source that is not a security or updates pocket.
func AptMirror(root, suite string) (string, error) {
	if root == "" {
		root = "/"
	}
	sources, err := aptSources(root)
	if err != nil {
		return "", fmt.Errorf("apt mirror: %w", err)
	}
	fallback := ""
	for _, src := range sources {
		if !strings.HasPrefix(src.URI, "http://") && !strings.HasPrefix(src.URI, "https://") {
			continue
		}
		for _, s := range src.Suites {
			if s == suite {
				return src.URI, nil
			}
			if fallback == "" && !strings.Contains(s, "-") && !strings.Contains(s, "/") {
				fallback = src.URI
			}
		}
	}
	if fallback != "" {
		return fallback, nil
	}
	return "", fmt.Errorf("apt mirror: no http(s) deb source for %q in %s (sources.list.d/*.sources or sources.list)", suite, filepath.Join(root, "etc/apt"))
}

// aptSources reads every "deb" source of root/etc/apt: sources.list.d/*.sources
// (deb822), then sources.list and sources.list.d/*.list (one-line style).
func aptSources(root string) ([]aptSource, error) {
	var sources []aptSource
	files, _ := filepath.Glob(filepath.Join(root, "etc/apt/sources.list.d/*.sources"))
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sources = append(sources, parseDeb822(string(b))...)
	}
	lists, _ := filepath.Glob(filepath.Join(root, "etc/apt/sources.list.d/*.list"))
	sort.Strings(lists)
	lists = append([]string{filepath.Join(root, "etc/apt/sources.list")}, lists...)
	for _, f := range lists {
		if b, err := os.ReadFile(f); err == nil {
			sources = append(sources, parseOneLine(string(b))...)
		}
	}
	return sources, nil
}

// AptHosts returns the hosts (host, or host:port when the port is not the
// scheme's default) of this machine's plain-http apt sources, read from
// root/etc/apt like AptMirror, sorted and without duplicates. They are what
// the sandbox's apt proxy may forward to.
func AptHosts(root string) ([]string, error) {
	if root == "" {
		root = "/"
	}
	sources, err := aptSources(root)
	if err != nil {
		return nil, fmt.Errorf("apt hosts: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, src := range sources {
		if h, ok := httpHost(src.URI); ok && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	sort.Strings(out)
	return out, nil
}

// httpHost returns the normalized host of a plain-http URL: lower case,
// without the default port 80.
func httpHost(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Hostname() == "" || u.User != nil {
		return "", false
	}
	return normalizeHost(u.Host, "80"), true
}

// normalizeHost lower-cases host[:port] and drops the port when it is
// defaultPort.
func normalizeHost(hostport, defaultPort string) string {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		h, p = strings.Trim(hostport, "[]"), ""
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if p == "" || p == defaultPort {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return net.JoinHostPort(h, p)
}

// parseDeb822 reads the stanzas of a deb822 .sources file.
func parseDeb822(text string) []aptSource {
	var out []aptSource
	for _, stanza := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		fields := map[string]string{}
		last := ""
		sc := bufio.NewScanner(strings.NewReader(stanza))
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
				continue
			}
			if (line[0] == ' ' || line[0] == '\t') && last != "" {
				fields[last] += " " + strings.TrimSpace(line)
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
		if en := strings.ToLower(fields["enabled"]); en == "no" || en == "false" {
			continue
		}
		if !contains(strings.Fields(fields["types"]), "deb") {
			continue
		}
		for _, uri := range strings.Fields(fields["uris"]) {
			out = append(out, aptSource{URI: strings.TrimRight(uri, "/"), Suites: strings.Fields(fields["suites"])})
		}
	}
	return out
}

// parseOneLine reads one-line-style "deb [options] URI suite components".
func parseOneLine(text string) []aptSource {
	var out []aptSource
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") {
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) == 0 {
				continue
			}
			f = f[1:]
		}
		if len(f) < 2 {
			continue
		}
		out = append(out, aptSource{URI: strings.TrimRight(f[0], "/"), Suites: []string{f[1]}})
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

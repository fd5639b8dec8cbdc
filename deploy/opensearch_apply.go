package deploy

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/ssh"
)

// opensearchProbe prints what the plan decides on, one key=value a line
// (file contents in base64); it changes nothing. It is a constant: no
// request value goes into it.
const opensearchProbe = `. /etc/os-release 2>/dev/null && echo "os=$PRETTY_NAME"
command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1 && echo apt=yes
dpkg-query -W -f='pkg=${db:Status-Abbrev}|${Version}\n' opensearch 2>/dev/null || true
test -s ` + opensearchKeyring + ` && echo keyring=yes
test -f ` + opensearchSources + ` && echo "sources=$(base64 -w0 ` + opensearchSources + `)"
test -f ` + opensearchPin + ` && echo "pin=$(base64 -w0 ` + opensearchPin + `)"
echo "maxmap=$(cat /proc/sys/vm/max_map_count)"
test -f ` + opensearchSysctl + ` && echo "sysctl=$(base64 -w0 ` + opensearchSysctl + `)"
test -f ` + opensearchYML + ` && echo "config=$(base64 -w0 ` + opensearchYML + `)"
test -f ` + opensearchHeap + ` && echo "heap=$(base64 -w0 ` + opensearchHeap + `)"
test -f ` + opensearchNodeCert + ` && echo "nodecert=$(base64 -w0 ` + opensearchNodeCert + `)"
test -f ` + opensearchNodeCA + ` && echo "nodeca=$(base64 -w0 ` + opensearchNodeCA + `)"
test -s ` + opensearchNodeKey + ` && echo nodekey=yes
systemctl is-active --quiet opensearch 2>/dev/null && echo active=yes
systemctl is-enabled --quiet opensearch 2>/dev/null && echo enabled=yes
sed -n 's/^MemTotal: *\([0-9]*\) kB/mem=\1/p' /proc/meminfo
cg=$(sed -n 's/^0:://p' /proc/1/cgroup 2>/dev/null)
test -r "/sys/fs/cgroup$cg/memory.max" && echo "memmax=$(cat "/sys/fs/cgroup$cg/memory.max")"
echo "ip=$(hostname -I 2>/dev/null | cut -d' ' -f1)"
true`

// probeOpenSearch reads the host's facts in one command (as root: the
// config is not world-readable).
func probeOpenSearch(ctx context.Context, c *ssh.Client) (OpenSearchFacts, error) {
	res, err := c.Run(ctx, ssh.Cmd{Name: "look at the host", Script: opensearchProbe, Sudo: true, Timeout: time.Minute, TailBytes: 4 * osMaxConfigRead})
	if err != nil {
		return OpenSearchFacts{}, err
	}
	if res.StdoutTruncated {
		return OpenSearchFacts{}, fountain.Errorf(fountain.ECONFLICT, "the OpenSearch files on %s are larger than Fountain reads (%d bytes)", c.Host(), 4*osMaxConfigRead)
	}
	return parseOpenSearchProbe(res.Stdout), nil
}

// parseOpenSearchProbe reads the probe's output.
func parseOpenSearchProbe(out string) OpenSearchFacts {
	var f OpenSearchFacts
	limitMiB := 0
	file := func(v string) HostFile {
		b, _ := base64.StdEncoding.DecodeString(v)
		return HostFile{Exists: true, Body: string(b)}
	}
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "os":
			f.OS = v
		case "apt":
			f.Apt = true
		case "pkg": // dpkg's status abbreviation ("ii ", "hi "), then the version
			abbrev, version, _ := strings.Cut(v, "|")
			if len(abbrev) >= 2 && abbrev[1] == 'i' {
				f.Installed = version
			}
			f.Held = strings.HasPrefix(abbrev, "h")
		case "keyring":
			f.Keyring = true
		case "sources":
			f.Sources = file(v)
		case "pin":
			f.Pin = file(v)
		case "maxmap":
			f.MaxMapCount, _ = strconv.Atoi(v)
		case "sysctl":
			f.Sysctl = file(v)
		case "config":
			f.Config = file(v)
		case "heap":
			f.Heap = file(v)
		case "nodecert":
			f.NodeCert = file(v)
		case "nodeca":
			f.NodeCA = file(v)
		case "nodekey":
			f.NodeKey = true
		case "active":
			f.Active = true
		case "enabled":
			f.Enabled = true
		case "mem":
			kib, _ := strconv.Atoi(v)
			f.MemMiB = kib / 1024
		case "memmax": // a container's limit: what the host really has
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
				limitMiB = int(n >> 20)
			}
		case "ip":
			f.HostIP = v
		}
	}
	if limitMiB > 0 && (f.MemMiB == 0 || limitMiB < f.MemMiB) {
		f.MemMiB = limitMiB
	}
	return f
}

// statDir reads a directory's owner and mode (a missing one is not an
// error).
func statDir(ctx context.Context, c *ssh.Client, dir string) (HostDir, error) {
	res, err := c.Run(ctx, ssh.Cmd{Name: "look at " + dir, Script: "if test -d " + ssh.Quote(dir) + "; then stat -c '%U:%G %a' " + ssh.Quote(dir) + "; fi",
		Sudo: true, Timeout: time.Minute})
	if err != nil {
		return HostDir{}, err
	}
	owner, mode, ok := strings.Cut(strings.TrimSpace(res.Stdout), " ")
	if !ok {
		return HostDir{}, nil
	}
	return HostDir{Exists: true, Owner: owner, Mode: mode}, nil
}

// osMaxConfigRead bounds the opensearch.yml Fountain reads to edit.
const osMaxConfigRead = 1 << 20

// opensearchExec observes one host and applies the effects of a
// deploy-opensearch plan there. It lives for one operation and holds the
// admin password (never a plan): the one given, the one kept, or the one
// it generates.
type opensearchExec struct {
	c      *ssh.Client
	keeper SecretKeeper // nil: none
	scope  string       // the host's secrets in the keeper

	password  string // the admin password in use, once known
	generated bool   // password was generated by this run
	kept      bool   // the keeper holds password
	health    *OpenSearchHealth
}

// observe reads the host (one command, and the snapshot directory) and
// the vault into facts; given is the request's admin password. The kept
// password is masked from here on.
func (x *opensearchExec) observe(ctx context.Context, rec fountain.Recorder, h *Host, given, repoDir string) (OpenSearchFacts, error) {
	f, err := probeOpenSearch(ctx, x.c)
	if err != nil {
		return f, err
	}
	if f.RepoDir, err = statDir(ctx, x.c, repoDir); err != nil {
		return f, err
	}
	f.Target = h.Target()
	if inst := h.Instance; inst != nil {
		f.BundleID, f.BundleMiB, f.PrivateIP = inst.BundleID, inst.RAMMiB, inst.PrivateIP
	}
	x.password = given
	if x.keeper != nil {
		f.Vault = true
		kept, err := x.keeper.GetSecret(ctx, x.scope, "admin_password")
		if err != nil {
			return f, fmt.Errorf("read the kept admin password: %w", err)
		}
		if kept != "" {
			rec.AddSecret(kept)
			f.PasswordKept, f.KeptIsGiven = true, kept == given
			x.kept = given == "" || kept == given
			if given == "" {
				x.password = kept
			}
		}
	}
	return f, nil
}

// Apply applies one change's effect.
func (x *opensearchExec) Apply(ctx context.Context, rec fountain.Recorder, ch fountain.Change) (fountain.StepResult, error) {
	logLine := func(_, line string) { rec.Log(line) }
	switch e := ch.Effect.(type) {
	case osFetchKey:
		script := "set -e\ncurl -fsSL " + ssh.Quote(e.URL) + " | gpg --batch --yes --dearmor -o " + opensearchKeyring + "\nchmod 0644 " + opensearchKeyring
		if _, err := x.c.Run(ctx, ssh.Cmd{Name: "fetch OpenSearch's apt key", Script: script, Sudo: true, Timeout: 2 * time.Minute, OnLine: logLine}); err != nil {
			return fountain.StepResult{}, err
		}
		return fountain.StepResult{Changed: true, Output: "from " + e.URL}, nil
	case osWriteFile:
		if err := writeRemoteFile(ctx, x.c, "write "+e.Path, e.Path, e.Body, e.Mode, e.Owner); err != nil {
			return fountain.StepResult{}, err
		}
		return fountain.StepResult{Changed: true}, nil
	case osInstall:
		return x.install(ctx, rec, e)
	case osMaxMapCount:
		if e.File != nil {
			if err := writeRemoteFile(ctx, x.c, "write "+e.File.Path, e.File.Path, e.File.Body, e.File.Mode, e.File.Owner); err != nil {
				return fountain.StepResult{}, err
			}
		}
		if e.SetLive {
			if _, err := x.c.Run(ctx, ssh.Cmd{Name: "set vm.max_map_count", Argv: []string{"sysctl", "-w", fmt.Sprintf("vm.max_map_count=%d", maxMapCount)},
				Sudo: true, Timeout: time.Minute, OnLine: logLine}); err != nil {
				return fountain.StepResult{}, err
			}
		}
		return fountain.StepResult{Changed: true}, nil
	case osEditConfig:
		// The file as it is now: the package may have just written it.
		cur, err := x.c.Run(ctx, ssh.Cmd{Name: "read " + opensearchYML, Script: "if test -f " + opensearchYML + "; then cat " + opensearchYML + "; fi",
			Sudo: true, Timeout: time.Minute, TailBytes: osMaxConfigRead})
		if err != nil {
			return fountain.StepResult{}, err
		}
		if cur.StdoutTruncated {
			return fountain.StepResult{}, fountain.Errorf(fountain.ECONFLICT, "%s on %s is larger than %d bytes: Fountain does not edit it", opensearchYML, x.c.Host(), osMaxConfigRead)
		}
		if err := writeRemoteFile(ctx, x.c, "write "+opensearchYML, opensearchYML, opensearchConfigFile(cur.Stdout, e.Settings), "0640", osOpenSearchOwner); err != nil {
			return fountain.StepResult{}, err
		}
		return fountain.StepResult{Changed: true}, nil
	case osService:
		script := "set -e\nsystemctl daemon-reload\n"
		if e.Enable {
			script += "systemctl enable opensearch\n"
		}
		if e.Verb != "" {
			script += "systemctl " + e.Verb + " opensearch\n"
		}
		if _, err := x.c.Run(ctx, ssh.Cmd{Name: "start opensearch", Script: script, Sudo: true, Timeout: 5 * time.Minute, OnLine: logLine}); err != nil {
			tail, _ := x.c.Run(context.WithoutCancel(ctx), ssh.Cmd{Name: "read the journal", Argv: []string{"journalctl", "-u", "opensearch", "-n", "30", "--no-pager"},
				Sudo: true, Timeout: 30 * time.Second})
			return fountain.StepResult{Output: tail.Stdout}, err
		}
		return fountain.StepResult{Changed: true}, nil
	case osWaitHealthy:
		h, err := openSearchHealth(ctx, x.c, e.NetworkHost, x.password, e.Wait)
		if err != nil {
			return fountain.StepResult{}, err
		}
		x.health = h
		return fountain.StepResult{Output: fmt.Sprintf("OpenSearch %s, cluster %s is %s", h.Version, h.ClusterName, h.Status)}, nil
	case osRepoDir:
		if _, err := x.c.Run(ctx, ssh.Cmd{Name: "make " + e.Path, Argv: []string{"install", "-d", "-o", "opensearch", "-g", "opensearch", "-m", "0750", e.Path},
			Sudo: true, Timeout: time.Minute, OnLine: logLine}); err != nil {
			return fountain.StepResult{}, err
		}
		return fountain.StepResult{Changed: true}, nil
	case osKeepPassword:
		if err := x.keep(ctx); err != nil {
			return fountain.StepResult{}, err
		}
		return fountain.StepResult{Changed: true, Output: "kept encrypted"}, nil
	}
	return fountain.StepResult{}, fmt.Errorf("opensearch: no executor for %T (step %q)", ch.Effect, ch.Name)
}

// install installs the package with the admin password in apt's
// environment (on stdin, never on a command line), generating it first
// if the plan says so, and keeps it if the plan says so.
func (x *opensearchExec) install(ctx context.Context, rec fountain.Recorder, e osInstall) (fountain.StepResult, error) {
	if e.Password == passwordGenerate {
		x.password, x.generated, x.kept = generatePassword(), true, false
		rec.AddSecret(x.password)
	}
	if x.password == "" {
		return fountain.StepResult{}, fmt.Errorf("opensearch: no admin password for the install (%s)", e.Password)
	}
	held := ""
	if e.AllowHeld {
		held = " --allow-change-held-packages"
	}
	// A conffile Fountain edited (opensearch.yml) is kept on an upgrade,
	// without a question.
	script := "set -e\nexport DEBIAN_FRONTEND=noninteractive\n" +
		"apt-get -o DPkg::Lock::Timeout=300 update -q\n" +
		"apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install -y -q --allow-downgrades" + held + " " +
		ssh.Quote("opensearch="+e.Version)
	_, err := x.c.Run(ctx, ssh.Cmd{Name: "install opensearch " + e.Version, Script: script, Sudo: true,
		Env: map[string]string{"OPENSEARCH_INITIAL_ADMIN_PASSWORD": x.password}, Timeout: 20 * time.Minute, OnLine: func(_, line string) { rec.Log(line) }})
	if err != nil {
		return fountain.StepResult{}, err
	}
	if e.Keep {
		// The package set this password: it is kept now, so that a later
		// step failing does not leave OpenSearch with a password nobody
		// knows.
		if err := x.keep(ctx); err != nil {
			return fountain.StepResult{Changed: true}, err
		}
	}
	return fountain.StepResult{Changed: true}, nil
}

// keep puts the admin password in use in the keeper.
func (x *opensearchExec) keep(ctx context.Context) error {
	if x.keeper == nil {
		return fmt.Errorf("opensearch: no secret store to keep the admin password in")
	}
	if err := x.keeper.PutSecret(ctx, x.scope, "admin_password", x.password); err != nil {
		return fmt.Errorf("keep the admin password: %w", err)
	}
	x.kept = true
	return nil
}

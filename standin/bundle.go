// Package standin packages Fountain's stand-ins for OpenSearch and Kong
// (packages opensearch and kong below) for sandbox hosts: the fountain
// binary with the libraries it needs, an opensearch .deb with the real
// package's layout and install scripts, a signed apt repository serving
// it, and an OCI image standing in for kong:3.9.
//
// Everything here is for the sandbox and tests only: it is never used
// against real infrastructure, and every artefact says it is a stand-in.
package standin

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LibDirs are where shared libraries are looked up, in order (Debian and
// Ubuntu multiarch first).
var LibDirs = []string{
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
	"/lib64", "/usr/lib64", "/lib", "/usr/lib",
}

// Bundle is what a binary needs to run on a host that may lack (or have
// another version of) its libraries: itself and, when dynamically linked,
// its ELF interpreter and the closure of its DT_NEEDED libraries.
type Bundle struct {
	// Binary is the binary's path on this machine.
	Binary string
	// Static is true when the binary needs no interpreter.
	Static bool
	// Interpreter is the ELF interpreter (PT_INTERP), resolved to a file
	// on this machine; InterpreterName is its base name as the binary
	// names it (ld-linux-x86-64.so.2).
	Interpreter, InterpreterName string
	// Libraries are the needed libraries: Name is the soname the loader
	// looks for, Source the file on this machine.
	Libraries []Library
	// Arch is the Debian architecture of the binary (amd64, arm64).
	Arch string
}

// Library is one shared library of a Bundle.
type Library struct {
	Name   string
	Source string
}

// BundleBinary inspects the ELF binary at path and lists what it needs.
func BundleBinary(path string) (*Bundle, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	defer f.Close()
	b := &Bundle{Binary: path}
	switch f.Machine {
	case elf.EM_X86_64:
		b.Arch = "amd64"
	case elf.EM_AARCH64:
		b.Arch = "arm64"
	default:
		return nil, fmt.Errorf("bundle %s: unsupported machine %v", path, f.Machine)
	}
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			buf := make([]byte, p.Filesz)
			if _, err := p.ReadAt(buf, 0); err != nil {
				return nil, fmt.Errorf("bundle %s: read interpreter: %w", path, err)
			}
			interp = strings.TrimRight(string(buf), "\x00")
		}
	}
	if interp == "" {
		b.Static = true
		return b, nil
	}
	src, err := filepath.EvalSymlinks(interp)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: interpreter %s: %w", path, interp, err)
	}
	b.Interpreter, b.InterpreterName = src, filepath.Base(interp)
	seen := map[string]bool{b.InterpreterName: true}
	queue, err := f.ImportedLibraries()
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		src, err := findLibrary(name)
		if err != nil {
			return nil, fmt.Errorf("bundle %s: %w", path, err)
		}
		b.Libraries = append(b.Libraries, Library{Name: name, Source: src})
		lf, err := elf.Open(src)
		if err != nil {
			return nil, fmt.Errorf("bundle %s: %s: %w", path, src, err)
		}
		more, err := lf.ImportedLibraries()
		lf.Close()
		if err != nil {
			return nil, fmt.Errorf("bundle %s: %s: %w", path, src, err)
		}
		queue = append(queue, more...)
	}
	return b, nil
}

// findLibrary resolves a soname in LibDirs to a regular file.
func findLibrary(name string) (string, error) {
	for _, d := range LibDirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return filepath.EvalSymlinks(p)
		}
	}
	return "", errors.New("library " + name + " not found in " + strings.Join(LibDirs, ":"))
}

// Files lists what to install: target path (relative to the root) ->
// source on this machine. The binary goes to binPath; the interpreter and
// libraries to libDir.
func (b *Bundle) Files(binPath, libDir string) map[string]string {
	out := map[string]string{binPath: b.Binary}
	if b.Static {
		return out
	}
	out[filepath.Join(libDir, b.InterpreterName)] = b.Interpreter
	for _, l := range b.Libraries {
		out[filepath.Join(libDir, l.Name)] = l.Source
	}
	return out
}

// Command is the argv that runs the installed binary: itself when static,
// else through the bundled loader with the bundled libraries.
func (b *Bundle) Command(binPath, libDir string, args ...string) []string {
	if b.Static {
		return append([]string{binPath}, args...)
	}
	return append([]string{filepath.Join(libDir, b.InterpreterName), "--library-path", libDir, binPath}, args...)
}

// Launcher is a /bin/sh script that runs the installed binary with args
// and the script's own arguments.
func (b *Bundle) Launcher(binPath, libDir string, args ...string) string {
	argv := b.Command(binPath, libDir, args...)
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return "#!/bin/sh\n# Fountain stand-in launcher (sandbox only).\nexec " + strings.Join(q, " ") + " \"$@\"\n"
}

// shellQuote quotes s for /bin/sh when needed.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

package ssh

import (
	"bytes"
	"sync"
	"unicode/utf8"
)

// output collects a command's stdout and stderr: bounded tails, and lines
// passed to onLine as they complete. One mutex serializes both streams,
// so onLine is never called concurrently.
type output struct {
	mu     sync.Mutex
	onLine func(stream, line string)
	closed bool
	stdout stream
	stderr stream
}

type stream struct {
	o       *output
	name    string
	partial []byte
	split   bool // the current line was passed on in pieces up to partial
	tail    tail
}

func newOutput(onLine func(stream, line string), tailBytes int) *output {
	if tailBytes <= 0 {
		tailBytes = DefaultTailBytes
	}
	o := &output{onLine: onLine}
	o.stdout = stream{o: o, name: "stdout", tail: tail{max: tailBytes}}
	o.stderr = stream{o: o, name: "stderr", tail: tail{max: tailBytes}}
	return o
}

// Write takes the next bytes of the stream.
func (s *stream) Write(p []byte) (int, error) {
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	if s.o.closed {
		return len(p), nil
	}
	s.tail.write(p)
	if s.o.onLine == nil {
		return len(p), nil
	}
	s.partial = append(s.partial, p...)
	rest := s.partial
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		if i > 0 || !s.split { // not the end of a line already passed on in pieces
			s.emit(rest[:i])
		}
		s.split = false
		rest = rest[i+1:]
	}
	for len(rest) >= MaxLineBytes { // a long line so far: pass on what is complete
		n := cut(rest, MaxLineBytes)
		s.emit(rest[:n])
		rest = rest[n:]
		s.split = true
	}
	s.partial = append(s.partial[:0], rest...)
	return len(p), nil
}

// emit passes on one line, in pieces of at most MaxLineBytes.
func (s *stream) emit(line []byte) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	for len(line) > MaxLineBytes {
		n := cut(line, MaxLineBytes)
		s.o.onLine(s.name, string(line[:n]))
		line = line[n:]
	}
	s.o.onLine(s.name, string(line))
}

// cut returns where to split b at most n bytes in: not inside a UTF-8
// character when one starts within the last 3 bytes before n.
func cut(b []byte, n int) int {
	if len(b) <= n {
		return len(b)
	}
	for i := n; i > n-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return n
}

// finish passes on the streams' unterminated last lines and stops
// further writes from reaching onLine (a cancelled command's output may
// still be arriving when Run returns).
func (o *output) finish() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	for _, s := range []*stream{&o.stdout, &o.stderr} {
		if o.onLine != nil && len(s.partial) > 0 {
			s.emit(s.partial)
			s.partial = nil
		}
	}
	o.closed = true
}

// tails returns the tails of stdout and stderr and whether each lost its
// beginning.
func (o *output) tails() (stdout, stderr string, outCut, errCut bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	stdout, outCut = o.stdout.tail.text()
	stderr, errCut = o.stderr.tail.text()
	return
}

// tail keeps the last max bytes written.
type tail struct {
	max   int
	buf   []byte
	total int64
}

func (t *tail) write(p []byte) {
	t.total += int64(len(p))
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
}

// text returns the tail; if it lost its beginning, it starts after the
// first newline (a whole line) when there is one.
func (t *tail) text() (string, bool) {
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	if int64(len(b)) == t.total {
		return string(b), false
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
		b = b[i+1:]
	}
	return string(b), true
}

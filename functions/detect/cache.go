package detect

import (
	"errors"
	"strconv"
	"sync"
)

// maxCompiled bounds the Engines kept by Compile: a process compiles its
// one config's rules (the deployed functions, the CLI) or a handful of
// test configs; a process that compiles many different lists only
// compiles again.
const maxCompiled = 32

// compiled are the results of Compile so far in this process, by the
// rules they were compiled from. A result depends on the rules alone
// (every field of each, in order: newEnv takes nothing else), and an
// Engine is never changed once built, so Envs with the same rules share
// one, and Envs whose configs name other rules get their own.
var compiled = struct {
	sync.Mutex
	m map[string]*compilation
}{m: map[string]*compilation{}}

// compilation is one Compile of a list of rules; done is closed once eng
// and err are set, so concurrent callers with the same rules wait for
// the one compile instead of each running it.
type compilation struct {
	done chan struct{}
	eng  *Engine
	err  error
}

// cachedCompile returns compile(rules), compiled once per process for
// each distinct list of rules.
func cachedCompile(rules []Rule, compile func([]Rule) (*Engine, error)) (*Engine, error) {
	key := rulesKey(rules)
	compiled.Lock()
	c, ok := compiled.m[key]
	if !ok {
		if len(compiled.m) >= maxCompiled {
			clear(compiled.m)
		}
		c = &compilation{done: make(chan struct{})}
		compiled.m[key] = c
	}
	compiled.Unlock()
	if ok {
		<-c.done
		return c.eng, c.err
	}
	defer close(c.done)
	defer func() {
		if c.eng == nil && c.err == nil { // compile panicked: no waiter may take nil for success
			c.err = errors.New("detect.Compile: the compile of these rules panicked")
		}
	}()
	c.eng, c.err = compile(rules)
	return c.eng, c.err
}

// rulesKey encodes every field of every rule, each prefixed by its
// length, so two different lists never share a key.
func rulesKey(rules []Rule) string {
	n := 0
	for _, r := range rules {
		n += len(r.Name) + len(r.Expression) + len(r.Playbook) + len(r.Severity) + 4*8
	}
	b := make([]byte, 0, n)
	for _, r := range rules {
		for _, f := range [...]string{r.Name, r.Expression, r.Playbook, r.Severity} {
			b = strconv.AppendInt(b, int64(len(f)), 10)
			b = append(b, ':')
			b = append(b, f...)
		}
	}
	return string(b)
}

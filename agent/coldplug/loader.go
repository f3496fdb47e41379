package coldplug

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"syscall"

	"github.com/tinyboot/tinyboot/spec/baked"
)

// Loader loads modules of a Table at most once each, every module after
// the modules it needs, and up to a fixed number of independent modules at
// the same time. It is safe for concurrent use: a module two callers want
// is loaded once and both wait for it.
type Loader struct {
	table *Table
	load  func(baked.Module) error
	// slots bounds the loads running at once (the CPUs).
	slots chan struct{}

	mu   sync.Mutex
	jobs map[string]*job
}

type job struct {
	done chan struct{}
	res  Result
	// panicked holds what the load function panicked with, re-raised in
	// the goroutine that called Load so the caller's recovery applies.
	panicked any
}

// Result is the outcome of one module.
type Result struct {
	Name string
	// Err is nil when this Loader loaded the module or found it loaded
	// already (EEXIST).
	Err error
}

// NewLoader returns a Loader over t that loads a module with load
// (finit_module in production) and runs at most parallel loads at once.
func NewLoader(t *Table, parallel int, load func(baked.Module) error) *Loader {
	if parallel < 1 {
		parallel = 1
	}
	return &Loader{table: t, load: load, slots: make(chan struct{}, parallel), jobs: map[string]*job{}}
}

// Table is the table the Loader loads from.
func (l *Loader) Table() *Table { return l.table }

// Load loads the named modules and what they need, and returns the result
// of every module this call started (dependencies included) in the
// table's load order; modules an earlier call loaded or is loading are
// waited for but not reported again. Unknown names are an error of their
// own Result.
func (l *Loader) Load(names []string) []Result {
	var mine []*job
	var wait []*job
	var unknown []Result
	for _, n := range names {
		if _, ok := l.table.Module(n); !ok {
			unknown = append(unknown, Result{Name: n, Err: fmt.Errorf("not in the image")})
			continue
		}
		j, started := l.start(Normalize(n), &mine)
		if !started {
			wait = append(wait, j)
		}
	}
	for _, j := range append(wait, mine...) {
		<-j.done
		if j.panicked != nil {
			panic(j.panicked)
		}
	}
	out := make([]Result, 0, len(mine)+len(unknown))
	for _, j := range mine {
		out = append(out, j.res)
	}
	// The table's load order makes the report deterministic whatever
	// order the parallel loads finished in.
	sort.SliceStable(out, func(a, b int) bool {
		return l.table.Order(out[a].Name) < l.table.Order(out[b].Name)
	})
	return append(out, unknown...)
}

// start returns the job of module name, creating it (and the jobs of what
// it needs, first) when there is none; created jobs are added to mine.
func (l *Loader) start(name string, mine *[]*job) (*job, bool) {
	l.mu.Lock()
	if j, ok := l.jobs[name]; ok {
		l.mu.Unlock()
		return j, false
	}
	m := l.table.mods[l.table.byName[name]]
	j := &job{done: make(chan struct{}), res: Result{Name: m.Name}}
	l.jobs[name] = j
	l.mu.Unlock()
	*mine = append(*mine, j)

	var deps []*job
	for _, n := range m.Needs {
		n = Normalize(n)
		if _, ok := l.table.byName[n]; !ok || n == name {
			continue // baked as built in, or a malformed table
		}
		d, _ := l.start(n, mine)
		deps = append(deps, d)
	}
	run := func() {
		defer close(j.done)
		defer func() {
			if r := recover(); r != nil {
				j.panicked = r
				j.res.Err = fmt.Errorf("panic: %v", r)
			}
		}()
		for _, d := range deps {
			<-d.done
		}
		// A slot is taken only once the dependencies are in, so a module
		// waiting for them never holds one a dependency needs.
		l.slots <- struct{}{}
		defer func() { <-l.slots }()
		err := l.load(m)
		if errors.Is(err, syscall.EEXIST) {
			err = nil
		}
		j.res.Err = err
	}
	if cap(l.slots) == 1 {
		// One at a time: in the table's order, in the caller, so a
		// single-CPU boot (and a test) loads deterministically.
		run()
	} else {
		go run()
	}
	return j, true
}

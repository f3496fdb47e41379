package coldplug

import (
	"reflect"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/spec/baked"
)

// recorder is a load function that records what it loaded, when each load
// started and ended, and how many ran at once.
type recorder struct {
	mu        sync.Mutex
	order     []string
	running   int
	maxAtOnce int
	end       map[string]int // name -> position in the sequence of ends
	start     map[string]int // name -> number of ends before it started
	ends      int
	fail      map[string]error
	delay     time.Duration
}

func newRecorder() *recorder {
	return &recorder{end: map[string]int{}, start: map[string]int{}, fail: map[string]error{}}
}

func (r *recorder) load(m baked.Module) error {
	r.mu.Lock()
	r.order = append(r.order, m.Name)
	r.start[m.Name] = r.ends
	r.running++
	if r.running > r.maxAtOnce {
		r.maxAtOnce = r.running
	}
	r.mu.Unlock()
	time.Sleep(r.delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running--
	r.ends++
	r.end[m.Name] = r.ends
	return r.fail[m.Name]
}

func TestLoaderClosureInOrder(t *testing.T) {
	rec := newRecorder()
	rec.fail["sr_mod"] = syscall.EEXIST // loaded already: fine
	rec.fail["e1000e"] = syscall.ENOEXEC
	l := NewLoader(NewTable(realTable()), 1, rec.load)
	res := l.Load([]string{"sr_mod", "ahci", "e1000e", "no_such"})
	wantOrder := []string{"cdrom", "scsi_common", "scsi_mod", "sr_mod", "libata", "libahci", "ahci", "e1000e"}
	if !reflect.DeepEqual(rec.order, wantOrder) {
		t.Errorf("loaded %q, want %q", rec.order, wantOrder)
	}
	var got []string
	for _, r := range res {
		s := r.Name
		if r.Err != nil {
			s += ": " + r.Err.Error()
		}
		got = append(got, s)
	}
	// Reported in the table's order, the unknown name last.
	want := []string{"cdrom", "scsi_common", "scsi_mod", "libata", "libahci", "ahci", "sr_mod", "e1000e: exec format error", "no_such: not in the image"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("results %q, want %q", got, want)
	}
	// A second request loads nothing again and reports only what is new.
	rec.order = nil
	res = l.Load([]string{"sd_mod", "ahci"})
	if !reflect.DeepEqual(rec.order, []string{"sd_mod"}) || len(res) != 1 || res[0].Name != "sd_mod" {
		t.Errorf("second Load loaded %q and reported %v, want only sd_mod", rec.order, res)
	}
}

func TestLoaderParallel(t *testing.T) {
	rec := newRecorder()
	rec.delay = 20 * time.Millisecond
	table := NewTable(realTable())
	l := NewLoader(table, 3, rec.load)
	res := l.Load([]string{"uas", "ahci", "virtio_blk", "nvme", "sr_mod", "e1000e", "button"})
	for _, r := range res {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Name, r.Err)
		}
	}
	if rec.maxAtOnce < 2 || rec.maxAtOnce > 3 {
		t.Errorf("%d loads ran at once, want 2 or 3 (parallel 3)", rec.maxAtOnce)
	}
	// Every module started only after all it needs had ended.
	for _, name := range rec.order {
		m, _ := table.Module(name)
		for _, n := range m.Needs {
			if rec.end[n] == 0 || rec.end[n] > rec.start[name] {
				t.Errorf("%s started before %s, which it needs, was loaded", name, n)
			}
		}
	}
	if len(rec.order) != len(res) {
		t.Errorf("%d loads, %d results", len(rec.order), len(res))
	}
}

// Two callers wanting the same module load it once; the second waits.
func TestLoaderConcurrentCallers(t *testing.T) {
	rec := newRecorder()
	rec.delay = 10 * time.Millisecond
	l := NewLoader(NewTable(realTable()), 2, rec.load)
	var wg sync.WaitGroup
	results := make([][]Result, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = l.Load([]string{"uas"})
		}()
	}
	wg.Wait()
	n := 0
	for _, r := range results {
		n += len(r)
	}
	if len(rec.order) != 5 || n != 5 {
		t.Errorf("loaded %q, reported %d results, want the 5 modules of uas once", rec.order, n)
	}
}

func TestLoaderPanicReachesCaller(t *testing.T) {
	l := NewLoader(NewTable(realTable()), 2, func(baked.Module) error { panic("boom") })
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want boom", r)
		}
	}()
	l.Load([]string{"button"})
	t.Error("Load returned after its load function panicked")
}

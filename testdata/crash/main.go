// crash is the post-mortem fixture: each scenario leaves goroutines in known states, then dies
// the way a production service dies. Run it with GOTRACEBACK=crash and `ulimit -c unlimited`:
// the runtime prints every goroutine to stderr (the oracle goscope is compared with) and dumps
// core.
//
//	crash SCENARIO [N]
//
// Lines starting with "ORACLE " on stderr state facts the runtime itself does not print (the
// text of a panic value that is still in flight on a blocked goroutine).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: crash SCENARIO [N]")
		os.Exit(2)
	}
	debug.SetTraceback("crash")
	scenario := os.Args[1]
	switch scenario {
	case "nilmap":
		background()
		nilMapWrite()
	case "nilderef":
		background()
		var t *tree
		fmt.Println(t.left.value)
	case "index":
		background()
		fmt.Println(lookup([]int{1, 2, 3}, len(os.Args)+3))
	case "customerr":
		background()
		inFlightPanics()
		panic(&QueryError{Query: "SELECT 1", Code: 42})
	case "deferpanic":
		background()
		deferPanic()
	case "mapwrites":
		background()
		concurrentMapWrites()
	case "syscall":
		background()
		blockInSyscall()
		panic("crash with a goroutine in a syscall")
	case "many":
		n := 100000
		if len(os.Args) > 2 {
			n, _ = strconv.Atoi(os.Args[2])
		}
		many(n)
		panic(fmt.Sprintf("crash with %d goroutines", n))
	case "customint":
		background()
		panic(Celsius(-40))
	case "structval":
		background()
		panic(Point{X: 7, Y: 8, Name: "origin"})
	case "maps":
		maps()
		panic("crash with maps in memory")
	case "sigabrt":
		background()
		syscall.Kill(os.Getpid(), syscall.SIGABRT)
		select {}
	case "waitlong":
		waitLong()
		panic("crash after a long wait")
	case "deadlock":
		deadlock()
	case "oom":
		background()
		outOfMemory()
	case "overflow":
		debug.SetMaxStack(1 << 20)
		background()
		fmt.Println(recurse(1))
	default:
		fmt.Fprintln(os.Stderr, "unknown scenario", scenario)
		os.Exit(2)
	}
}

type tree struct {
	left, right *tree
	value       int
}

// QueryError is a custom error type with fields.
type QueryError struct {
	Query string
	Code  int
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("query %q failed with code %d", e.Query, e.Code)
}

// Point is a plain struct used as a panic value.
type Point struct {
	X, Y int32
	Name string
}

//go:noinline
func nilMapWrite() {
	var m map[string]int
	m["answer"] = 42
}

//go:noinline
func lookup(s []int, i int) int {
	return s[i]
}

// goid returns the calling goroutine's id, as the runtime prints it.
func goid() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	id, _ := strconv.Atoi(f[1])
	return id
}

var (
	ready  sync.WaitGroup
	mu     sync.Mutex
	cond   = sync.NewCond(&sync.Mutex{})
	never  = make(chan int) // only ever received from
	nobody = make(chan int) // only ever sent to
)

// background starts goroutines parked for many different reasons and waits until they are.
func background() {
	start := func(f func()) {
		ready.Add(1)
		go f()
	}
	start(func() { ready.Done(); <-never })
	start(func() { ready.Done(); nobody <- 1 })
	start(func() {
		ready.Done()
		select {
		case <-never:
		case nobody <- 2:
		}
	})
	start(func() { ready.Done(); time.Sleep(time.Hour) })
	mu.Lock()
	start(func() { ready.Done(); mu.Lock() })
	start(func() {
		cond.L.Lock()
		ready.Done()
		cond.Wait()
	})
	var wg sync.WaitGroup
	wg.Add(1)
	start(func() { ready.Done(); wg.Wait() })
	start(func() {
		runtime.LockOSThread()
		ready.Done()
		<-never
	})
	start(func() {
		labels := pprof.Labels("request", "r-17", "tenant", "acme")
		pprof.Do(context.Background(), labels, func(ctx context.Context) {
			var kv []string
			pprof.ForLabels(ctx, func(k, v string) bool {
				kv = append(kv, k+"="+v)
				return true
			})
			fmt.Fprintf(os.Stderr, "ORACLE labels goroutine %d %s\n", goid(), strings.Join(kv, " "))
			ready.Done()
			<-never
		})
	})
	start(func() { ready.Done(); inlinedWait() })
	start(func() { ready.Done(); select {} })
	ready.Wait()
	settle()
}

// inlinedWait blocks inside a chain of inlined calls.
func inlinedWait() { outer() }
func outer()       { inner() }
func inner()       { <-never }

// settle gives the goroutines that signalled readiness time to park.
func settle() {
	for i := 0; i < 20; i++ {
		runtime.Gosched()
	}
	time.Sleep(50 * time.Millisecond)
}

// inFlightPanics leaves goroutines in the middle of panicking (their deferred calls block), so
// the core holds panic values the runtime has not yet turned into text.
func inFlightPanics() {
	oracle := func(what string, v any) {
		text := fmt.Sprint(v)
		if e, ok := v.(error); ok {
			text = e.Error()
		}
		fmt.Fprintf(os.Stderr, "ORACLE goroutine %d panicking %s: %s\n", goid(), what, text)
	}
	var wg sync.WaitGroup
	spawn := func(what string, f func() any) {
		wg.Add(1)
		go func() {
			defer func() {
				wg.Done()
				<-never
			}()
			// Learn the value's text first (the runtime never prints it), then panic for real.
			func() {
				defer func() { oracle(what, recover()) }()
				panic(f())
			}()
			panic(f())
		}()
	}
	spawn("wrapped", func() any { return fmt.Errorf("loading config: %w", os.ErrNotExist) })
	spawn("errorString", func() any { return errors.New("plain error") })
	spawn("bounds", func() any {
		defer func() { _ = recover() }()
		return boundsErr()
	})
	spawn("divide", func() any { return divideErr() })
	spawn("assert", func() any { return assertErr() })
	spawn("struct", func() any { return Point{X: 3, Y: -4, Name: "p"} })
	spawn("int", func() any { return 12345 })
	spawn("custom-int", func() any { return Celsius(-40) })
	wg.Wait()
	settle()
}

// Celsius is a named integer type used as a panic value.
type Celsius int

func boundsErr() (err any) {
	defer func() { err = recover() }()
	s := make([]int, 3, 10)
	n := len(os.Args) + 5
	return s[n]
}

func divideErr() (err any) {
	defer func() { err = recover() }()
	zero := len(os.Args) - len(os.Args)
	return 10 / zero
}

func assertErr() (err any) {
	defer func() { err = recover() }()
	var x any = len(os.Args)
	return x.(string)
}

func deferPanic() {
	defer func() {
		panic(fmt.Sprintf("second panic while unwinding (%d)", len(os.Args)))
	}()
	panic(errors.New("first panic"))
}

//go:noinline
func writer(m map[int]int, base int) {
	for i := 0; ; i++ {
		m[base+i%1024] = i
	}
}

func concurrentMapWrites() {
	m := make(map[int]int)
	fmt.Fprintf(os.Stderr, "ORACLE map %p map[int]int\n", m)
	for i := 0; i < 4; i++ {
		go writer(m, i*100)
	}
	select {}
}

// blockInSyscall starts a goroutine blocked in read(2) on a pipe nobody writes to.
func blockInSyscall() {
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		panic(err)
	}
	ready.Add(1)
	go func() {
		buf := make([]byte, 1)
		ready.Done()
		syscall.Read(p[0], buf)
	}()
	ready.Wait()
	settle()
}

func many(n int) {
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		switch i % 4 {
		case 0:
			go func() { wg.Done(); <-never }()
		case 1:
			go func() { wg.Done(); inlinedWait() }()
		case 2:
			go func() {
				wg.Done()
				select {
				case <-never:
				case nobody <- 1:
				}
			}()
		case 3:
			go func() { wg.Done(); mu.Lock() }()
		}
		if i == 3 {
			mu.Lock()
		}
	}
	wg.Wait()
	settle()
}

var (
	smallMap  map[int]string
	bigMap    map[string]int
	structMap map[Point]bool
)

// maps fills maps of several shapes and prints their addresses and contents (fmt sorts keys).
func maps() {
	smallMap = map[int]string{1: "one", 2: "two", 3: "three"}
	bigMap = make(map[string]int)
	for i := 0; i < 1000; i++ {
		bigMap[fmt.Sprintf("key%04d", i)] = i * i
	}
	structMap = map[Point]bool{{X: 1, Y: 2, Name: "a"}: true, {X: -3, Y: 4, Name: "b"}: false}
	fmt.Fprintf(os.Stderr, "ORACLE map %p map[int]string %v\n", smallMap, smallMap)
	fmt.Fprintf(os.Stderr, "ORACLE map %p map[string]int %v\n", bigMap, bigMap)
	fmt.Fprintf(os.Stderr, "ORACLE map %p map[main.Point]bool %v\n", structMap, structMap)
}

// waitLong parks a goroutine, lets a GC record when it blocked (g.waitsince), waits over a
// minute, then parks another and collects again: the runtime prints the first as waiting
// "1 minutes".
func waitLong() {
	go func() { <-never }()
	settle()
	runtime.GC()
	time.Sleep(61 * time.Second)
	go func() { nobody <- 1 }()
	settle()
	runtime.GC()
}

func deadlock() {
	go func() { <-never }()
	var wg sync.WaitGroup
	wg.Add(1)
	wg.Wait()
}

// outOfMemory caps the address space a little above what the process maps now, then allocates
// past the cap: the runtime's mmap fails and it throws "runtime: out of memory" (a fatal error
// that never reaches gopanic).
func outOfMemory() {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		panic(err)
	}
	var vmKB uint64
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmSize:") {
			rest := strings.TrimPrefix(line, "VmSize:")
			vmKB, _ = strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	limit := (vmKB + 64<<10) << 10
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		panic(err)
	}
	sink = make([]byte, 1<<30)
}

var sink []byte

//go:noinline
func recurse(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	return recurse(n+1) + int(pad[(n+1)%64])
}

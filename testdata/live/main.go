// live is the fixture for goscope's live-process commands (stacks, snapshot, top): a program
// that keeps running with goroutines parked in known places, and that says what it is doing.
//
//	live [-dir DIR] [-n N] [-leak RATE] [-exit-after D]
//
// It writes into DIR (default: the working directory):
//   - ready: "pid PID" once every parked goroutine is parked;
//   - progress: "progress P leaked L", rewritten every 10 ms (P counts loop iterations of a
//     worker; L the goroutines leaked so far);
//   - stacks: on SIGUSR1, the program's own runtime.Stack(buf, true) dump (written to
//     stacks.tmp, then renamed), followed by a line "dumped N".
//
// Every goroutine that parks on purpose runs a function whose name starts with main.park: those
// stay where they are, so their stacks are the oracle for goscope's.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	dir       = flag.String("dir", ".", "directory for the ready, progress and stacks files")
	extra     = flag.Int("n", 0, "extra goroutines parked in chan receive (benchmarks)")
	leakRate  = flag.Float64("leak", 0, "goroutines leaked per second (blocked forever)")
	exitAfter = flag.Duration("exit-after", 0, "exit after this long (0: run until killed)")

	progress atomic.Int64
	leaked   atomic.Int64
	parked   sync.WaitGroup

	// Each parked goroutine has channels of its own: none can ever be ready.
	recvChan = make(chan int)
	sendChan = make(chan int)
	selA     = make(chan int)
	selB     = make(chan int)
	deepChan = make(chan int)
	lockChan = make(chan int)
	labChan  = make(chan int)
	leakChan = make(chan struct{})
	mu       sync.Mutex
	rw       sync.RWMutex
	cond     = sync.NewCond(&sync.Mutex{})
	wg       sync.WaitGroup
)

// waitOn is small enough to be inlined into its callers: their stacks show it as an inlined
// frame.
func waitOn(ch chan int) int {
	return <-ch
}

//go:noinline
func parkRecv(ch chan int) { parked.Done(); waitOn(ch) }

//go:noinline
func parkSend(ch chan int) { parked.Done(); ch <- 1 }

//go:noinline
func parkSelect(a, b chan int) {
	parked.Done()
	select {
	case <-a:
	case b <- 1:
	}
}

//go:noinline
func parkSelectNoCases() { parked.Done(); select {} }

//go:noinline
func parkNilChan() {
	var ch chan int
	parked.Done()
	<-ch
}

//go:noinline
func parkMutex() { parked.Done(); mu.Lock() }

//go:noinline
func parkRWMutex() { parked.Done(); rw.RLock() }

//go:noinline
func parkCond() {
	cond.L.Lock()
	parked.Done()
	cond.Wait()
}

//go:noinline
func parkWaitGroup() { parked.Done(); wg.Wait() }

//go:noinline
func parkSleep() { parked.Done(); time.Sleep(24 * time.Hour) }

//go:noinline
func parkAccept(ln net.Listener) {
	parked.Done()
	if c, err := ln.Accept(); err == nil {
		c.Close()
	}
}

//go:noinline
func parkDeep(n int) int {
	if n == 0 {
		parked.Done()
		return waitOn(deepChan)
	}
	return parkDeep(n-1) + 1
}

//go:noinline
func parkLocked() {
	runtime.LockOSThread()
	parked.Done()
	waitOn(lockChan)
}

//go:noinline
func parkLabeled() {
	pprof.Do(context.Background(), pprof.Labels("fixture", "labeled"), func(context.Context) {
		parked.Done()
		waitOn(labChan)
	})
}

//go:noinline
func parkMany(ch chan int) { waitOn(ch) }

//go:noinline
func leakOne() {
	leaked.Add(1)
	<-leakChan
}

//go:noinline
func leakLoop(rate float64) {
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	for range t.C {
		go leakOne()
	}
}

//go:noinline
func work() {
	x := 1
	for {
		for i := 0; i < 1000; i++ {
			x = x*31 + i
		}
		progress.Add(1)
		if x == 0 {
			fmt.Println(x)
		}
		time.Sleep(time.Millisecond)
	}
}

func writeFile(name, text string) {
	p := filepath.Join(*dir, name)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err == nil {
		os.Rename(tmp, p)
	}
}

func dumper(sig chan os.Signal) {
	n := 0
	for range sig {
		n++
		buf := make([]byte, 1<<20)
		for {
			k := runtime.Stack(buf, true)
			if k < len(buf) {
				buf = buf[:k]
				break
			}
			buf = make([]byte, 2*len(buf))
		}
		writeFile("stacks", string(buf)+fmt.Sprintf("\ndumped %d\n", n))
	}
}

func main() {
	flag.Parse()
	mu.Lock()
	rw.Lock()
	wg.Add(1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	go dumper(sig)

	starts := []func(){
		func() { parkRecv(recvChan) },
		func() { parkSend(sendChan) },
		func() { parkSelect(selA, selB) },
		parkSelectNoCases,
		parkNilChan,
		parkMutex,
		parkRWMutex,
		parkCond,
		parkWaitGroup,
		parkSleep,
		func() { parkAccept(ln) },
		func() { parkDeep(40) },
		parkLocked,
		parkLabeled,
	}
	starts = append(starts, cgoParkers()...)
	parked.Add(len(starts))
	for _, f := range starts {
		go f()
	}
	parked.Wait()
	if *extra > 0 {
		many := make(chan int)
		for i := 0; i < *extra; i++ {
			go parkMany(many)
		}
	}
	// Let every goroutine reach its parking place (Done runs just before it parks).
	for i := 0; i < 100; i++ {
		runtime.Gosched()
	}
	time.Sleep(50 * time.Millisecond)
	go work()
	if *leakRate > 0 {
		go leakLoop(*leakRate)
	}
	if *exitAfter > 0 {
		time.AfterFunc(*exitAfter, func() { os.Exit(0) })
	}
	writeFile("ready", fmt.Sprintf("pid %d\n", os.Getpid()))
	for {
		writeFile("progress", fmt.Sprintf("progress %d leaked %d\n", progress.Load(), leaked.Load()))
		time.Sleep(10 * time.Millisecond)
	}
}

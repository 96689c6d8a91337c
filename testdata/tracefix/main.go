// Command tracefix calls functions and executes atomics at counts it knows, and writes what it
// did — per goroutine, with the goroutine ids its own runtime.Stack gives — as JSON to the file
// named by its second argument. goscope trace and goscope locks must see the same.
//
//	tracefix calls REPORT   workers call main.settle (not inlined) and main.twice (inlined)
//	tracefix atomics REPORT workers run atomic adds and compare-and-swaps at known counts
//	tracefix forever -      workers call main.settle until the process is killed
//	tracefix hot PROFILE    two goroutines burn CPU for 3 s in main.hotA (about twice as much as
//	                        main.hotB), under the program's own runtime/pprof CPU profile
//	tracefix work ROUNDS    two goroutines run ROUNDS rounds of hotA and hotB each: fixed work,
//	                        for timing what a profiler costs
package main

import (
	"encoding/json"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// goid is the calling goroutine's id, as its own stack dump names it.
func goid() int64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(strings.TrimPrefix(string(buf), "goroutine "))
	id, _ := strconv.ParseInt(f[0], 10, 64)
	return id
}

//go:noinline
func settle(n int, label string) int {
	return n*3 + len(label)
}

// twice is inlined into its callers.
func twice(x int) int {
	if x < 0 {
		return -x * 2
	}
	return x*2 + 1
}

type worker struct {
	Goroutine int64  `json:"goroutine"`
	Label     string `json:"label"`
	Settle    int    `json:"settle_calls"`
	SettleSum int    `json:"settle_n_sum"`
	Twice     int    `json:"twice_calls"`
	Adds      int    `json:"adds"`
	Cas       int    `json:"cas"`
}

var sink int

var shared atomic.Int64
var flag int64

//go:noinline
func adder(n int) {
	for i := 0; i < n; i++ {
		shared.Add(1)
	}
}

//go:noinline
func casser(n int) {
	for i := 0; i < n; i++ {
		for !atomic.CompareAndSwapInt64(&flag, 0, 1) {
		}
		atomic.StoreInt64(&flag, 0)
	}
}

//go:noinline
func lockless(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

//go:noinline
func hotA(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i ^ (s >> 3)
	}
	return s
}

//go:noinline
func hotB(n int) int {
	s := 1
	for i := 0; i < n; i++ {
		s = s*31 + i
	}
	return s
}

// hot burns CPU for three seconds: hotA gets two thirds of each round, hotB one third.
func hot(profile string) {
	f, err := os.Create(profile)
	if err != nil {
		panic(err)
	}
	// 1000 samples a second (StartCPUProfile's 100 gives too few for a 10% comparison; the
	// runtime warns that the rate was set already, and keeps this one).
	runtime.SetCPUProfileRate(1000)
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				sink += hotA(2000000)
				sink += hotB(1000000)
			}
		}()
	}
	wg.Wait()
	pprof.StopCPUProfile()
	f.Close()
}

func main() {
	mode, report := os.Args[1], os.Args[2]
	if mode == "hot" {
		hot(report)
		return
	}
	if mode == "work" {
		rounds, _ := strconv.Atoi(report)
		var wg sync.WaitGroup
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < rounds; i++ {
					sink += hotA(2000000) + hotB(1000000)
				}
			}()
		}
		wg.Wait()
		return
	}
	// Let goscope's first drain of the ring buffers see this process alive (goroutine ids are
	// read from its memory), both before the work and after it.
	time.Sleep(200 * time.Millisecond)
	const workers = 4
	out := make([]worker, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := &out[w]
			r.Goroutine = goid()
			r.Label = "w" + strconv.Itoa(w)
			switch mode {
			case "forever":
				for i := 0; ; i++ {
					sink += settle(i, r.Label)
					time.Sleep(time.Millisecond)
				}
			case "calls":
				for i := 0; i < 1000*(w+1); i++ {
					sink += settle(i, r.Label)
					r.Settle++
					r.SettleSum += i
					sink += twice(i + w)
					r.Twice++
				}
			case "atomics":
				r.Adds = 20000 * (w + 1)
				adder(r.Adds)
				r.Cas = 5000 * (w + 1)
				casser(r.Cas)
				sink += lockless(100000)
			}
		}(w)
	}
	wg.Wait()
	b, _ := json.Marshal(out)
	if err := os.WriteFile(report, b, 0o644); err != nil {
		panic(err)
	}
	time.Sleep(300 * time.Millisecond)
}

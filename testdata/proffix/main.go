// proffix burns CPU in known places under its own runtime/pprof CPU profile, for the tests of
// `goscope profile` (the profile is read by goscope and by `go tool pprof`, the oracle).
//
//	proffix PROFILE [MILLISECONDS]
//
// Two goroutines loop for MILLISECONDS (default 2000) of wall time over:
//   - hotA, never inlined, called through scale, which is inlined into work;
//   - hotB, never inlined, whose loop calls mix, which is inlined into it;
//   - spread, never inlined, whose loop calls fold, inlined, which calls mix, inlined too.
package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

var sink uint64

//go:noinline
func hotA(n int) uint64 {
	var s uint64
	for i := 0; i < n; i++ {
		s += uint64(i) ^ (s >> 3)
	}
	return s
}

// mix is small: the compiler inlines it into its callers.
func mix(x uint64) uint64 {
	x ^= x >> 13
	x *= 0x9e3779b97f4a7c15
	return x ^ (x >> 29)
}

//go:noinline
func hotB(n int) uint64 {
	var s uint64
	for i := 0; i < n; i++ {
		s += mix(uint64(i) + s)
	}
	return s
}

// fold is inlined into spread, and mix into it.
func fold(a, b uint64) uint64 {
	return mix(a) ^ (b << 1)
}

//go:noinline
func spread(n int) uint64 {
	var s uint64
	for i := 0; i < n; i++ {
		s = fold(s, uint64(i))
	}
	return s
}

// scale is inlined into work.
func scale(n int) uint64 {
	return hotA(n) * 3
}

func work(deadline time.Time) {
	for time.Now().Before(deadline) {
		sink += scale(2000000)
		sink += hotB(1000000)
		sink += spread(500000)
	}
}

func main() {
	if len(os.Args) < 2 {
		os.Stderr.WriteString("usage: proffix PROFILE [MILLISECONDS]\n")
		os.Exit(2)
	}
	ms := 2000
	if len(os.Args) > 2 {
		n, err := strconv.Atoi(os.Args[2])
		if err != nil {
			panic(err)
		}
		ms = n
	}
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	// 1000 samples a second: the runtime warns that the rate was set already and keeps it.
	runtime.SetCPUProfileRate(1000)
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	deadline := time.Now().Add(time.Duration(ms) * time.Millisecond)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(deadline)
		}()
	}
	wg.Wait()
	pprof.StopCPUProfile()
	f.Close()
}

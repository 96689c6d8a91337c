// prog is goscope's main fixture: heavy inlining, generics, closures, methods on embedded
// types, goroutines. Run with the argument "callers" it prints, for known call sites, the chain
// of frames the Go runtime itself reports (runtime.CallersFrames) — the oracle for goscope's
// inline chains.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Site is one recorded call site: the return address in the function that called record and
// the runtime's frames for it, innermost first, through the first non-inlined frame.
type Site struct {
	Tag    string  `json:"tag"`
	PC     uint64  `json:"pc"`
	Frames []Frame `json:"frames"`
}

// Frame is what runtime.Frame reports.
type Frame struct {
	Function string `json:"function"`
	File     string `json:"file"`
	Line     int    `json:"line"`
}

var (
	mu    sync.Mutex
	sites []Site
)

//go:noinline
func record(tag string) {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	s := Site{Tag: tag, PC: uint64(pcs[0])}
	for {
		f, more := frames.Next()
		s.Frames = append(s.Frames, Frame{f.Function, f.File, f.Line})
		if f.Func != nil || !more {
			break
		}
	}
	mu.Lock()
	sites = append(sites, s)
	mu.Unlock()
}

// A three-deep chain of small functions that the compiler inlines into each other.
func leaf(x int) int {
	record("leaf")
	return x + 1
}

func mid(x int) int { return leaf(x) * 2 }

func top(x int) int { return mid(x) + 3 }

// Generic functions, inlined with different shapes.
type Number interface{ ~int | ~int64 | ~float64 }

func Sum[T Number](xs []T) T {
	var t T
	for _, x := range xs {
		t += x
	}
	record("generic-sum")
	return t
}

func Map[T, U any](xs []T, f func(T) U) []U {
	out := make([]U, 0, len(xs))
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

// Methods on embedded types, called directly and through an interface (the compiler's
// promoted-method wrapper).
type Inner struct{ n int }

func (i *Inner) Bump() int {
	i.n++
	record("embedded")
	return i.n
}

type Outer struct {
	Inner
	name string
}

type Bumper interface{ Bump() int }

// A closure that captures and is called immediately (inlined), and one that escapes.
func closures(k int) func() int {
	v := func() int {
		record("closure-inlined")
		return k * 2
	}()
	return func() int {
		record("closure-escaped")
		return v + k
	}
}

// notInlined is too big to inline: a plain call site.
//
//go:noinline
func notInlined(xs []string) string {
	record("not-inlined")
	sort.Strings(xs)
	return strings.Join(xs, ",")
}

type shape struct {
	w, h float64
}

func (s shape) area() float64 { return s.w * s.h }

func work() int {
	total := top(1)
	total += Sum([]int{1, 2, 3})
	total += int(Sum([]float64{1.5, 2.5}))
	strs := Map([]int{1, 2, 3}, func(i int) string {
		record("generic-map-closure")
		return fmt.Sprint(i)
	})
	o := &Outer{name: "o"}
	total += o.Bump()
	var b Bumper = o
	total += b.Bump()
	f := closures(total)
	total += f()
	total += len(notInlined(strs))
	total += int(shape{2, 3}.area())

	var wg sync.WaitGroup
	results := make(chan int, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results <- top(i)
		}(i)
	}
	wg.Wait()
	close(results)
	for r := range results {
		total += r
	}
	return total
}

func main() {
	total := work()
	if len(os.Args) > 1 && os.Args[1] == "callers" {
		enc := json.NewEncoder(os.Stdout)
		// The run-time address of main.main's entry, so that a reader can undo the load
		// offset of a position-independent executable.
		if err := enc.Encode(Site{Tag: "main.main", PC: uint64(reflect.ValueOf(main).Pointer())}); err != nil {
			panic(err)
		}
		for _, s := range sites {
			if err := enc.Encode(s); err != nil {
				panic(err)
			}
		}
		return
	}
	fmt.Println("total", total)
}

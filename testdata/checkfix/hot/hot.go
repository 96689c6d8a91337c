// Package hot holds the fixture's hot paths: for each rule of goscope.toml and each
// //goscope: directive, a function that violates it (lines marked `// want RULE`) and a
// satisfying twin (no marks). Every function is //go:noinline so that it stays a function of
// its own in the binary, where goscope check looks for it.
package hot

import (
	"sync"
	"sync/atomic"

	"example.com/checkfix/stats"
)

// Point is a small struct stored through pointers.
type Point struct{ X, Y int64 }

var (
	sink    any
	sinkPtr *Point
	sinkInt int64
	counter int64
	mu      sync.Mutex
)

// BoxInt stores an int64 in an interface: runtime.convT64 allocates (the real-bug shape of
// an interface conversion that allocates).
//
//goscope:noalloc
//go:noinline
func BoxInt(v int64) {
	sink = v // want no_alloc
}

// BoxPointer stores a pointer in an interface: no allocation.
//
//goscope:noalloc
//go:noinline
func BoxPointer(p *Point) {
	sink = p
}

// EscapingClosure returns a closure capturing n: n moves to the heap and the closure is
// allocated (the real-bug shape of a closure that escapes).
//
//goscope:noalloc
//go:noinline
func EscapingClosure() func() int {
	n := 0              // want no_alloc
	return func() int { // want no_alloc
		n++
		return n
	}
}

// LocalClosure calls a closure that does not escape: no allocation.
//
//goscope:noalloc
//go:noinline
func LocalClosure(x int) int {
	add := func(y int) int { return x + y }
	return add(1) + add(2)
}

// AllocAppend appends to a slice that may grow (runtime.growslice).
//
//go:noinline
func AllocAppend(s []int, n int) []int {
	return append(s, n) // want no_alloc
}

// AllocCopy sums into a fixed array on the stack: no allocation.
//
//go:noinline
func AllocCopy(s []int) int {
	var buf [8]int
	copy(buf[:], s)
	return buf[0] + buf[7]
}

// IfaceConvert converts to an interface (runtime.convT64).
//
//go:noinline
func IfaceConvert(v int64) any {
	return v // want no_interface_conversion
}

// IfaceConcrete keeps the concrete type.
//
//go:noinline
func IfaceConcrete(v int64) int64 {
	return v + 1
}

// LockHotLoop increments a shared counter atomically on every iteration (the real-bug shape
// of atomic.AddInt64 in a hot loop).
//
//goscope:nolock
//go:noinline
func LockHotLoop(n int) {
	for i := 0; i < n; i++ {
		atomic.AddInt64(&counter, 1) // want no_lock
	}
}

// LockLocalLoop counts locally and publishes once, without an atomic.
//
//goscope:nolock
//go:noinline
func LockLocalLoop(n int) {
	c := int64(0)
	for i := 0; i < n; i++ {
		c++
	}
	sinkInt = c
}

// LockAllowed uses stats.Inc (inlined), whose package is on the lock allow-list.
//
//go:noinline
func LockAllowed(n int) {
	for i := 0; i < n; i++ {
		stats.Inc()
	}
}

// RangeSum indexes within a range loop: the compiler proves every index in bounds.
//
//goscope:nobce
//go:noinline
func RangeSum(s []int) int {
	sum := 0
	for i := range s {
		sum += s[i]
	}
	return sum
}

// IndexSum indexes up to a bound unrelated to the slice: a bounds check stays.
//
//goscope:nobce
//go:noinline
func IndexSum(s []int, n int) int {
	sum := 0
	for i := 0; i < n; i++ {
		sum += s[i] // want no_bounds_check
	}
	return sum
}

// WBStorePointer stores a pointer in a global: a GC write barrier guards the store.
//
//go:noinline
func WBStorePointer(p *Point) {
	sinkPtr = p // want no_write_barrier
}

// WBStoreInt stores an integer: no write barrier.
//
//go:noinline
func WBStoreInt(v int64) {
	sinkInt = v
}

// RTMapLookup reads a map (runtime.mapaccess1_fast64).
//
//go:noinline
func RTMapLookup(m map[int]int, k int) int {
	return m[k] // want no_runtime_calls
}

// RTSliceLookup reads a slice, masked into range: no runtime call.
//
//go:noinline
func RTSliceLookup(s []int, k int) int {
	if len(s) == 0 {
		return 0
	}
	return s[uint(k)%uint(len(s))]
}

var table = [8]int{3, 1, 4, 1, 5, 9, 2, 6}

// small is cheap enough to inline.
//
//goscope:inline
func small(x int) int { return table[x&7] + 1 }

// big is never inlined.
//
//goscope:inline
//go:noinline
func big(x int) int { return x*3 + 2 }

// TwoCalls makes two calls on one source line, of which only one (small) is inlined.
//
//go:noinline
func TwoCalls(a, b int) int {
	return small(a) + big(b) // want must_inline fn=example.com/checkfix/hot.big
}

//go:noinline
func fill(b []byte, v int) {
	for i := range b {
		b[i] = byte(v + i)
	}
}

// FrameBig has a 4 KiB array on its stack.
//
//go:noinline
func FrameBig(n int) int { // want max_frame_size
	var buf [4096]byte
	fill(buf[:], n)
	return int(buf[n&4095])
}

// FrameSmall has a 64-byte array on its stack.
//
//go:noinline
func FrameSmall(n int) int {
	var buf [64]byte
	fill(buf[:], n)
	return int(buf[n&63])
}

// SizeBig is long straight-line code.
//
//go:noinline
func SizeBig(n int) int { // want max_size
	a, b, c, d := n, n+1, n+2, n+3
	for i := 0; i < 4; i++ {
		a = a*31 + b ^ c>>3
		b = b*37 + c ^ d>>5
		c = c*41 + d ^ a>>7
		d = d*43 + a ^ b>>11
		a = a*47 + b ^ c>>13
		b = b*53 + c ^ d>>17
		c = c*59 + d ^ a>>19
		d = d*61 + a ^ b>>23
		a = a*67 + b ^ c>>29
		b = b*71 + c ^ d>>31
		c = c*73 + d ^ a>>37
		d = d*79 + a ^ b>>41
		a = a*83 + b ^ c>>43
		b = b*89 + c ^ d>>47
		c = c*97 + d ^ a>>53
		d = d*101 + a ^ b>>59
		fill(nil, a^b^c^d)
		a = a*103 + b ^ c>>3
		b = b*107 + c ^ d>>5
		c = c*109 + d ^ a>>7
		d = d*113 + a ^ b>>11
		a = a*127 + b ^ c>>13
		b = b*131 + c ^ d>>17
		c = c*137 + d ^ a>>19
		d = d*139 + a ^ b>>23
		fill(nil, a^b^c^d)
	}
	return a ^ b ^ c ^ d
}

// SizeSmall is short.
//
//go:noinline
func SizeSmall(n int) int {
	return n*31 + 7
}

// DeferUnlock unlocks through defer.
//
//go:noinline
func DeferUnlock() {
	mu.Lock()
	defer mu.Unlock()
	counter++
} // want no_defer (open-coded defers call runtime.deferreturn at the closing brace)

// PlainUnlock unlocks without defer.
//
//go:noinline
func PlainUnlock() {
	mu.Lock()
	counter++
	mu.Unlock()
}

// ClosureTwice calls one closure from two call sites. The closure is inlinable but, with two
// callers, costs more than the budget a call site allows it (Go 1.20+ doubles the budget for
// closures, still short): both calls stay CALLs, which the JSON log reports as cannotInlineCall.
//
//go:noinline
func ClosureTwice(a, b []int) int {
	mix := func(xs []int) int {
		s := 0
		for i, x := range xs {
			if x%3 == 0 {
				s += x * i
			} else if x%5 == 0 {
				s -= x
			} else {
				s ^= x << 2
			}
			if s > 1000 {
				s = s/7 + x
			} else if s < -1000 {
				s = s/3 - x
			}
			if x > 10 && x < 20 || x > 30 && x < 40 {
				s += 7 * x * x
			}
			if x > 50 && x < 60 || x > 70 && x < 80 {
				s -= 3 * x * x
			}
			if s%11 == 0 || s%13 == 0 {
				s = s*5 + x - 1
			}
			if s%17 == 0 || s%19 == 0 {
				s = s*7 - x + 3
			}
			if x > 90 && x < 99 || x > 110 && x < 120 {
				s ^= x * 11
			}
		}
		return s
	}
	first := mix(a)  // opt: call not inlined (first site)
	second := mix(b) // opt: call not inlined (second site)
	return first ^ second
}

// appendOne is cheap enough to be inlined into every caller and has no body of its own: its
// rule applies to its inlined copies, where runtime.growslice is called from the caller's
// code (the violations name appendOne, in AppendTwice).
//
//goscope:noalloc
func appendOne(s []int, v int) []int {
	return append(s, v) // want no_alloc
}

// scaleOne is inlined too, and allocates nothing anywhere.
//
//goscope:noalloc
func scaleOne(a, b int) int {
	return a*b + 1
}

// AppendTwice holds two inlined copies of appendOne and one of scaleOne; it has no rule of
// its own.
//
//go:noinline
func AppendTwice(s []int) []int {
	s = appendOne(s, 3)
	return appendOne(s, scaleOne(len(s), 2))
}

// BuildSlice returns a slice built by append in a loop: runtime.growslice in the loop and,
// from Go 1.26 (whose appends start in a stack buffer), runtime.moveSliceNoCapNoScan moving
// the result to the heap at the return — a runtime helper the name table does not know.
//
//goscope:noalloc
//go:noinline
func BuildSlice(n int) []int {
	var out []int
	for i := 0; i < n; i++ {
		out = append(out, i) // want no_alloc
	}
	return out // want no_alloc (go1.26+: runtime.moveSliceNoCapNoScan)
}

// Item is a small named value.
type Item struct{ Name string }

// TwoOnOneLine allocates twice on one line, at two columns: the Item (runtime.newobject) and
// the concatenation (runtime.concatstring2); goscope opt ties each escape to its own call.
//
//go:noinline
func TwoOnOneLine(name string) (*Item, string) {
	return &Item{Name: name}, name + "!" // opt: two escapes on one line
}

// pick indexes with no proof of the bound: inlined into PickTwice, its bounds checks are
// decisions inside inlined code (the compiler logs them at PickTwice's calls, inlined from
// here).
func pick(s []int, i int) int {
	return s[i] // opt: bounds check inside inlined code
}

// PickTwice holds two inlined copies of pick.
//
//go:noinline
func PickTwice(s []int, i, j int) int {
	return pick(s, i) + pick(s, j)
}

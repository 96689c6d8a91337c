//go:build v2

package hot

import "sync/atomic"

// The second build of the diff fixture (-tags v2); see hot/diff_v1.go.

var plain int64

// DiffAlloc now boxes n into an interface: runtime.convT64 allocates.
//
//go:noinline
func DiffAlloc(n int) int {
	sink = n
	return n * 3
}

// DiffInline now calls square instead of inlining it.
//
//go:noinline
func DiffInline(n int) int {
	return square(n) + 1
}

//go:noinline
func square(n int) int { return table[n&7] * n }

// DiffAtomic now increments atomically: a LOCK XADDQ (amd64) or LDADDAL (arm64).
//
//go:noinline
func DiffAtomic(n int) {
	atomic.AddInt64(&plain, int64(n))
}

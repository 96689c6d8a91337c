//go:build !v2

package hot

// The first build of the diff fixture (goscope diff): hot/diff_v2.go (-tags v2) changes each
// of these three functions in one known way.

var plain int64

// DiffAlloc does not allocate here; in v2 it boxes n into an interface (runtime.convT64).
//
//go:noinline
func DiffAlloc(n int) int {
	return n * 3
}

// DiffInline has square inlined here; in v2 square is marked //go:noinline.
//
//go:noinline
func DiffInline(n int) int {
	return square(n) + 1
}

func square(n int) int { return table[n&7] * n }

// DiffAtomic increments a plain global here; in v2 it uses atomic.AddInt64.
//
//go:noinline
func DiffAtomic(n int) {
	plain += int64(n)
}

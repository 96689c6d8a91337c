// Package stats is allowed to use atomics (goscope.toml's lock_allow): its counters are
// inlined into hot code, where their LOCK-prefixed instructions must not count as violations.
package stats

import "sync/atomic"

var hits int64

// Inc counts one hit. Small enough to be inlined everywhere.
func Inc() { atomic.AddInt64(&hits, 1) }

// Hits returns the count.
func Hits() int64 { return atomic.LoadInt64(&hits) }

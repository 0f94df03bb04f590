package storage

import "testing"

// InsertBench runs an insert benchmark on a store of its own (see insertBench), for the
// benchmarks of the external test package, which may import what imports storage.
func InsertBench(b *testing.B, writers, size int, fill func(i int64, w int, batch []Row)) {
	insertBench(b, writers, size, fill)
}

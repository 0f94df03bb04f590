package storage

// InsertBench runs an insert benchmark on a store of its own (see insertBench), for the
// benchmarks of the external test package, which may import what imports storage.
var InsertBench = insertBench

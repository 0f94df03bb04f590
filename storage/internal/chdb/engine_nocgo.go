//go:build !cgo

package chdb

// Without cgo the engine cannot be loaded: Open fails with ErrNoCgo, and the
// rest of the package (LibraryPath, EngineError) works as usual.

// cConn stands in for the engine's connection handle.
type cConn = *struct{}

func cLoad(string) error { return ErrNoCgo }

func cConnect([]string) (cConn, uint64, error) { return nil, 0, ErrNoCgo }

func cClose(cConn) {}

func cQuery(cConn, string, string) ([]byte, string, error) { return nil, "", ErrNoCgo }

func signalHandler(int) uintptr { return 0 }

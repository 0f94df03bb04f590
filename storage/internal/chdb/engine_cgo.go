//go:build cgo

package chdb

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "chdb_dl.h"
*/
import "C"

import (
	"errors"
	"math"
	"unsafe"
)

// cConn is the engine's connection handle (chdb_connection *).
type cConn = *C.bh_chdb_connection

// cLoad dlopens the library at path and resolves chDB's symbols.
func cLoad(path string) error {
	p := C.CString(path)
	defer C.free(unsafe.Pointer(p))
	if msg := C.bh_chdb_load(p); msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return errors.New(C.GoString(msg))
	}
	return nil
}

// cConnect calls chdb_connect(argv) and returns the connection and the mask of
// signal dispositions that had to be put back afterwards.
func cConnect(argv []string) (cConn, uint64, error) {
	cargv := (**C.char)(C.calloc(C.size_t(len(argv)), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	if cargv == nil {
		return nil, 0, errors.New("out of memory")
	}
	defer C.free(unsafe.Pointer(cargv))
	args := unsafe.Slice(cargv, len(argv))
	for i, a := range argv {
		args[i] = C.CString(a)
	}
	defer func() {
		for _, a := range args {
			C.free(unsafe.Pointer(a))
		}
	}()
	var restored C.uint64_t
	h := C.bh_chdb_connect(C.int(len(argv)), cargv, &restored)
	if h == nil {
		return nil, uint64(restored), errors.New("chdb_connect failed (is another process using this data directory, or is it not writable?)")
	}
	return h, uint64(restored), nil
}

// cClose calls chdb_close_conn.
func cClose(h cConn) { C.bh_chdb_close(h) }

// cQuery runs one statement. It returns the output, copied into Go memory, and
// the engine's error message ("" when the statement succeeded). sql and format
// are handed to the engine without a copy: it reads them only during the call.
func cQuery(h cConn, sql, format string) ([]byte, string, error) {
	var (
		buf  *C.char
		n    C.size_t
		emsg *C.char
	)
	res := C.bh_chdb_query(h,
		(*C.char)(unsafe.Pointer(unsafe.StringData(sql))), C.size_t(len(sql)),
		(*C.char)(unsafe.Pointer(unsafe.StringData(format))), C.size_t(len(format)),
		&buf, &n, &emsg)
	if res == nil {
		return nil, "", errors.New("the engine returned no result")
	}
	defer C.bh_chdb_free_result(res)
	if emsg != nil {
		if msg := C.GoString(emsg); msg != "" {
			return nil, msg, nil
		}
	}
	if n == 0 || buf == nil {
		return []byte{}, "", nil
	}
	if uint64(n) > math.MaxInt {
		return nil, "", errors.New("result too large")
	}
	out := make([]byte, int(n))
	copy(out, unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n)))
	return out, "", nil
}

// signalHandler returns the address of the handler installed for signal sig
// (0 for SIG_DFL). For tests: the Go runtime's must survive connecting.
func signalHandler(sig int) uintptr { return uintptr(C.bh_signal_handler(C.int(sig))) }

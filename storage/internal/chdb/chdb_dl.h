// chdb_dl.h: the part of chDB's C API (libchdb.so, chDB 26.5) that package chdb uses,
// loaded at run time with dlopen/dlsym so that the Go binary links only against -ldl.
//
// The types are declared here rather than taken from chDB's chdb.h: both handles are
// opaque, and only pointers to them cross this boundary.
#ifndef BOUNCEHOUSE_CHDB_DL_H
#define BOUNCEHOUSE_CHDB_DL_H

#include <stddef.h>
#include <stdint.h>

// chdb_result is chDB's opaque query result (struct chdb_result_ in chdb.h).
typedef struct bh_chdb_result_ {
	void *internal_data;
} bh_chdb_result;

// bh_chdb_connection is chDB's chdb_connection: a pointer to an opaque handle.
// chdb_connect returns a pointer to one; the query functions take it by value.
typedef struct bh_chdb_connection_ {
	void *internal_data;
} *bh_chdb_connection;

// bh_chdb_load dlopens path and resolves the symbols. It returns NULL on success,
// otherwise a malloc'ed message the caller frees. Calling it again after a success
// is a no-op; the caller serializes calls.
char *bh_chdb_load(const char *path);

// bh_chdb_connect calls chdb_connect(argc, argv) with chDB's own signal handlers
// disabled, and afterwards puts back every signal disposition that chDB changed, so
// that the Go runtime keeps owning the process's signals. *restored receives a bit
// mask (bit n-1 for signal n) of the dispositions that had to be put back.
bh_chdb_connection *bh_chdb_connect(int argc, char **argv, uint64_t *restored);

// bh_chdb_close calls chdb_close_conn.
void bh_chdb_close(bh_chdb_connection *conn);

// bh_chdb_query runs chdb_query_n and copies out what Go needs: the result
// buffer and its length, and the error message (NULL when there is none). The
// result stays alive until bh_chdb_free_result; NULL means chDB returned none.
bh_chdb_result *bh_chdb_query(bh_chdb_connection *conn, const char *sql, size_t sql_len,
			      const char *format, size_t format_len, char **buf, size_t *len,
			      const char **error);

// bh_chdb_free_result calls chdb_destroy_query_result.
void bh_chdb_free_result(bh_chdb_result *res);

// bh_signal_handler returns the address of the handler currently installed for
// signal sig (SIG_DFL is 0), or (uintptr_t)-1 when sigaction fails. For tests.
uintptr_t bh_signal_handler(int sig);

#endif

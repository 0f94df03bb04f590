// chdb_dl.c: run-time loading of libchdb.so; see chdb_dl.h.

#include "chdb_dl.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *lib;
static bh_chdb_connection *(*p_connect)(int, char **);
static void (*p_close_conn)(bh_chdb_connection *);
static bh_chdb_result *(*p_query_n)(bh_chdb_connection, const char *, size_t, const char *, size_t);
static char *(*p_result_buffer)(bh_chdb_result *);
static size_t (*p_result_length)(bh_chdb_result *);
static const char *(*p_result_error)(bh_chdb_result *);
static void (*p_destroy_query_result)(bh_chdb_result *);
// Optional (chDB 26.3 and later): stops chDB installing handlers for SIGSEGV & co.
static void (*p_set_signal_handlers_enabled)(int);

static char *message(const char *what, const char *detail) {
	size_t n = strlen(what) + strlen(detail) + 3;
	char *m = malloc(n);
	if (m != NULL) {
		snprintf(m, n, "%s: %s", what, detail);
	}
	return m;
}

char *bh_chdb_load(const char *path) {
	if (lib != NULL) {
		return NULL;
	}
	void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	if (h == NULL) {
		const char *e = dlerror();
		return message("dlopen", e != NULL ? e : "unknown error");
	}
	struct {
		const char *name;
		void **fn;
	} syms[] = {
		{"chdb_connect", (void **)&p_connect},
		{"chdb_close_conn", (void **)&p_close_conn},
		{"chdb_query_n", (void **)&p_query_n},
		{"chdb_result_buffer", (void **)&p_result_buffer},
		{"chdb_result_length", (void **)&p_result_length},
		{"chdb_result_error", (void **)&p_result_error},
		{"chdb_destroy_query_result", (void **)&p_destroy_query_result},
	};
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		*syms[i].fn = dlsym(h, syms[i].name);
		if (*syms[i].fn == NULL) {
			// Leave the library loaded (unloading the engine is not safe) but unusable.
			return message("dlsym: missing symbol (is this chDB 25.8 or later?)", syms[i].name);
		}
	}
	*(void **)&p_set_signal_handlers_enabled = dlsym(h, "chdb_set_signal_handlers_enabled");
	lib = h;
	return NULL;
}

// Signals 1..NSIG_SAVED; SIGKILL and SIGSTOP cannot be caught and are skipped.
#define NSIG_SAVED 64

bh_chdb_connection *bh_chdb_connect(int argc, char **argv, uint64_t *restored) {
	struct sigaction before[NSIG_SAVED + 1];
	int saved[NSIG_SAVED + 1];
	*restored = 0;
	if (lib == NULL) {
		return NULL;
	}
	for (int s = 1; s <= NSIG_SAVED; s++) {
		saved[s] = s != SIGKILL && s != SIGSTOP && sigaction(s, NULL, &before[s]) == 0;
	}
	if (p_set_signal_handlers_enabled != NULL) {
		// Also resets SIGSEGV & co. to SIG_DFL: put back below.
		p_set_signal_handlers_enabled(0);
	}
	bh_chdb_connection *conn = p_connect(argc, argv);
	for (int s = 1; s <= NSIG_SAVED; s++) {
		struct sigaction now;
		if (!saved[s] || sigaction(s, NULL, &now) != 0) {
			continue;
		}
		int same = now.sa_flags == before[s].sa_flags &&
			   ((now.sa_flags & SA_SIGINFO) ? now.sa_sigaction == before[s].sa_sigaction
							: now.sa_handler == before[s].sa_handler);
		if (!same && sigaction(s, &before[s], NULL) == 0) {
			*restored |= (uint64_t)1 << (s - 1);
		}
	}
	return conn;
}

void bh_chdb_close(bh_chdb_connection *conn) {
	if (lib != NULL && conn != NULL) {
		p_close_conn(conn);
	}
}

bh_chdb_result *bh_chdb_query(bh_chdb_connection *conn, const char *sql, size_t sql_len,
			      const char *format, size_t format_len, char **buf, size_t *len,
			      const char **error) {
	*buf = NULL;
	*len = 0;
	*error = NULL;
	if (lib == NULL || conn == NULL || *conn == NULL) {
		return NULL;
	}
	bh_chdb_result *res = p_query_n(*conn, sql, sql_len, format, format_len);
	if (res == NULL) {
		return NULL;
	}
	*error = p_result_error(res);
	*buf = p_result_buffer(res);
	*len = p_result_length(res);
	return res;
}

void bh_chdb_free_result(bh_chdb_result *res) {
	if (lib != NULL && res != NULL) {
		p_destroy_query_result(res);
	}
}

uintptr_t bh_signal_handler(int sig) {
	struct sigaction sa;
	if (sigaction(sig, NULL, &sa) != 0) {
		return (uintptr_t)-1;
	}
	if (sa.sa_flags & SA_SIGINFO) {
		return (uintptr_t)sa.sa_sigaction;
	}
	return (uintptr_t)sa.sa_handler;
}

#!/usr/bin/env bash
# install-libchdb.sh: make chDB's libchdb.so (the ClickHouse engine, in-process) available
# for bouncehouse's embedded store, and print its absolute path on stdout.
#
# Progress goes to stderr, so callers can do: CHDB_LIB=$(scripts/install-libchdb.sh)
#
# Lookup order (the same as storage/internal/chdb.LibraryPath, which never downloads):
#   1. $CHDB_LIB, when set and the file exists;
#   2. /usr/local/lib/libchdb.so;
#   3. ${XDG_CACHE_HOME:-$HOME/.cache}/bouncehouse/chdb-26.5.3/libchdb.so;
#   4. otherwise download the npm package @chdb/lib-linux-x64-gnu@26.5.3 (a 167 MB tarball,
#      560 MB unpacked) with `npm pack`, extract libchdb.so into the cache directory of step 3
#      and delete the tarball.
#
# Safe to run repeatedly (the second run is instant) and concurrently: downloads are
# serialized with flock when it is available, and the library is extracted into a temporary
# directory inside the cache directory and renamed into place, so no reader ever sees a
# partial file. Needs npm, GNU tar and about 730 MB of free disk while it runs.
set -euo pipefail

CHDB_VERSION=26.5.3
NPM_PACKAGE="@chdb/lib-linux-x64-gnu@${CHDB_VERSION}"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/bouncehouse/chdb-${CHDB_VERSION}"
CACHE_LIB="${CACHE_DIR}/libchdb.so"

log() { printf 'install-libchdb: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

abspath() {
	local dir
	dir=$(cd "$(dirname -- "$1")" && pwd -P)
	printf '%s/%s\n' "$dir" "$(basename -- "$1")"
}

if [[ -n "${CHDB_LIB:-}" ]]; then
	if [[ -f "$CHDB_LIB" ]]; then
		abspath "$CHDB_LIB"
		exit 0
	fi
	log "CHDB_LIB=$CHDB_LIB does not exist; looking elsewhere"
fi
if [[ -f /usr/local/lib/libchdb.so ]]; then
	echo /usr/local/lib/libchdb.so
	exit 0
fi
if [[ -f "$CACHE_LIB" ]]; then
	abspath "$CACHE_LIB"
	exit 0
fi

case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*) die "the npm package $NPM_PACKAGE is for Linux x86-64 only (this is $(uname -s)/$(uname -m)); build chDB's libchdb.so yourself and set CHDB_LIB" ;;
esac
command -v npm >/dev/null 2>&1 || die "npm is needed to download $NPM_PACKAGE (install Node.js/npm), or set CHDB_LIB to an existing libchdb.so"
command -v tar >/dev/null 2>&1 || die "tar is needed to unpack $NPM_PACKAGE"

mkdir -p "$CACHE_DIR"

# Serialize concurrent installs: the second one waits, then finds the library in the cache.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$CACHE_DIR/.install.lock"
	if ! flock -n 9; then
		log "another install is running; waiting for it"
		flock 9
	fi
	if [[ -f "$CACHE_LIB" ]]; then
		abspath "$CACHE_LIB"
		exit 0
	fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/install-libchdb.XXXXXX")
# Extract next to the final file (same file system), so that the last step is an
# atomic rename.
EXTRACT=$(mktemp -d "$CACHE_DIR/.extract.XXXXXX")
cleanup() { rm -rf -- "$WORK" "$EXTRACT"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

log "downloading $NPM_PACKAGE (about 167 MB) with npm pack"
(cd "$WORK" && npm pack --silent "$NPM_PACKAGE" >"$WORK/pack.out") ||
	die "npm pack $NPM_PACKAGE failed (network or registry problem?); or set CHDB_LIB to an existing libchdb.so"
TARBALL=$(find "$WORK" -maxdepth 1 -name '*.tgz' -print -quit)
[[ -n "$TARBALL" && -s "$TARBALL" ]] || die "npm pack $NPM_PACKAGE produced no tarball"

log "extracting libchdb.so from $(basename -- "$TARBALL")"
# One pass over the archive; the library is package/libchdb.so in 26.5.3.
tar -xzmf "$TARBALL" -C "$EXTRACT" --wildcards --no-anchored 'libchdb.so' 2>"$WORK/tar.err" || true
rm -f -- "$TARBALL"
LIB=$(find "$EXTRACT" -type f -name libchdb.so -print -quit)
if [[ -z "$LIB" ]]; then
	cat "$WORK/tar.err" >&2
	die "the tarball of $NPM_PACKAGE contains no libchdb.so (or could not be unpacked); nothing installed"
fi
[[ -s "$LIB" ]] || die "libchdb.so extracted from $NPM_PACKAGE is empty"
if [[ "$(head -c 4 "$LIB" | od -An -tx1 | tr -d ' \n')" != 7f454c46 ]]; then
	die "libchdb.so extracted from $NPM_PACKAGE is not an ELF shared library"
fi
chmod 0755 "$LIB"
mv -f -- "$LIB" "$CACHE_LIB"
log "installed $CACHE_LIB ($(du -h "$CACHE_LIB" | cut -f1))"
abspath "$CACHE_LIB"

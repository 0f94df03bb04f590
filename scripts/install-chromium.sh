#!/usr/bin/env bash
# Makes headless Chromium available for the report's rendering test: prints its path.
# Honours $CHROMIUM, then chromium/chromium-browser/google-chrome on the PATH; otherwise, as
# root with apt-get (CI machines), installs Debian's chromium. Elsewhere it says how and
# exits 0 with nothing printed: the test then skips (it fails only in CI).
set -euo pipefail
find_it() {
	if [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ]; then echo "$CHROMIUM"; return 0; fi
	for c in chromium chromium-browser google-chrome; do
		if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
	done
	return 1
}
if find_it; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "installing chromium (Debian package) for the report rendering test" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
	find_it && exit 0
fi
echo "chromium not found: install it (apt-get install chromium) or set CHROMIUM; the report rendering test will skip" >&2

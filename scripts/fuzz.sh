#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 10s).
#
# A target that ends with a bare "context deadline exceeded" and no failing input written is
# run once more: that is a race in Go's fuzzing coordinator at the end of a -fuzztime window
# (golang/go#75804, fixed in Go 1.27), not a finding. A written failing input, or a second
# failure, fails the run.
set -uo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
for pkg in $($GO list ./...); do
	for f in $($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
		for attempt in 1 2; do
			echo "fuzz $pkg $f ($FUZZTIME)"
			out=$($GO test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1)
			rc=$?
			if [ $rc -eq 0 ]; then
				printf '%s\n' "$out" | tail -n 2
				break
			fi
			if [ $attempt -eq 1 ] && ! grep -q 'Failing input written' <<<"$out" &&
				grep -q 'context deadline exceeded' <<<"$out"; then
				printf '%s\n' "$out" | tail -n 4
				echo "fuzz $f: deadline race of the Go fuzz coordinator, no failing input; running it again"
				continue
			fi
			printf '%s\n' "$out"
			exit 1
		done
	done
done

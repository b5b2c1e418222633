#!/usr/bin/env bash
# `npm test`: the checks (`npm run checks`: type check, formatting, lint) and vitest, at the same
# time. Both are needed; neither waits for the other, because the integration tests spend much of
# their time waiting on the processes and sockets they drive, which leaves a 2-core machine's
# cores idle for the checks to use. The checks print only what they find wrong. Arguments go to
# vitest (`npm test -- --reporter=json ...`). Exits non-zero when either fails.
set -u
cd "$(dirname "$0")/.."
npm run --silent checks &
checks=$!
npx vitest run "$@"
tests=$?
wait "$checks"
checks=$?
if [ "$checks" -ne 0 ]; then echo "npm run checks failed (exit $checks): see its output above" >&2; fi
[ "$checks" -eq 0 ] && exit "$tests"
exit 1

#!/usr/bin/env bash
# The long security and reliability runs that CI skips: the `soak`-marked tests, and the
# CI tests of tests/security and tests/reliability at soak sizes (20 SIGKILLs instead of 3,
# thousands of Schemathesis and Hypothesis examples, 3,000 statements rewritten under
# search, 200 clients for 60 s). Record the outcome in docs/soak.md.
#
#   tools/soak.sh                 everything (about 30-40 minutes on 2 CPUs)
#   tools/soak.sh -k load         one part; any pytest arguments pass through
set -euo pipefail
cd "$(dirname "$0")/.."

export TIFA_SOAK=1
export TIFA_FUZZ_EXAMPLES="${TIFA_FUZZ_EXAMPLES:-3000}"
export TIFA_SCHEMATHESIS_EXAMPLES="${TIFA_SCHEMATHESIS_EXAMPLES:-200}"

log="var/soak-$(date -u +%Y%m%dT%H%M%SZ).log"
mkdir -p var
echo "soak: writing the full output to $log" >&2
# -s shows the load and Schemathesis summaries; the service's JSON access lines are
# filtered out of the terminal (they are in the log file).
.venv/bin/python -m pytest -p no:cacheprovider -s -q -rA \
  tests/security tests/reliability "$@" 2>&1 | tee "$log" | grep -v '^{"ts"'
exit "${PIPESTATUS[0]}"

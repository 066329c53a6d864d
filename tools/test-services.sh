#!/usr/bin/env bash
# Installs what the test suite talks to, from package registries only:
# Debian's Chromium for the page tests, and an Elasticsearch node built from Maven Central.
# Under CI=true anything missing is an error; on a developer's machine it is said loudly
# and the tests that need it are skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

fail_or_warn() {
  if [ "${CI:-}" = "true" ]; then
    echo "test-services: $1" >&2
    exit 1
  fi
  echo "################################################################" >&2
  echo "test-services: WARNING: $1" >&2
  echo "################################################################" >&2
}

if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "noto.*cjk"; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "test-services: installing Debian's chromium (and CJK fonts for screenshots)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
      || fail_or_warn "could not install chromium; browser tests will be skipped"
  else
    fail_or_warn "no chromium on PATH (install Debian's 'chromium'); browser tests will be skipped"
  fi
fi

if [ -n "${TIFA_TEST_ES_URL:-}" ]; then
  echo "test-services: using the Elasticsearch cluster at $TIFA_TEST_ES_URL" >&2
elif command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then
  # Every supported major is tested: 8.19 on Java 17, 9.x where a JDK 21+ exists.
  ESNODE_ES_MAJOR=8 bash tools/esnode/esnode.sh build \
    || fail_or_warn "building the Elasticsearch 8 node failed"
  if ESNODE_ES_MAJOR=9 bash tools/esnode/esnode.sh env >/dev/null 2>&1; then
    ESNODE_ES_MAJOR=9 bash tools/esnode/esnode.sh build \
      || fail_or_warn "building the Elasticsearch 9 node failed"
  else
    fail_or_warn "no JDK 21+: the Elasticsearch 9 tier will be SKIPPED (8.19 still runs)"
  fi
else
  fail_or_warn "no Java 17+/Maven: the Elasticsearch tier of the tests will be SKIPPED"
fi
exit 0

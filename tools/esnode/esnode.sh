#!/usr/bin/env bash
# esnode.sh - build and run a real Elasticsearch node for tests, from Maven Central artifacts only.
#
#   esnode.sh build
#       Compile the launcher and copy its dependencies into target/ (mvn). Idempotent: does
#       nothing when target/ is newer than pom.xml and src/. Serialised with flock.
#   esnode.sh start --http-port P --dir DIR [--transport-port T] [--cluster-name NAME]
#                   [--node-name N] [--seed-hosts h:p,...] [--initial-master-nodes n1,...]
#                   [--roles r1,...] [--setting k=v]... [--wait-status yellow|green|none]
#                   [--timeout SECONDS]
#       Build if needed, start the node in the background (log DIR/esnode.log, pid DIR/esnode.pid),
#       wait until GET /_cluster/health answers the wanted status (default yellow, i.e. yellow or
#       green; timeout 90 s). On failure print the log tail, kill the node and exit 1.
#   esnode.sh stop --dir DIR [--timeout SECONDS]
#       SIGTERM the node, SIGKILL it after the timeout (default 20 s). No-op if not running.
#   esnode.sh run --http-port P --dir DIR [...]
#       Build if needed, then exec the node in the foreground (what `start` and
#       tests/support/esnode.py run). Writes DIR/esnode.pid.
#   esnode.sh classpath
#       Print the launcher classpath (after building if needed).
#
#   esnode.sh env
#       Print the chosen flavour: ES_MAJOR, ES_VERSION, JAVA_HOME, JAVA_MAJOR, TARGET (no build).
#
# Flavour: Elasticsearch 9.x when a JDK 21+ is found (ESNODE_JAVA_HOME, JAVA_HOME, the java on
# PATH, then /usr/lib/jvm/*), else Elasticsearch 8.19 on Java 17+. Force one with ESNODE_ES_MAJOR=8|9.
# Environment: ESNODE_ES_MAJOR (auto|8|9), ESNODE_JAVA_HOME, ESNODE_HEAP (default 512m),
#              ESNODE_JAVA_OPTS (extra JVM options), MVN (default: mvn).
# Node defaults: transport port = a free port, cluster name tifa-test, node name node-0,
# single-node discovery unless --seed-hosts is given, HTTP + transport bound to 127.0.0.1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MVN="${MVN:-mvn}"
HEAP="${ESNODE_HEAP:-512m}"

die() { echo "esnode: $*" >&2; exit 1; }

java_major_of() {  # $1 = JDK home; prints the feature version, or nothing
  [[ -x "$1/bin/java" && -x "$1/bin/javac" ]] || return 0
  "$1/bin/java" -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n 1
}

find_jdk() {  # $1 = minimum feature version; prints a JDK home or fails
  local candidates=() jdk major path_java
  [[ -z "${ESNODE_JAVA_HOME:-}" ]] || candidates+=("$ESNODE_JAVA_HOME")
  [[ -z "${JAVA_HOME:-}" ]] || candidates+=("$JAVA_HOME")
  if path_java="$(command -v java 2>/dev/null)"; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$path_java")")")")
  fi
  for jdk in /usr/lib/jvm/*; do [[ -d "$jdk" ]] && candidates+=("$jdk"); done
  for jdk in "${candidates[@]}"; do
    major="$(java_major_of "$jdk")"
    if [[ -n "$major" ]] && ((major >= $1)); then printf '%s\n%s\n' "$jdk" "$major"; return 0; fi
  done
  return 1
}

select_flavour() {  # sets ES_MAJOR, JDK, JDK_MAJOR, TARGET, STAMP, CLASSPATH_FILE
  local want="${ESNODE_ES_MAJOR:-auto}" found=""
  case "$want" in
    9) found="$(find_jdk 21)" || die "ESNODE_ES_MAJOR=9 needs a JDK 21+ (set ESNODE_JAVA_HOME)"; ES_MAJOR=9 ;;
    8) found="$(find_jdk 17)" || die "no JDK 17+ found (set ESNODE_JAVA_HOME)"; ES_MAJOR=8 ;;
    auto)
      if found="$(find_jdk 21)"; then ES_MAJOR=9
      elif found="$(find_jdk 17)"; then ES_MAJOR=8
      else die "no JDK 17+ found (java and javac); install openjdk-17-jdk-headless or set ESNODE_JAVA_HOME"
      fi ;;
    *) die "ESNODE_ES_MAJOR must be auto, 8 or 9, not $want" ;;
  esac
  JDK="$(sed -n 1p <<<"$found")"
  JDK_MAJOR="$(sed -n 2p <<<"$found")"
  JAVA="$JDK/bin/java"
  TARGET="$HERE/target/es$ES_MAJOR"
  STAMP="$TARGET/.esnode-build-stamp"
  CLASSPATH_FILE="$TARGET/esnode.classpath"
}

es_version() {  # the es.version of the selected profile in pom.xml
  sed -n "/<esnode.major>$ES_MAJOR</,/<\/properties>/s|.*<es.version>\(.*\)</es.version>.*|\1|p" "$HERE/pom.xml"
}

needs_build() {
  [[ -f "$STAMP" && -f "$CLASSPATH_FILE" && -d "$TARGET/classes/tifa" && -d "$TARGET/lib" ]] || return 0
  [[ -n "$(find "$HERE/pom.xml" "$HERE/src" -newer "$STAMP" -print -quit)" ]] && return 0
  return 1
}

cmd_build() {
  needs_build || return 0
  mkdir -p "$TARGET"
  exec 9>"$TARGET/.esnode-build.lock"
  flock 9
  if needs_build; then
    echo "esnode: building Elasticsearch $(es_version) launcher with $MVN and Java $JDK_MAJOR" \
      "(first run downloads ~70 MB into ~/.m2)" >&2
    local started=$SECONDS
    rm -rf "$TARGET/lib" "$TARGET/classes" "$STAMP"
    local maven_opts="${MAVEN_OPTS:-}"
    # Maven 3.8's bundled guava warns about sun.misc.Unsafe on JDK 24+
    ((JDK_MAJOR < 24)) || maven_opts="$maven_opts --sun-misc-unsafe-memory-access=allow"
    (cd "$HERE" && JAVA_HOME="$JDK" MAVEN_OPTS="$maven_opts" \
      "$MVN" -q -B -Dstyle.color=never -Desnode.major="$ES_MAJOR" package -DskipTests) 2>&1 |
      sed 's/\x1b\[[0-9;]*m//g' >&2 || die "maven build failed"
    # relative to $TARGET, so the tree can move
    (cd "$TARGET" && { echo "classes"; ls lib/*.jar; } | paste -sd: -) > "$CLASSPATH_FILE.tmp"
    mv "$CLASSPATH_FILE.tmp" "$CLASSPATH_FILE"
    touch "$STAMP"
    echo "esnode: built in $((SECONDS - started)) s" >&2
  fi
  flock -u 9
  exec 9>&-
}

abs_classpath() {
  local cp="" part
  IFS=: read -r -a parts < "$CLASSPATH_FILE"
  for part in "${parts[@]}"; do cp="${cp:+$cp:}$TARGET/$part"; done
  printf '%s' "$cp"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Parses node options into globals; unknown options are errors.
parse_node_args() {
  HTTP_PORT="" DIR="" TRANSPORT_PORT="" CLUSTER_NAME="tifa-test" NODE_NAME="node-0"
  SEED_HOSTS="" INITIAL_MASTERS="" ROLES="" WAIT_STATUS="yellow" TIMEOUT=90
  EXTRA_SETTINGS=()
  while (($#)); do
    [[ $# -ge 2 ]] || die "missing value for $1"
    case "$1" in
      --http-port) HTTP_PORT="$2" ;;
      --dir) DIR="$2" ;;
      --transport-port) TRANSPORT_PORT="$2" ;;
      --cluster-name) CLUSTER_NAME="$2" ;;
      --node-name) NODE_NAME="$2" ;;
      --seed-hosts) SEED_HOSTS="$2" ;;
      --initial-master-nodes) INITIAL_MASTERS="$2" ;;
      --roles) ROLES="$2" ;;
      --setting) EXTRA_SETTINGS+=(--setting "$2") ;;
      --wait-status) WAIT_STATUS="$2" ;;
      --timeout) TIMEOUT="$2" ;;
      *) die "unknown option $1" ;;
    esac
    shift 2
  done
  [[ -n "$HTTP_PORT" ]] || die "--http-port is required"
  [[ -n "$DIR" ]] || die "--dir is required"
  mkdir -p "$DIR"
  DIR="$(cd "$DIR" && pwd)"
  [[ -n "$TRANSPORT_PORT" ]] || TRANSPORT_PORT="$(free_port)"
}

node_java_args() {
  NODE_ARGS=(--http-port "$HTTP_PORT" --transport-port "$TRANSPORT_PORT" --data "$DIR"
             --cluster-name "$CLUSTER_NAME" --node-name "$NODE_NAME")
  [[ -z "$SEED_HOSTS" ]] || NODE_ARGS+=(--seed-hosts "$SEED_HOSTS")
  [[ -z "$INITIAL_MASTERS" ]] || NODE_ARGS+=(--initial-master-nodes "$INITIAL_MASTERS")
  [[ -z "$ROLES" ]] || NODE_ARGS+=(--roles "$ROLES")
  ((${#EXTRA_SETTINGS[@]} == 0)) || NODE_ARGS+=("${EXTRA_SETTINGS[@]}")
}

cmd_run() {
  parse_node_args "$@"
  cmd_build
  node_java_args
  mkdir -p "$DIR/tmp"
  echo "$$" > "$DIR/esnode.pid"
  echo "http://127.0.0.1:$HTTP_PORT" > "$DIR/esnode.url"
  local opts=("-Xms$HEAP" "-Xmx$HEAP" -XX:+UseG1GC -Xss1m -XX:-OmitStackTraceInFastThrow
              "-Djava.io.tmpdir=$DIR/tmp" -Djava.awt.headless=true -Dfile.encoding=UTF-8)
  ((JDK_MAJOR < 21)) || opts+=(--enable-native-access=ALL-UNNAMED)
  # shellcheck disable=SC2086  # ESNODE_JAVA_OPTS is a list of options
  exec "$JAVA" "${opts[@]}" ${ESNODE_JAVA_OPTS:-} -cp "$(abs_classpath)" tifa.esnode.Main "${NODE_ARGS[@]}"
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

health_status() {
  # prints the cluster health status, or nothing if the node does not answer (yet)
  curl -s --max-time 3 "http://127.0.0.1:$1/_cluster/health?master_timeout=1s" 2>/dev/null |
    sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' || true
}

port_free() {
  python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

answering_pid() {
  # pid of the Elasticsearch process answering on the HTTP port (guards against another node on it)
  curl -s --max-time 3 "http://127.0.0.1:$1/_nodes/_local/process?filter_path=nodes.*.process.id" 2>/dev/null |
    sed -n 's/.*"id":\([0-9]*\).*/\1/p' || true
}

cmd_start() {
  parse_node_args "$@"
  cmd_build
  port_free "$HTTP_PORT" || die "HTTP port $HTTP_PORT is already in use"
  port_free "$TRANSPORT_PORT" || die "transport port $TRANSPORT_PORT is already in use"
  local existing
  existing="$(cat "$DIR/esnode.pid" 2>/dev/null || true)"
  if pid_alive "$existing"; then die "a node is already running from $DIR (pid $existing)"; fi
  local args=(--http-port "$HTTP_PORT" --dir "$DIR" --transport-port "$TRANSPORT_PORT"
              --cluster-name "$CLUSTER_NAME" --node-name "$NODE_NAME")
  [[ -z "$SEED_HOSTS" ]] || args+=(--seed-hosts "$SEED_HOSTS")
  [[ -z "$INITIAL_MASTERS" ]] || args+=(--initial-master-nodes "$INITIAL_MASTERS")
  [[ -z "$ROLES" ]] || args+=(--roles "$ROLES")
  ((${#EXTRA_SETTINGS[@]} == 0)) || args+=("${EXTRA_SETTINGS[@]}")
  rm -f "$DIR/esnode.pid"
  setsid "$0" run "${args[@]}" >>"$DIR/esnode.log" 2>&1 </dev/null &
  local pid=$! started=$SECONDS status=""
  echo "$pid" > "$DIR/esnode.pid"   # run writes the same pid (it execs java)
  while ((SECONDS - started < TIMEOUT)); do
    if ! pid_alive "$pid"; then
      echo "esnode: node exited during startup; last log lines:" >&2
      tail -n 40 "$DIR/esnode.log" >&2
      exit 1
    fi
    status="$(health_status "$HTTP_PORT")"
    case "$WAIT_STATUS:$status" in
      none:?*|yellow:yellow|yellow:green|green:green)
        [[ "$(answering_pid "$HTTP_PORT")" == "$pid" ]] || { sleep 0.5; continue; }
        echo "esnode: started Elasticsearch $(es_version) at http://127.0.0.1:$HTTP_PORT" \
          "(pid $pid, transport $TRANSPORT_PORT, status $status, $((SECONDS - started)) s)"
        return 0 ;;
    esac
    sleep 0.5
  done
  echo "esnode: no $WAIT_STATUS health within ${TIMEOUT}s (last status: ${status:-none}); last log lines:" >&2
  tail -n 40 "$DIR/esnode.log" >&2
  kill -KILL "$pid" 2>/dev/null || true
  exit 1
}

cmd_stop() {
  local dir="" timeout=20
  while (($#)); do
    [[ $# -ge 2 ]] || die "missing value for $1"
    case "$1" in
      --dir) dir="$2" ;;
      --timeout) timeout="$2" ;;
      *) die "unknown option $1" ;;
    esac
    shift 2
  done
  [[ -n "$dir" ]] || die "--dir is required"
  local pid
  pid="$(cat "$dir/esnode.pid" 2>/dev/null || true)"
  if ! pid_alive "$pid"; then rm -f "$dir/esnode.pid"; return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + timeout))
  while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  if pid_alive "$pid"; then
    echo "esnode: pid $pid still alive after ${timeout}s, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    while pid_alive "$pid"; do sleep 0.1; done
  fi
  rm -f "$dir/esnode.pid"
}

main() {
  (($#)) || die "usage: esnode.sh build|start|stop|run|classpath|env [options] (see the header of $0)"
  local cmd="$1"
  shift
  [[ "$cmd" == stop ]] || select_flavour
  case "$cmd" in
    build) cmd_build ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    run) cmd_run "$@" ;;
    classpath) cmd_build; abs_classpath; echo ;;
    env) printf 'ES_MAJOR=%s\nES_VERSION=%s\nJAVA_HOME=%s\nJAVA_MAJOR=%s\nTARGET=%s\n' \
           "$ES_MAJOR" "$(es_version)" "$JDK" "$JDK_MAJOR" "$TARGET" ;;
    *) die "unknown command $cmd" ;;
  esac
}

main "$@"

#!/usr/bin/env bash
# start|stop a loopback-only docker-registry for the test suite.
#   scripts/registry.sh start DIR   -> prints host:port; pid in DIR/registry.pid
#   scripts/registry.sh stop DIR
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?state directory}
case "$cmd" in
  start)
    mkdir -p "$dir/storage"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    cat > "$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
    docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
    echo $! > "$dir/registry.pid"
    for _ in $(seq 1 100); do
      if curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; then echo "127.0.0.1:$port"; exit 0; fi
      sleep 0.1
    done
    echo "docker-registry did not start; see $dir/registry.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$dir/registry.pid" ]; then kill "$(cat "$dir/registry.pid")" 2>/dev/null || true; rm -f "$dir/registry.pid"; fi
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

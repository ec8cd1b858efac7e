#!/usr/bin/env bash
# Starts or stops a throw-away 3-master Redis Cluster on free loopback ports
# (nothing kept on disk), for the shared token cache tests.
#   scripts/redis-cluster.sh start DIR   prints the cluster URL (redis-cluster://...)
#   scripts/redis-cluster.sh stop DIR
set -euo pipefail

action=${1:?start or stop}
dir=${2:?a directory for the nodes}

free_ports() {
  # Each node also listens on its port + 10000 (the cluster bus): both must be
  # free, and the port must stay below 55536. The kernel's ephemeral range can
  # hand out ports above that, so pick from a lower range and check.
  python3 - <<'PY'
import random, socket
def free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
chosen = []
while len(chosen) < 3:
    port = random.randrange(20000, 45000)
    if port not in chosen and free(port) and free(port + 10000):
        chosen.append(port)
print(*chosen)
PY
}

node_answers() { [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; }
cluster_ok() { case "$(redis-cli -p "$1" cluster info 2>/dev/null)" in *cluster_state:ok*) return 0 ;; esac; return 1; }
wait_until() { # what it waits for (for the error message), then the check
  local what=$1; shift
  for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
  echo "redis-cluster: $what did not happen within 10 s" >&2
  return 1
}

case "$action" in
  start)
    mkdir -p "$dir"
    read -r p1 p2 p3 < <(free_ports)
    for port in $p1 $p2 $p3; do
      mkdir -p "$dir/$port"
      (cd "$dir/$port" && redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
        --cluster-config-file nodes.conf --save "" --appendonly no --daemonize yes --logfile redis.log)
      echo "$port" >> "$dir/ports"
    done
    for port in $p1 $p2 $p3; do
      wait_until "node $port answering" node_answers "$port"
    done
    if ! timeout 60 redis-cli --cluster create "127.0.0.1:$p1" "127.0.0.1:$p2" "127.0.0.1:$p3" \
        --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1; then
      echo "redis-cluster: creating the cluster failed:" >&2
      cat "$dir/create.log" >&2
      exit 1
    fi
    # The cluster is usable once every slot is served.
    wait_until "cluster_state:ok" cluster_ok "$p1"
    echo "redis-cluster://127.0.0.1:$p1?node=127.0.0.1:$p2&node=127.0.0.1:$p3"
    ;;
  stop)
    if [ -f "$dir/ports" ]; then
      while read -r port; do redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; done < "$dir/ports"
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac

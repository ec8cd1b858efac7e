#!/usr/bin/env bash
# Starts or stops a throw-away 3-master Redis Cluster on free loopback ports
# (nothing kept on disk), for the shared token cache tests.
#   scripts/redis-cluster.sh start DIR   prints the cluster URL (redis-cluster://...)
#   scripts/redis-cluster.sh stop DIR
set -euo pipefail

action=${1:?start or stop}
dir=${2:?a directory for the nodes}

free_ports() {
  python3 - <<'PY'
import socket
sockets = [socket.socket() for _ in range(3)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in sockets])
for s in sockets:
    s.close()
PY
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
      for _ in $(seq 50); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
    done
    echo yes | timeout 60 redis-cli --cluster create "127.0.0.1:$p1" "127.0.0.1:$p2" "127.0.0.1:$p3" \
      --cluster-replicas 0 >"$dir/create.log" 2>&1
    # The cluster is usable once every slot is served.
    for _ in $(seq 100); do
      redis-cli -p "$p1" cluster info 2>/dev/null | grep -q 'cluster_state:ok' && break
      sleep 0.1
    done
    redis-cli -p "$p1" cluster info | grep -q 'cluster_state:ok' || { cat "$dir/create.log" >&2; exit 1; }
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

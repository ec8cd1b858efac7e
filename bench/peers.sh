# The peers of scripts/bench.sh (bench/peers/): installing their packages
# (again when their lock files change) and starting them, pinned to core 0,
# with their sessions in the benchmark's private Redis. Sourced after
# bench/common.sh (and after bench_start_redis has a port to use).
python_peer=.idweb/bench/python
if ! cmp -s bench/peers/flask/requirements.txt "$python_peer/requirements.txt"; then
  say "installing the Python peer's packages in $python_peer"
  python3 -m venv "$python_peer"
  "$python_peer/bin/pip" install -q -r bench/peers/flask/requirements.txt >&2
  cp bench/peers/flask/requirements.txt "$python_peer/requirements.txt"
fi
start_flask() {
  # Sessions (with the token caches) in Redis under the peer's prefix; a round starts without the last one's.
  redis-cli -p "$redis_port" --scan --pattern 'bench-flask:*' | xargs -r redis-cli -p "$redis_port" unlink >/dev/null
  # One gevent worker: the system has one core (gunicorn's async worker for an app that calls other services).
  (cd bench/peers/flask && AUTHORITY="$emulator/$tenant" CLIENT_ID=$client_id CLIENT_SECRET=$secret \
    REDIRECT_URI="$app/getAToken" GRAPH="$emulator/v1.0" REDIS_URL="redis://127.0.0.1:$redis_port/0" \
    REDIS_PREFIX=bench-flask: REQUESTS_CA_BUNDLE=$ca PYTHONWARNINGS=ignore \
    exec taskset -c 0 "$OLDPWD/$python_peer/bin/gunicorn" -k gevent -w 1 -b 127.0.0.1:$app_port --log-level warning app:app) \
    >"$work/system.log" 2>&1 &
  pids+=($!)
  system_pid=$!
  wait_for "$app/profile"
}
if [ ! -f bench/peers/express/node_modules/.package-lock.json ] \
  || [ bench/peers/express/package-lock.json -nt bench/peers/express/node_modules/.package-lock.json ]; then
  say "installing the Node peer's packages"
  (cd bench/peers/express && npm ci --no-audit --no-fund >&2)
fi
start_express() {
  # Sessions and token caches in Redis under the peer's prefix; a round starts without the last one's.
  redis-cli -p "$redis_port" --scan --pattern 'bench-express:*' | xargs -r redis-cli -p "$redis_port" unlink >/dev/null
  # One process: the system has one core.
  PORT=$app_port AUTHORITY="$emulator/$tenant" CLIENT_ID=$client_id CLIENT_SECRET=$secret \
    REDIRECT_URI="$app/auth/redirect" GRAPH="$emulator/v1.0" REDIS_URL="redis://127.0.0.1:$redis_port/0" \
    REDIS_PREFIX=bench-express: NODE_EXTRA_CA_CERTS=$ca NODE_ENV=production \
    taskset -c 0 node bench/peers/express/app.mjs >"$work/system.log" 2>&1 &
  pids+=($!)
  system_pid=$!
  wait_for "$app/profile"
}

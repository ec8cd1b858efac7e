#!/usr/bin/env bash
# Instructions per Profile request (cached token + Graph /me at the emulator
# + HTML) and per sign-in (the whole flow, REQUESTS/4 of them, one at a
# time), counted by callgrind: unlike CPU time, the count is the same run
# after run whatever else the machine does, so a change's effect shows even
# when it is smaller than the load benchmark's noise. (A copy counts as one
# instruction per byte under valgrind, so a large memcpy weighs more here
# than in CPU time.)
#
#   bench/instructions.sh [REQUESTS] [SYSTEM...]
#     REQUESTS  sequential requests counted, on one keep-alive connection
#               (default 200), after 20 uncounted ones
#     SYSTEM    idweb, redis (idweb with Redis sessions and token cache),
#               ceiling (default: idweb ceiling)
#
# Release builds (scripts/release.sh), the emulator over HTTPS, one user
# signed in through the real flow. Prints a Markdown table; each system's
# callgrind profiles stay in target/bench/callgrind.SYSTEM.out (requests)
# and .out.sign-in (read them with `callgrind_annotate --inclusive=yes FILE`). Loopback only; bounded: about
# a minute per system.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-200}
sign_ins=$(( requests / 4 > 0 ? requests / 4 : 1 ))
shift $(( $# > 0 ? 1 : 0 ))
systems=("$@")
[ ${#systems[@]} -gt 0 ] || systems=(idweb ceiling)

source bench/common.sh
command -v valgrind >/dev/null || { say "installing valgrind"; apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
scripts/services.sh >/dev/null
scripts/release.sh >&2 # always: cargo skips what is built, and a stale binary would measure old code
cargo build --release -q -p idweb-emulator -p idweb-bench-ceiling -p idweb-bench-sign-in >&2
mkdir -p target/bench
# Everything is slower under valgrind: start-up gets a minute.
BENCH_WAIT_TENTHS=600

bench_start_emulator 1
(cd "$work" && redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --logfile redis.log)

requests_on_one_connection() { # count cookie
  local urls=() i
  for ((i = 0; i < $1; i++)); do urls+=("$app/profile"); done
  curl -fs -H "Cookie: $2" "${urls[@]}" >/dev/null
}

# The total of callgrind's dump triggered as `dump=NAME`, moved to FILE.
dump_total() { # name file
  local dump
  dump=$(grep -l "^desc: Trigger: dump $1\$" "$out".* | head -1)
  mv "$dump" "$2"
  awk '/^summary:/ { print $2 }' "$2"
}

declare -A counted counted_sign_ins
for system in "${systems[@]}"; do
  out=target/bench/callgrind.$system.out
  rm -f "$out" "$out".*
  BENCH_WRAP="valgrind --tool=callgrind --callgrind-out-file=$PWD/$out"
  case "$system" in
    idweb) start_idweb ;;
    redis) start_idweb TokenCache__Store=Redis TokenCache__ConnectionString=redis://127.0.0.1:$redis_port/ \
        TokenCache__KeyPrefix=instructions: TokenCache__EncryptionKeys__0__Id=bench \
        TokenCache__EncryptionKeys__0__Key="$(head -c 32 /dev/urandom | base64)" Session__Store=Redis \
        Session__KeyPrefix=instructions-session: ;;
    ceiling) start_ceiling ;;
    *) echo "unknown system $system (idweb, redis, ceiling)" >&2; exit 2 ;;
  esac
  # Every system, the ceiling too, signs the user in through its own flow.
  start_path="/auth/sign-in?returnUrl=/"
  [ "$system" != ceiling ] || start_path=/auth/sign-in
  cookie=$(python3 bench/sign_in.py cookies "$app" "$start_path" "$work/users" 1 "$ca")
  curl -fs -H "Cookie: $cookie" "$app/profile" | grep -q "Bench User 1<" || { echo "$system did not serve the profile" >&2; exit 1; }
  requests_on_one_connection 20 "$cookie"
  callgrind_control --zero "$system_pid" >/dev/null
  requests_on_one_connection "$requests" "$cookie"
  callgrind_control --dump=counted "$system_pid" >/dev/null
  # Then whole sign-ins through the system's flow (start, callback, code redemption, checks, writes).
  taskset -c 1 target/release/idweb-bench-sign-in "$app" "$start_path" "$work/users" 10 1 0 "$ca" >/dev/null
  callgrind_control --zero "$system_pid" >/dev/null
  taskset -c 1 target/release/idweb-bench-sign-in "$app" "$start_path" "$work/users" "$sign_ins" 1 0 "$ca" >/dev/null
  callgrind_control --dump=sign-ins "$system_pid" >/dev/null
  stop_system
  # Each dump is the one whose trigger names it.
  counted[$system]=$(( $(dump_total counted "$out") / requests ))
  counted_sign_ins[$system]=$(( $(dump_total sign-ins "$out.sign-in") / sign_ins ))
  rm -f "$out".[0-9]*
  say "$system: ${counted[$system]} instructions per request, ${counted_sign_ins[$system]} per sign-in"
done
ratio_of() { # system, array name
  local -n of=$2
  [ -z "${of[ceiling]:-}" ] || python3 -c "print(f'{${of[$1]} / ${of[ceiling]}:.2f}x')"
}
printf '| system | instructions per Profile request | vs ceiling | instructions per sign-in | vs ceiling |\n| --- | ---: | ---: | ---: | ---: |\n'
for system in "${systems[@]}"; do
  printf '| %s | %s | %s | %s | %s |\n' "$system" "${counted[$system]}" "$(ratio_of "$system" counted)" \
    "${counted_sign_ins[$system]}" "$(ratio_of "$system" counted_sign_ins)"
done

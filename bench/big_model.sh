#!/usr/bin/env bash
# Larger-than-RAM benchmark of the expert store on a Qwen3-30B-A3B-shaped model (random weights,
# q4_k_m, ~17 GiB): builds the model once, then runs `strata bench` across expert modes and a
# sweep of expert-cache sizes, warm and cold. Takes a long time on small machines; it is a
# manual benchmark, never part of the tests.
#
#   bench/big_model.sh [BUILD_DIR] [MODEL_OUT]
#
# Environment: THREADS (default: all cores), PP (default 128), TG (default 32), REPS (default 3),
# SWEEP (cache sizes, default "2G,4G,8G"), MEM_LIMIT (e.g. 12G: run the bench inside a memory
# cgroup through systemd-run so the model really does not fit; needs systemd and permission).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
model=${2:-$root/models/qwen3-30b-a3b-q4_k_m.gguf}
strata=$build/strata
threads=${THREADS:-0}
pp=${PP:-128}
tg=${TG:-32}
reps=${REPS:-3}
sweep=${SWEEP:-2G,4G,8G}

if [[ ! -x $strata ]]; then
  echo "big_model.sh: no strata binary at $strata (build first: scripts/build.sh)" >&2
  exit 1
fi

mkdir -p "$(dirname "$model")"
if [[ ! -f $model ]]; then
  echo "== generating $model (random weights, q4_k_m)" >&2
  "$strata" make-model --preset qwen3-30b-a3b --type q4_k_m --threads "$threads" -o "$model"
fi
"$strata" inspect "$model" | head -20

run() {
  if [[ -n ${MEM_LIMIT:-} ]]; then
    systemd-run --user --scope -p MemoryMax="$MEM_LIMIT" -p MemorySwapMax=0 -- "$strata" "$@"
  else
    "$strata" "$@"
  fi
}

out=${model%.gguf}.bench
mkdir -p "$out"
common=(-m "$model" -p "$pp" -n "$tg" -r "$reps" -t "$threads")

echo "== warm: mmap and direct with a cache sweep" >&2
run bench "${common[@]}" --modes mmap,direct --cache-sweep "$sweep" | tee "$out/warm.md"
run bench "${common[@]}" --modes mmap,direct --cache-sweep "$sweep" --json > "$out/warm.json"

echo "== cold (page cache dropped before each configuration)" >&2
run bench "${common[@]}" --modes mmap,direct --cache-sweep "$sweep" --cold | tee "$out/cold.md"

echo "== eviction policies at the smallest cache size" >&2
first=${sweep%%,*}
for policy in lru lfu sieve; do
  echo "-- $policy" >&2
  run bench "${common[@]}" --modes direct --expert-cache "$first" --evict "$policy" --no-probe \
    | tee "$out/evict-$policy.md"
done
echo "results in $out" >&2

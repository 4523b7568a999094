#!/usr/bin/env bash
# Bigger-than-RAM benchmark of the expert store on a Qwen3-30B-A3B-shaped model (random weights,
# q8_0, 30.3 GiB: ~1.3x this 23 GiB machine, more once HOLD takes memory away): builds the model,
# then runs `strata bench` decode with plain mmap (`mmap-plain`: no hints, what an mmap-only engine
# does), strata's mmap mode (experts faulted in ahead of compute) and `--expert-mode direct` over
# a sweep of expert-cache sizes, and the eviction policies. The table's last column is the decode
# limit set by memory and disk bandwidth (both measured by bench) and the fraction reached. A
# manual benchmark, never part of the tests.
#
#   bench/big_model.sh [BUILD_DIR] [MODEL_OUT]
#
# Environment: THREADS (default: all cores), TG (tokens per run, default 64), REPS (default 3),
# SWEEP (cache sizes, default "4G,8G"), TYPE (default q8_0), HOLD (e.g. 10G: another process holds
# that much RAM during the runs, as in the llama.cpp baseline), COLD=1 (also cold-start runs),
# KEEP=1 (keep the generated model; by default it is deleted at the end), ROUTING (a labelled
# synthetic workload in place of the routers for every run, e.g. "zipf:s=0.8,locality=0.5"; see
# `strata bench --help`).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
type=${TYPE:-q8_0}
model=${2:-$root/models/qwen3-30b-a3b-$type.gguf}
strata=$build/strata
threads=${THREADS:-0}
tg=${TG:-64}
reps=${REPS:-3}
sweep=${SWEEP:-4G,8G}

if [[ ! -x $strata ]]; then
  echo "big_model.sh: no strata binary at $strata (build first: scripts/build.sh)" >&2
  exit 1
fi

holder=
made=
cleanup() {
  [[ -n $holder ]] && kill "$holder" 2>/dev/null || true
  if [[ -n $made && -z ${KEEP:-} ]]; then rm -f "$model"; echo "removed $model" >&2; fi
}
trap cleanup EXIT

mkdir -p "$(dirname "$model")"
if [[ ! -f $model ]]; then
  # The q8_0 file is 30.3 GiB; leave 5 GiB to spare.
  need_kib=$(( (31 + 5) * 1024 * 1024 ))
  free_kib=$(df -Pk "$(dirname "$model")" | awk 'NR==2 {print $4}')
  if (( free_kib < need_kib )); then
    echo "big_model.sh: $(( free_kib / 1048576 )) GiB free next to $model; need 36 GiB" >&2
    exit 1
  fi
  echo "== generating $model (random weights, $type)" >&2
  made=1
  "$strata" make-model --preset qwen3-30b-a3b --type "$type" --threads "$threads" -o "$model"
fi
"$strata" inspect "$model" | head -20

if [[ -n ${HOLD:-} ]]; then
  fifo=$(mktemp -u)
  mkfifo "$fifo"
  "$root/bench/hold_memory.py" "$HOLD" > "$fifo" &
  holder=$!
  read -r line < "$fifo"  # wait until the memory is resident
  rm -f "$fifo"
  echo "== another process is $line" >&2
fi

out=${model%.gguf}.bench
mkdir -p "$out"
common=(-m "$model" -p 0 -n "$tg" -r "$reps" -t "$threads")
if [[ -n ${ROUTING:-} ]]; then
  common+=(--routing "$ROUTING")
  out=$out-$(echo "$ROUTING" | tr -c 'A-Za-z0-9.=\n' '_')
  mkdir -p "$out"
fi

echo "== plain mmap, mmap, and direct with a cache sweep" >&2
"$strata" bench "${common[@]}" --modes mmap-plain,mmap,direct --cache-sweep "$sweep" --json-out "$out/warm.json" \
  --plot "$out/cache-sweep.svg" | tee "$out/warm.md"

if [[ -n ${COLD:-} ]]; then
  echo "== cold (page cache dropped before each configuration)" >&2
  "$strata" bench "${common[@]}" --modes mmap-plain,mmap,direct --cache-sweep "$sweep" --cold --no-probe | tee "$out/cold.md"
fi

echo "== eviction policies at the smallest cache size" >&2
first=${sweep%%,*}
for policy in lru lfu sieve; do
  echo "-- $policy" >&2
  "$strata" bench "${common[@]}" --modes direct --expert-cache "$first" --evict "$policy" --no-probe \
    | tee "$out/evict-$policy.md"
done
echo "results in $out" >&2

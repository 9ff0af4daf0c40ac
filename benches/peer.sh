#!/usr/bin/env bash
# Side by side: the JAX reference MuProp (../shared/peer/muprop_jax.py, structured prediction,
# one layer of 200 units) and this crate's learned MuProp on Sbn1<392, 200, 392>, at batch 100
# and batch 1, on one core (taskset -c 0, XLA single-threaded) and on both cores (the crate
# with --features parallel), in one run. Prints each JSON line, then a table of examples/s
# and the ratios muprop / JAX.
#
#   bash benches/peer.sh              # 10 s per measurement
#   SECONDS_PER_RUN=30 bash benches/peer.sh
#   RUSTFLAGS="-C target-cpu=native" bash benches/peer.sh   # the crate built for this CPU
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${SECONDS_PER_RUN:-10}"
peer="../shared/peer/muprop_jax.py"
mnist="../shared/data/mnist"
[ -f "$peer" ] || { echo "peer.sh: $peer not found" >&2; exit 1; }

# The JAX reference's environment, once (about 25 s, 0.7 GB; .venv-jax is git-ignored).
if [ ! -x .venv-jax/bin/python ] || ! .venv-jax/bin/python -c "import jax" 2>/dev/null; then
  python3 -m venv .venv-jax
  .venv-jax/bin/pip install --quiet "jax[cpu]" numpy
fi

target="target/peer"
CARGO_TARGET_DIR="$target" cargo build --quiet --release --features parallel --example peer_speed
ours="$target/release/examples/peer_speed"
one_core=(env XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" taskset -c 0)

rate() { sed -n 's/.*"examples_per_s": \([0-9.]*\).*/\1/p'; }

declare -A r
run() {
  local key="$1"; shift
  local line
  line="$("$@" | tail -n 1)"
  echo "$key: $line" >&2
  r[$key]="$(printf '%s\n' "$line" | rate)"
}

run jax_1core_b100 "${one_core[@]}" .venv-jax/bin/python "$peer" --task sp --n_layer 1 --mnist "$mnist" --eval_n 0 --seconds "$secs" --batch_size 100
run jax_1core_b1 "${one_core[@]}" .venv-jax/bin/python "$peer" --task sp --n_layer 1 --mnist "$mnist" --eval_n 0 --seconds "$secs" --batch_size 1
run jax_2core_b100 .venv-jax/bin/python "$peer" --task sp --n_layer 1 --mnist "$mnist" --eval_n 0 --seconds "$secs" --batch_size 100
run jax_2core_b1 .venv-jax/bin/python "$peer" --task sp --n_layer 1 --mnist "$mnist" --eval_n 0 --seconds "$secs" --batch_size 1
run ours_1core_b100 taskset -c 0 "$ours" --mnist "$mnist" --seconds "$secs" --batch 100 --threads 1
run ours_1core_b1 taskset -c 0 "$ours" --mnist "$mnist" --seconds "$secs" --batch 1 --threads 1
run ours_2core_b100 "$ours" --mnist "$mnist" --seconds "$secs" --batch 100 --threads 2
run ours_2core_b1 "$ours" --mnist "$mnist" --seconds "$secs" --batch 1 --threads 1

echo
echo "| cores | batch | JAX examples/s | muprop examples/s | muprop / JAX |"
echo "|---|---|---|---|---|"
for c in 1 2; do
  for b in 100 1; do
    j="${r[jax_${c}core_b$b]}"; o="${r[ours_${c}core_b$b]}"
    awk -v c="$c" -v b="$b" -v j="$j" -v o="$o" \
      'BEGIN { printf "| %s | %s | %.0f | %.0f | %.2fx |\n", c, b, j, o, o / j }'
  done
done
awk -v two="${r[ours_2core_b100]}" -v one="${r[ours_1core_b100]}" \
  'BEGIN { printf "\nmuprop, two threads over one at batch 100: %.2fx\n", two / one }'

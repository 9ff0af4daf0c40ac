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
declare -A lines
run() {
  local key="$1"; shift
  local line
  line="$("$@" | tail -n 1)"
  echo "$key: $line" >&2
  r[$key]="$(printf '%s\n' "$line" | rate)"
  lines[$key]="$line"
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

# The limits peer_speed measured on one core after its timed runs (see its module docs).
python3 - "${lines[ours_1core_b100]}" "${lines[ours_1core_b1]}" "${r[jax_1core_b100]}" "${r[jax_1core_b1]}" <<'PY'
import json, sys
b100, b1 = (json.loads(s)["limits"] for s in sys.argv[1:3])
jax100, jax1 = float(sys.argv[3]), float(sys.argv[4])
ceiling = b100["arithmetic_ceiling_examples_per_s"]
products = 100 * 2 * b100["products_multiply_adds_per_example"] / (b100["products_us_per_step"] * 1e3)
print()
print("Limits of one core (peak %.1f GFLOP/s):" % b100["peak_gflops"])
print("- batch 100: a step must do %.0f multiply-adds per example even skipping every zero "
      "(input density %.3f, hidden %.3f); at the peak with no other work that is %.0f examples/s, "
      "%.2fx JAX" % (b100["min_multiply_adds_per_example"], b100["input_density"],
                     b100["hidden_density"], ceiling, ceiling / jax100))
print("- batch 100, this crate: a step takes %.0f us, its model's products %.0f us of it "
      "(%.0f%% of peak by that count), the rest %.0f us"
      % (b100["step_us"], b100["products_us_per_step"], 100 * products / b100["peak_gflops"],
         b100["step_us"] - b100["products_us_per_step"]))
print("- batch 1: one pass over the Adam state of %d parameters takes %.1f us (exact Adam %.1f us): "
      "at most %.0f steps/s, %.2fx JAX, for any exact Adam"
      % (b1["parameters"], b1["optimiser_traffic_us"], b1["adam_us"],
         b1["traffic_ceiling_steps_per_s"], b1["traffic_ceiling_steps_per_s"] / jax1))
PY

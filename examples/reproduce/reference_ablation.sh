#!/usr/bin/env bash
# How much of the JAX reference's variational-SBN result comes from its parametrisation.
#
#   bash examples/reproduce/reference_ablation.sh          # one-layer model, seed 0 (about 2 min)
#   LAYERS=2 SEED=1 bash examples/reproduce/reference_ablation.sh
#   TASK=sp LAYERS=2 bash examples/reproduce/reference_ablation.sh   # structured prediction
#
# The reference (../shared/peer/muprop_jax.py) centres the encoder's input by the training
# pixel means and feeds hidden units forward as -1/+1; this crate's networks do neither (inputs
# as given, hidden units as 0/1). This script writes a copy of the reference into
# target/reference-ablation/ with two switches added by text substitution (--no_center: the
# encoder input is not centred; --zero_one: hidden units are fed forward as 0/1), then trains
# the four combinations on the reproduction runner's protocol and prints each one's validation
# ELBO and 100-sample bound: for the variational SBN (TASK=sbn, the default) 4000 steps, batch
# 100, Adam 1e-3 with beta2 0.999, 1000 validation images; for structured prediction
# (TASK=sp) 3000 steps at Adam 3e-3, 500 validation images, where the "ELBO" column is the
# mean one-sample log-likelihood of the bottom half and the bound is minus the test NLL with
# M = 100 of the runner's tables.
# The reference stays untouched; the copy is git-ignored with the rest of target/. The runs are
# pinned to core CORE (default 0), XLA single-threaded.
set -euo pipefail
cd "$(dirname "$0")/../.."
peer="../shared/peer/muprop_jax.py"
python=".venv-jax/bin/python"
layers="${LAYERS:-1}"
seed="${SEED:-0}"
task="${TASK:-sbn}"
case "$task" in
  sbn) protocol=(--lr 0.001 --steps 3999 --eval_n 1000) one="valid ELBO" ;;
  sp) protocol=(--lr 0.003 --steps 2999 --eval_n 500) one="valid log-likelihood, 1 sample" ;;
  *) echo "ablation: TASK is sbn or sp" >&2; exit 2 ;;
esac
[ -f "$peer" ] || { echo "ablation: $peer not found" >&2; exit 1; }
[ -x "$python" ] || { echo "ablation: no $python (see examples/reproduce.sh)" >&2; exit 1; }

out=target/reference-ablation
mkdir -p "$out"
copy="$out/muprop_jax_ablation.py"
mnist="$(cd ../shared/data/mnist && pwd)"
sed -e 's|^a = p.parse_args()|p.add_argument("--no_center", action="store_true"); p.add_argument("--zero_one", action="store_true")\na = p.parse_args()|' \
  -e 's|^mean_in = \(.*\)$|mean_in = (\1) * (0. if a.no_center else 1.)|' \
  -e 's|2\. \* h - 1\.|(h if a.zero_one else 2. * h - 1.)|g' \
  -e 's|(2\. \* hs\[\([^]]*\)\] - 1\.)|(hs[\1] if a.zero_one else 2. * hs[\1] - 1.)|g' \
  "$peer" >"$copy"
grep -q 'a.no_center' "$copy" && grep -q 'a.zero_one' "$copy" ||
  { echo "ablation: the reference changed; the substitutions no longer apply" >&2; exit 1; }

one_core=(env XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" taskset -c "${CORE:-0}")
printf '| encoder input | hidden units fed forward | %s | valid 100-sample bound |\n' "$one"
printf '|---|---|---|---|\n'
for flags in "" "--zero_one" "--no_center" "--no_center --zero_one"; do
  # shellcheck disable=SC2086
  line=$("${one_core[@]}" "$python" "$copy" --task "$task" --n_layer "$layers" --n_hidden 200 \
    --batch_size 100 --beta2 0.999 --warmup 1 "${protocol[@]}" --eval_samples 100 \
    --seed "$seed" --mnist "$mnist" $flags | tail -n 1)
  elbo=$(printf '%s' "$line" | sed -n 's/.*"valid_1sample": \([-0-9.]*\).*/\1/p')
  bound=$(printf '%s' "$line" | sed -n 's/.*"valid_kbound": \([-0-9.]*\).*/\1/p')
  centred=$([[ "$flags" == *no_center* ]] && echo "as given" || echo "centred")
  units=$([[ "$flags" == *zero_one* ]] && echo "0/1" || echo "-1/+1")
  printf '| %s | %s | %s | %s |\n' "$centred" "$units" "$elbo" "$bound"
done

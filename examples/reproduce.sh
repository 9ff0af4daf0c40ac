#!/usr/bin/env bash
# Reproduce the MuProp paper's comparisons on MNIST (examples/reproduce/main.rs).
#
#   examples/reproduce.sh quick   # seconds: every table and plot path, tiny budgets (CI)
#   examples/reproduce.sh full    # about 50 minutes on one core: the tables and plots
#
# DATA (default ../shared/data/mnist) holds the MNIST IDX files; CORE (default 1) is the core
# the run is pinned to; OUT (default target/muprop-reproduce, target/muprop-reproduce-quick for
# quick) receives the CSV files, the SVG plots and REPORT.md. The JAX reference runs when
# .venv-jax exists (python3 -m venv .venv-jax && .venv-jax/bin/pip install "jax[cpu]" numpy).
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-quick}"
data="${DATA:-../shared/data/mnist}"
core="${CORE:-1}"
case "$mode" in
  quick) flags=(--quick); out="${OUT:-target/muprop-reproduce-quick}" ;;
  full) flags=(); out="${OUT:-target/muprop-reproduce}" ;;
  *) echo "usage: $0 quick|full" >&2; exit 2 ;;
esac
if [ ! -d "$data" ]; then
  echo "reproduce: SKIPPED, no MNIST directory at $data (set DATA=...)" >&2
  exit 0
fi

cargo build --release --example reproduce
pin=()
if command -v taskset >/dev/null 2>&1 && taskset -c "$core" true 2>/dev/null; then
  pin=(taskset -c "$core")
fi
start=$(date +%s)
"${pin[@]}" target/release/examples/reproduce "${flags[@]}" --data "$data" --out "$out"
echo "reproduce $mode: $(( $(date +%s) - start )) s wall time; report in $out/REPORT.md"

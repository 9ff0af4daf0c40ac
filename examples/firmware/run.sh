#!/usr/bin/env bash
# The device side, checked in emulation (see /work/shared/EMBEDDED.md for the facts used).
#
#   bash examples/firmware/run.sh           # checks: thumb builds of the core, firmware
#                                           # training in QEMU, host twin, no-allocator control
#   bash examples/firmware/run.sh measure   # instruction counts, flash and RAM figures
#
# Installs what is missing (rustup targets, else Debian's Rust with build-std; qemu-system-arm;
# a size tool), caches nothing outside the repository's target directories, prints a PASS/FAIL
# summary and exits non-zero on any failure.
set -euo pipefail

MODE="${1:-check}"
FW="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$FW/../.." && pwd)"
TARGET=thumbv7em-none-eabihf
ELF="$FW/target/$TARGET/release/muprop-firmware"
QEMU_ARGS=(-machine mps2-an386 -cpu cortex-m4 -nographic
  -semihosting-config enable=on,target=native)
ICOUNT_SHIFT=10
LOG="$FW/target/run-logs"
export CARGO_TERM_COLOR=never

declare -a RESULTS=()
FAILED=0
pass() { RESULTS+=("PASS  $*"); echo "PASS: $*"; }
fail() { RESULTS+=("FAIL  $*"); echo "FAIL: $*"; FAILED=1; }
step() { printf '\n-- %s\n' "$*"; }
summary() {
  printf '\n== device summary (%s mode, %ss)\n' "$MODE" "$SECONDS"
  printf '%s\n' "${RESULTS[@]}"
  if [ "$FAILED" -eq 0 ]; then echo "device: PASS"; else echo "device: FAIL"; fi
  exit "$FAILED"
}

# --- toolchain: rustup's prebuilt targets, else Debian's Rust building `core` from source.
CARGO=cargo
BUILD_STD=()
step "toolchain"
if command -v rustup >/dev/null && rustup target add "$TARGET" thumbv6m-none-eabi; then
  echo "using rustup targets"
else
  echo "rustup refused the targets: falling back to Debian's Rust with -Zbuild-std"
  apt-get update -qq
  apt-get install -y rustc-web cargo-web rust-web-src libstd-rust-web-dev lld >/dev/null
  export PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
  export CARGO_TARGET_THUMBV7EM_NONE_EABIHF_LINKER=ld.lld
  export CARGO_TARGET_THUMBV6M_NONE_EABI_LINKER=ld.lld
  CARGO=/usr/bin/cargo
  BUILD_STD=(-Zbuild-std=core,alloc -Zbuild-std-features=compiler-builtins-mem)
fi
if ! command -v qemu-system-arm >/dev/null; then
  apt-get update -qq && apt-get install -y -qq qemu-system-arm >/dev/null
fi
qemu-system-arm --version | head -1
mkdir -p "$LOG"

build_firmware() { # extra cargo arguments
  (cd "$FW" && "$CARGO" build --release --quiet "${BUILD_STD[@]}" "$@")
}

run_qemu() { # log file, extra QEMU arguments; exit status of the firmware
  local out="$1"
  shift
  timeout 300 qemu-system-arm "${QEMU_ARGS[@]}" "$@" -kernel "$ELF" >"$out" 2>&1
}

# --- the normal firmware: train in QEMU (both modes need its ELF, output and stack figure).
step "firmware: build and train in QEMU"
build_firmware
if run_qemu "$LOG/device.txt"; then
  pass "firmware trains in QEMU and its loss falls (exit 0)"
else
  fail "firmware exited non-zero (see $LOG/device.txt)"
fi
grep -E '^(result|stack_peak|firmware)' "$LOG/device.txt" || true

if [ "$MODE" = check ]; then
  step "core without default features for $TARGET and thumbv6m-none-eabi"
  for t in "$TARGET" thumbv6m-none-eabi; do
    if (cd "$ROOT" && "$CARGO" build -p muprop --no-default-features --target "$t" --quiet \
      "${BUILD_STD[@]}"); then
      pass "core builds for $t"
    else
      fail "core does not build for $t"
    fi
  done

  step "host: committed firmware sources are what export_weights generates"
  if (cd "$ROOT" && "$CARGO" run --quiet --profile test --all-features \
    --example export_weights -- --check); then
    pass "digits.rs and pretrained.rs regenerate byte for byte"
  else
    fail "digits.rs or pretrained.rs differ from export_weights' output"
  fi

  step "host twin: the same experiment on the host"
  # Cortex-M cores have no float SIMD, so the kernels serve their scalar twins there; the
  # host twin is built the same way, which makes the two bit-identical.
  (cd "$ROOT" && RUSTFLAGS="--cfg muprop_scalar_kernels" "$CARGO" run --quiet --profile test \
    --all-features --target-dir "$ROOT/target/scalar" --example firmware_twin) \
    >"$LOG/host.txt" 2>&1 || true
  grep '^result' "$LOG/device.txt" >"$LOG/device-results.txt" || true
  grep '^result' "$LOG/host.txt" >"$LOG/host-results.txt" || true
  lines=$(wc -l <"$LOG/device-results.txt")
  if [ "$lines" -gt 0 ] && diff "$LOG/host-results.txt" "$LOG/device-results.txt"; then
    pass "host twin and device agree bit for bit on all $lines result lines"
  else
    fail "host twin and device differ (diff above; logs in $LOG)"
  fi

  step "negative control: one allocation without a global allocator must not link"
  if build_firmware --features allocate-negative-control 2>"$LOG/negative.txt"; then
    fail "the allocating firmware built: the no-allocator check proves nothing"
  elif grep -q "no global memory allocator found" "$LOG/negative.txt"; then
    pass "allocating firmware fails with 'no global memory allocator found'"
  else
    cat "$LOG/negative.txt"
    fail "the allocating firmware failed for another reason"
  fi
  summary
fi

[ "$MODE" = measure ] || { fail "unknown mode '$MODE' (use check or measure)"; summary; }

# --- measure: sizes of the normal firmware, then instruction counts under -icount.
step "sizes of the training firmware"
SIZE=""
for tool in llvm-size arm-none-eabi-size; do
  if command -v "$tool" >/dev/null; then SIZE="$tool"; break; fi
done
if [ -z "$SIZE" ]; then
  apt-get install -y -qq binutils-arm-none-eabi >/dev/null
  SIZE=arm-none-eabi-size
fi
"$SIZE" -A "$ELF" | grep -E '^\.(vector_table|text|rodata|data|bss|uninit) '
section() { "$SIZE" -A "$ELF" | awk -v s="$1" '$1 == s { print $2 }'; }
stack=$(awk '/^stack_peak_bytes/ { print $2 }' "$LOG/device.txt")
echo "flash: .vector_table $(section .vector_table) + .text $(section .text) + .rodata" \
  "$(section .rodata) + .data $(section .data) bytes"
echo "RAM: .data $(section .data) + .bss $(section .bss) bytes, peak stack ${stack:-?} bytes"

step "instruction counts (-icount shift=$ICOUNT_SHIFT: instructions = ticks * 40 / 2^$ICOUNT_SHIFT)"
build_firmware --features measure
if run_qemu "$LOG/measure.txt" -icount "shift=$ICOUNT_SHIFT,sleep=off"; then
  pass "measurement firmware: clock calibrated and mirrored phases match train_step"
else
  fail "measurement firmware failed (see $LOG/measure.txt)"
fi
awk '
  /^measure/ { v[$2] = $3 }
  function i(k) { return v[k] / 100 }
  END {
    printf "%-44s %12.2f\n", "1000 nops measured as (instructions)", i("nop1000_centi")
    printf "%-44s %12.2f\n", "MuProp training step (train_step, Adam)", i("muprop_step_centi")
    printf "%-44s %12.2f\n", "REINFORCE training step (train_step, Adam)", i("reinforce_step_centi")
    printf "%-44s %12.2f\n", "mean-field prediction (forward only)", i("prediction_centi")
    print "MuProp step by phase (instructions, per dense multiply-add):"
    printf "  %-42s %12.2f\n", "draw words + zero gradient", i("phase_draw_centi")
    printf "  %-42s %12.2f %8.2f\n", "sample pass", i("phase_sample_centi"), i("phase_sample_centi") / v["macs_sample"]
    printf "  %-42s %12.2f %8.2f\n", "mean-field pass + reverse sweep", i("phase_mean_field_centi"), i("phase_mean_field_centi") / v["macs_mean_field"]
    printf "  %-42s %12.2f\n", "logit gradients (estimator)", i("phase_logit_gradients_centi")
    printf "  %-42s %12.2f %8.2f\n", "backward pass", i("phase_backward_centi"), i("phase_backward_centi") / v["macs_backward"]
    printf "  %-42s %12.2f\n", "finiteness guards", i("phase_guards_centi")
    printf "  %-42s %12.2f %8.2f /param\n", "Adam update", i("phase_adam_update_centi"), i("phase_adam_update_centi") / v["params"]
    printf "  %-42s %12.2f\n", "sum of phases", i("phase_sum_centi")
    printf "%-44s %12.2f %8.2f /param\n", "SGD (momentum 0.9) update", i("sgd_update_centi"), i("sgd_update_centi") / v["params"]
    printf "%-44s %12.2f %8.2f /param\n", "SGD (momentum 0, plain) update", i("sgd_plain_update_centi"), i("sgd_plain_update_centi") / v["params"]
    printf "%-44s %12.2f\n", "prediction per dense multiply-add", i("prediction_centi") / v["macs_sample"]
    printf "dense multiply-adds: sample %d, mean-field %d, backward %d; parameters %d\n", v["macs_sample"], v["macs_mean_field"], v["macs_backward"], v["params"]
  }' "$LOG/measure.txt"
summary

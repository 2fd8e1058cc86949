#!/usr/bin/env bash
# Fuzzes the pure core with cargo-fuzz (libFuzzer + AddressSanitizer), FUZZ_SECONDS per target
# (default 60), starting from the seed corpus in fuzz/seeds/<target>/ (with the dictionary
# fuzz/dicts/<target>.dict). Not part of
# scripts/test.sh: it takes minutes. Exits non-zero when a target crashes (a panic, an
# overflow caught by debug assertions, or a sanitizer report), printing the artifact and the
# command that reproduces it.
#
#   bash scripts/fuzz.sh                 # every target, 60 s each
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh responses snapshot
#
# cargo-fuzz needs nightly flags (-Zsanitizer...); RUSTC_BOOTSTRAP=1 lets the stable toolchain
# take them (it ships the sanitizer runtimes).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1

SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
ALL_TARGETS=(settings event responses snapshot)
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi

echo "== cargo fuzz build"
cargo fuzz build

failed=()
for target in "${TARGETS[@]}"; do
  corpus="fuzz/corpus/$target"
  artifacts="fuzz/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  log="fuzz/artifacts/$target.log"
  echo "== fuzz $target for ${SECONDS_PER_TARGET}s (log: $log)"
  before=$(find "$artifacts" -type f | sort)
  # The working corpus (first dir) grows; the committed seeds (second dir) are only read.
  # -timeout: one input taking 10 s is a hang, reported like a crash.
  dict=()
  if [ -f "fuzz/dicts/$target.dict" ]; then dict=(-dict="fuzz/dicts/$target.dict"); fi
  if cargo fuzz run "$target" "$corpus" "fuzz/seeds/$target" -- \
      -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=4096 \
      "${dict[@]}" -print_final_stats=1 >"$log" 2>&1; then
    status=0
  else
    status=$?
  fi
  grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$log" | sed 's/^/   /' || true
  after=$(find "$artifacts" -type f | sort)
  new=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d' || true)
  if [ "$status" -ne 0 ] || [ -n "$new" ]; then
    failed+=("$target")
    echo "!! $target failed (exit $status):"
    grep -E 'panicked at|ERROR: |SUMMARY: ' "$log" | head -5 | sed 's/^/   /' || tail -5 "$log"
    for a in $new; do
      echo "   artifact: $a"
      echo "   reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run $target $a"
    done
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "== fuzzing found crashes in: ${failed[*]}"
  exit 1
fi
echo "== fuzzing found nothing (${TARGETS[*]}; ${SECONDS_PER_TARGET}s each)"

#!/usr/bin/env bash
# Issue 12: a command costs its change, not the tree. Whole-process wall time (best of R runs,
# output to /dev/null, files in the page cache) and peak RSS (/usr/bin/time %M) of:
#
#   A. `--format iomem show` of a generated dump of N lines (the peer every other figure is
#      divided by), and the same dump with 20 request/release commands after it, shown as
#      diffs (the commands piped into `repl`: every step prints its folded side-by-side diff,
#      no final tree) and as a script under `--format iomem` (no per-step output, the final
#      tree printed) — for N = 1k … 1M, each also at 2N;
#   B. scripts of N request/release commands on the built-in example (`--format iomem -f`,
#      stdin empty), N = 1k … 1M, each also at 2N.
#
#   benches/cost.sh [--quick]      (--quick: N up to 100k)
#
# Prints Markdown tables; benches/RESULTS.md keeps a run. Not part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v /usr/bin/time >/dev/null || { echo "need /usr/bin/time (apt-get install -y time)" >&2; exit 1; }
QUICK=${1:-}

cargo build --release --quiet --bin iomem-sim
BIN=$PWD/target/release/iomem-sim
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

if [[ $QUICK == --quick ]]; then SIZES=(1000 10000 100000); else SIZES=(1000 10000 100000 1000000); fi

# best R cmd... : "seconds peak_kib" of the fastest of R runs (peak RSS of that run); stdin is
# $STDIN (default /dev/null)
best() {
  local r=$1; shift
  local bt="" bm="" t0 t1 t
  for ((i = 0; i < r; i++)); do
    t0=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$TMP/t" "$@" >/dev/null 2>"$TMP/err" <"${STDIN:-/dev/null}" || {
      cat "$TMP/err" >&2
      return 1
    }
    t1=$(date +%s%N)
    t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
    if [[ -z $bt ]] || awk -v a="$t" -v b="$bt" 'BEGIN { exit !(a < b) }'; then bt=$t; bm=$(cat "$TMP/t"); fi
  done
  echo "$bt $bm"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "—"; else printf "%.2f×", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

# 20 commands: request and release of 1 MiB at 2^45 (above every generated range).
python3 - "$TMP/s20" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(10):
        a = 0x200000000000 + i * 0x100000
        f.write("request %x 1M r%d\nrelease %x 1M\n" % (a, i, a))
EOF

echo "# iomem-sim cost model (benches/cost.sh)"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(uname -sr), $(date -u +%F)"
echo
echo "## A. 20 request/release commands on a dump of N lines vs \`--format iomem show\` of it"
echo
echo "| N lines | show | show peak | 20 cmds, diffs | ratio | peak | ratio | 20 cmds, --format iomem | ratio | show at 2N | growth per doubling |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in "${SIZES[@]}"; do
  for m in "$n" $((2 * n)); do
    [[ -f $TMP/d$m ]] || cargo bench --quiet --bench scale -- --write-dump "$TMP/d$m" "$m" 2>/dev/null
  done
  if ((n >= 1000000)); then r=3; else r=7; fi
  read -r ts ms < <(best $r "$BIN" --format iomem --input "$TMP/d$n" show)
  read -r td md < <(STDIN=$TMP/s20 best $r "$BIN" --input "$TMP/d$n" repl)
  read -r ti _ < <(best $r "$BIN" --format iomem --input "$TMP/d$n" -f "$TMP/s20")
  read -r t2 _ < <(best $r "$BIN" --format iomem --input "$TMP/d$((2 * n))" show)
  echo "| $n | ${ts} s | $(mib "$ms") | ${td} s | $(ratio "$td" "$ts") | $(mib "$md") | $(ratio "$md" "$ms") | ${ti} s | $(ratio "$ti" "$ts") | ${t2} s | $(ratio "$t2" "$ts") |"
done
echo
echo "## B. scripts of N request/release commands on the built-in example (--format iomem -f)"
echo
echo "| N commands | time | µs/command | peak | time at 2N | growth per doubling |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in "${SIZES[@]}"; do
  for m in "$n" $((2 * n)); do
    [[ -f $TMP/script$m ]] || awk -v n="$m" 'BEGIN { for (i = 0; i < n / 2; i++) {
      a = 3221225472 + (i % 1000) * 1048576 + 268435456;
      printf "request %x 1M r%d\nrelease %x 1M\n", a, i, a } }' >"$TMP/script$m"
  done
  if ((n >= 1000000)); then r=1; else r=3; fi
  read -r t m < <(best $r "$BIN" --format iomem -f "$TMP/script$n")
  read -r t2 _ < <(best $r "$BIN" --format iomem -f "$TMP/script$((2 * n))")
  us=$(awk -v t="$t" -v n="$n" 'BEGIN { printf "%.1f", t * 1e6 / n }')
  echo "| $n | ${t} s | $us | $(mib "$m") | ${t2} s | $(ratio "$t2" "$t") |"
done

#!/usr/bin/env bash
# Whole-process time and peak memory of `iomem-sim --format iomem --input F` vs `cat F`.
#
#   benches/process.sh [FIXTURES_DIR]
#
# Files: the largest real dump in FIXTURES_DIR (default: fixtures/ if present, else
# /work/shared/fixtures) and a generated 1,000,000-line nested dump (benches/scale.rs
# --write-dump). Time: mean wall clock over R runs (output to /dev/null, file in page cache).
# Peak RSS: /usr/bin/time -f %M (max resident set, KiB). Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."

FIX=${1:-}
if [[ -z $FIX ]]; then
  if [[ -d fixtures ]] && ls fixtures/*.iomem >/dev/null 2>&1; then FIX=fixtures; else FIX=/work/shared/fixtures; fi
fi
command -v /usr/bin/time >/dev/null || { echo "need /usr/bin/time (apt-get install -y time)" >&2; exit 1; }

cargo build --release --quiet --bin iomem-sim
BIN=target/release/iomem-sim
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cargo bench --quiet --bench scale -- --write-dump "$TMP/generated-1M.iomem" 1000000 2>/dev/null

LARGEST=$(ls -S "$FIX"/*.iomem | head -1)
# A one-line dump: the process's fixed cost (binary, allocator, stdout), to subtract for
# bytes per resource.
echo "00000000-00000fff : Reserved" >"$TMP/one.iomem"

# mean_ms R cmd... : mean wall-clock milliseconds over R runs
mean_ms() {
  local r=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  for ((i = 0; i < r; i++)); do "$@" >/dev/null; done
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" -v r="$r" 'BEGIN { printf "%.2f", (b - a) / r / 1e6 }'
}
# peak_kib cmd... : max RSS in KiB
peak_kib() {
  /usr/bin/time -f %M -o "$TMP/rss" "$@" >/dev/null
  cat "$TMP/rss"
}

echo "# whole process: iomem-sim --format iomem --input F  vs  cat F"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(uname -sr)"
echo
echo "| file | lines | bytes | cat | iomem-sim | ratio | cat peak RSS | iomem-sim peak RSS |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
base_rss=$(peak_kib "$BIN" --format iomem --input "$TMP/one.iomem")
for f in "$LARGEST" "$TMP/generated-1M.iomem"; do
  lines=$(wc -l <"$f")
  bytes=$(wc -c <"$f")
  if ((lines > 100000)); then r=5; else r=50; fi
  cat "$f" >/dev/null # page cache
  tc=$(mean_ms $r cat "$f")
  ts=$(mean_ms $r "$BIN" --format iomem --input "$f")
  rc=$(peak_kib cat "$f")
  rs=$(peak_kib "$BIN" --format iomem --input "$f")
  ratio=$(awk -v a="$ts" -v b="$tc" 'BEGIN { printf "%.1f", a / b }')
  printf '| %s | %d | %d | %s ms | %s ms | %s× | %d KiB | %d KiB |\n' \
    "$(basename "$f")" "$lines" "$bytes" "$tc" "$ts" "$ratio" "$rc" "$rs"
  last_rs=$rs last_lines=$lines last_bytes=$bytes
done
echo
awk -v rs="$last_rs" -v base="$base_rss" -v n="$last_lines" -v b="$last_bytes" 'BEGIN {
  printf "1M-line dump: peak RSS %.1f MiB; minus a 1-line run (%.1f MiB) = %.1f MiB for %d resources = %.0f bytes per resource (input %.0f bytes per line)\n",
    rs / 1024, base / 1024, (rs - base) / 1024, n, (rs - base) * 1024 / n, b / n }'

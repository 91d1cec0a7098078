#!/usr/bin/env bash
# Issue 12's whole-process target: `iomem-sim --format iomem --input F show` against
# procfs-core 0.18's parse of the same file alone (`Iomem::from_buf_read` in a process of its
# own: benches/scale.rs --procfs-parse F), alternating, R rounds, output to /dev/null, the file
# in the page cache. Prints best and mean of each and their ratios.
#
#   benches/vs-procfs.sh [DUMP] [R]    (default: a generated 1M-line dump, R = 15)
set -euo pipefail
cd "$(dirname "$0")/.."
R=${2:-15}
cargo build --release --quiet --bin iomem-sim
cargo bench --quiet --bench scale --no-run 2>/dev/null
SCALE=$(cargo bench --quiet --bench scale --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "scale" and m.get("executable"):
        print(m["executable"])')
BIN=$PWD/target/release/iomem-sim
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
DUMP=${1:-}
if [[ -z $DUMP ]]; then
  DUMP=$TMP/gen1M.iomem
  "$SCALE" --write-dump "$DUMP" 1000000 >/dev/null
fi
cat "$DUMP" >/dev/null
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo $(((t1 - t0) / 1000)); }
ours=() peer=()
for ((i = 0; i < R; i++)); do
  peer+=("$(ms "$SCALE" --procfs-parse "$DUMP")")
  ours+=("$(ms "$BIN" --format iomem --input "$DUMP" show)")
done
printf '%s\n' "${peer[@]}" >"$TMP/p"
printf '%s\n' "${ours[@]}" >"$TMP/o"
stats() { sort -n "$1" | awk '{ a[NR] = $1; s += $1 } END { printf "%.1f %.1f %.1f\n", a[1] / 1000, s / NR / 1000, a[int((NR + 1) / 2)] / 1000 }'; }
read -r pb pm pmed < <(stats "$TMP/p")
read -r ob om omed < <(stats "$TMP/o")
echo "# $(wc -l <"$DUMP") lines, $R alternating rounds, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u '+%F %H:%M') UTC"
echo
echo "| process | best | mean | median |"
echo "|---|---:|---:|---:|"
echo "| procfs-core 0.18 parse alone (\`scale --procfs-parse\`) | $pb ms | $pm ms | $pmed ms |"
echo "| \`iomem-sim --format iomem --input F show\` | $ob ms | $om ms | $omed ms |"
awk -v a="$ob" -v b="$pb" -v c="$om" -v d="$pm" -v e="$omed" -v f="$pmed" \
  'BEGIN { printf "| ratio ours / procfs-core (target ≤ 0.5) | %.2f× | %.2f× | %.2f× |\n", a / b, c / d, e / f }'

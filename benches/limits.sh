#!/usr/bin/env bash
# Absurd inputs (issue 5, part 4): what the release binary does, how long, how much memory.
#
#   benches/limits.sh [--big]
#
# Rows: a 100 MB line, a dump of depth 10,000, scripts of N commands (N = 1k … 8k: the
# cost per command and the memory per command, to extrapolate to 10M), and with --big a
# ~1 GB dump (25M lines; needs ~8 GB free; the process runs under `prlimit --as=12G` so it
# fails cleanly instead of pushing the machine into swap). Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
BIG=${1:-}
cargo build --release --quiet --bin iomem-sim
BIN=$PWD/target/release/iomem-sim
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# run LABEL CMD... : wall time, peak RSS, exit status, first line of stderr
run() {
  local label=$1; shift
  local rc=0
  /usr/bin/time -f '%e %M' -o "$TMP/t" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  local t m
  read -r t m < <(tail -1 "$TMP/t")
  local msg
  msg=$( (grep -v '^Command exited' "$TMP/err" || true) | head -1 | cut -c1-110 | sed 's/|/\\|/g')
  printf '| %s | %s s | %.1f MiB | %d | %s |\n' "$label" "$t" "$(awk -v m="$m" 'BEGIN{print m/1024}')" "$rc" "${msg:-(stdout $(wc -c <"$TMP/out") bytes)}"
}

echo "| input | time | peak RSS | exit | message / output |"
echo "|---|---:|---:|---:|---|"

# A 100 MB line: one resource whose name is 100 MB long, after a normal line.
python3 - "$TMP/longline.iomem" <<'EOF'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"00000000-00000fff : Reserved\n00001000-0009fbff : ")
    f.write(b"x" * 100_000_000)
    f.write(b"\n")
EOF
run "one 100 MB line (a 100 MB name)" "$BIN" --format iomem --input "$TMP/longline.iomem"
# 100 MB of digits in an address.
python3 - "$TMP/longaddr.iomem" <<'EOF'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"0" * 100_000_000 + b"1-2 : x\n")
EOF
run "one 100 MB address (leading zeros)" "$BIN" --format iomem --input "$TMP/longaddr.iomem"

# Depth 10,000, as a generator writes it (2 spaces per level) and as the kernel prints it.
python3 - "$TMP/deep.iomem" "$TMP/deep-capped.iomem" <<'EOF'
import sys
with open(sys.argv[1], "w") as a, open(sys.argv[2], "w") as b:
    for d in range(10000):
        line = "%08x-%08x : level %d\n" % (d * 16, 0xffffffff - d * 16, d)
        a.write("  " * d + line)
        b.write("  " * min(d, 5) + line)
EOF
run "depth 10,000 (2 spaces per level)" "$BIN" --format iomem --input "$TMP/deep.iomem"
run "depth 10,000 (kernel's capped indent)" "$BIN" --format iomem --input "$TMP/deep-capped.iomem"

# Scripts of N commands on the QEMU pmem fixture: request + release pairs (every command
# changes the tree and is recorded as an undoable step).
FIX=fixtures/qemu-pmem-legacy-kmem-system-ram-child-dhansen.iomem
for n in 1000 2000 4000 8000 100000; do
  awk -v n="$n" 'BEGIN { for (i = 0; i < n / 2; i++) { a = 4294967296 + (i % 1000) * 1048576;
    printf "request %x 1M r%d\nrelease %x 1M\n", a, i, a } }' >"$TMP/script-$n"
  # Under an address-space cap: before the session kept one machine per step and a bounded
  # history, memory grew quadratically and a 100k-command script took 23 GiB (RESULTS.md).
  run "script of $n commands (request/release), prlimit --as=6G" \
    prlimit --as=$((6 << 30)) "$BIN" --format iomem --input "$FIX" -f "$TMP/script-$n"
done

if [[ $BIG == --big ]]; then
  cargo bench --quiet --bench scale -- --write-dump "$TMP/1g.iomem" 25000000 2>/dev/null
  run "$(($(wc -c <"$TMP/1g.iomem") / 1000000)) MB dump, 25M lines (prlimit --as=12G)" \
    prlimit --as=$((12 << 30)) "$BIN" --format iomem --input "$TMP/1g.iomem"
fi

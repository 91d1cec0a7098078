#!/usr/bin/env bash
# Two builds of iomem-sim side by side on one dump, alternating, so that both see the same
# machine noise: best and mean wall clock of `--format iomem show` and of 20 request/release
# commands (the REPL fed from a script), over R rounds (default 9).
#
#   benches/ab.sh OLD_BIN NEW_BIN DUMP [R]
#
# Make a dump with `cargo bench --bench scale -- --write-dump /tmp/gen1M.iomem 1000000`, and
# the old binary by building an older commit in a worktree.
set -euo pipefail
OLD=$1 NEW=$2 DUMP=$3 R=${4:-9}
S=$(mktemp)
trap 'rm -f "$S"' EXIT
for i in $(seq 0 9); do
  a=$(printf '%x' $((0x200000000000 + i * 0x100000)))
  printf 'request %s 1M r%d\nrelease %s 1M\n' "$a" "$i" "$a" >>"$S"
done
ms() { # ms STDIN cmd... : wall milliseconds
  local in=$1; shift
  local s e
  s=$(date +%s%N); "$@" >/dev/null 2>&1 <"$in"; e=$(date +%s%N)
  echo $(((e - s) / 1000000))
}
for _ in $(seq "$R"); do
  for b in old new; do
    bin=$OLD; [[ $b == new ]] && bin=$NEW
    echo "$b show $(ms /dev/null "$bin" --format iomem --input "$DUMP" show)"
    echo "$b cmds $(ms "$S" "$bin" --input "$DUMP" repl)"
  done
done | awk '{ k = $1 " " $2; if (!(k in m) || $3 < m[k]) m[k] = $3; s[k] += $3; n[k]++ }
  END { for (k in m) printf "%s best %d ms mean %.0f ms\n", k, m[k], s[k] / n[k] }' | sort

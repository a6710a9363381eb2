#!/usr/bin/env bash
# Compares the one-core quantizer throughput of two `aqua` binaries on this machine:
# alternating runs of `aqua bench --throughput-only` (the same 64 MiB of the bundled KV
# slice, every method and bit width by default), then one line a kernel with each
# binary's median GB/s and the ratio NEW / OLD. Alternating runs and medians, because this
# machine is shared and noisy: a change that moves one kernel by a few percent is within
# the noise; one that moves it by 20% is not. Run it before landing a code-generation
# rule, on the whole table, not only the kernel the rule was made for.
#
#   scripts/bench-ab.sh OLD_AQUA NEW_AQUA [ROUNDS] [-- BENCH ARGS...]
#
# e.g. `cp target/release/aqua /tmp/aqua-old`, change and rebuild, then
# `scripts/bench-ab.sh /tmp/aqua-old target/release/aqua 3 -- --methods uniform --bits 2,8`.
set -euo pipefail
if [ $# -lt 2 ]; then
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
old="$1" new="$2"
shift 2
rounds=3
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
    rounds="$1"
    shift
fi
[ "${1:-}" = "--" ] && shift
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--methods uniform,kivi,higgs --bits 1,2,3,4,5,6,7,8)
for bin in "$old" "$new"; do
    [ -x "$bin" ] || { echo "bench-ab: $bin is not an executable" >&2; exit 2; }
done

runs="$(mktemp)"
trap 'rm -f "$runs"' EXIT
for ((r = 1; r <= rounds; r++)); do
    for side in old new; do
        bin="$old"
        [ "$side" = new ] && bin="$new"
        echo "bench-ab: round $r of $rounds, $side ($bin)" >&2
        # Rows of the one-thread table: method bits group b/val threads quantize ... dequantize ...
        "$bin" bench --throughput-only "${args[@]}" 2>/dev/null |
            awk -v side="$side" '$5 == 1 && $7 == "GB/s" { print side, $1, $2, $3, $6, $12 }' >>"$runs"
    done
done

awk '
function median(list,    n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
    key = $2 " " $3 " " $4
    if (!(key in seen)) { seen[key] = 1; order[++keys] = key }
    q[$1, key] = q[$1, key] " " $5
    dq[$1, key] = dq[$1, key] " " $6
}
END {
    printf "%-8s %4s %5s   %-26s %-26s\n", "method", "bits", "group", "quantize old / new GB/s", "dequantize old / new GB/s"
    for (k = 1; k <= keys; k++) {
        key = order[k]
        split(key, f, " ")
        qo = median(q["old", key]); qn = median(q["new", key])
        do_ = median(dq["old", key]); dn = median(dq["new", key])
        printf "%-8s %4s %5s   %6.2f / %6.2f = %5.2fx    %6.2f / %6.2f = %5.2fx\n", f[1], f[2], f[3], qo, qn, qn / qo, do_, dn, dn / do_
    }
}' "$runs"

#!/usr/bin/env bash
# test_cli_bench.sh — `mnemo bench --quick --json` on the tiny model at each
# precision: one JSON object whose numbers a script can read and which hang
# together (the linear mix covers every weight, shares are fractions, the
# query bound comes from a positive peak). Speed itself is measured by
# benchmarks, not here.
# usage: test_cli_bench.sh MNEMO MODEL_DIR
set -u
MNEMO=$1 MODEL=$2
fail=0
for p in f32 bf16 int8; do
  out=$("$MNEMO" bench --model "$MODEL" --precision "$p" --quick --json 2>/dev/null); rc=$?
  if [ $rc != 0 ]; then echo "FAIL: bench --precision $p exited $rc"; fail=1; continue; fi
  if ! python3 - "$p" "$out" <<'PY'
import json, sys
p, j = sys.argv[1], json.loads(sys.argv[2])
problems = []
for key in ("precision_peak_gops", "query_bound_ms", "linear_gops_running_128", "linear_gops_running_512",
            "fma_peak_gflops", "precision_instruction", "outside_linear_share_128",
            "outside_linear_share_512", "linear_peak_fraction_128", "batch128", "query_p50_ms"):
    if key not in j:
        problems.append(f"no {key}")
if not problems:
    if not j["precision_peak_gops"] > 0 or not j["query_bound_ms"] > 0:
        problems.append("peak or bound not positive")
    for k in ("outside_linear_share_128", "outside_linear_share_512"):
        if not 0 <= j[k] < 1:
            problems.append(f"{k} = {j[k]}")
    mix = j["precision_instruction"]
    shares = [float(part.split("%")[0]) for part in mix.split(", ")]
    if abs(sum(shares) - 100) > 1.5:
        problems.append(f"the mix '{mix}' does not cover the weights")
    if j["precision"] != p:
        problems.append(f"precision {j['precision']}")
if problems:
    print(f"FAIL: bench --precision {p}: " + "; ".join(problems))
    sys.exit(1)
print(f"ok   bench --precision {p}: mix {j['precision_instruction']}, outside linear "
      f"{j['outside_linear_share_128']:.2f} / {j['outside_linear_share_512']:.2f}")
PY
  then fail=1; fi
done
out=$("$MNEMO" bench --model "$MODEL" extra 2>&1); rc=$?
[ $rc = 2 ] || { echo "FAIL: an argument should exit 2, got $rc"; fail=1; }
exit $fail

#!/usr/bin/env bash
# test_peak_loops.sh BINARY — the loops behind `mnemo bench`'s instruction
# peaks (src/kernels/x86/peak.c) really issue 12 independent
# instructions per iteration: in the disassembly of each, the instruction it
# times appears exactly 12 times, into 12 distinct destination registers. A
# compiler that merged the chains (as GCC did with intrinsics: ten equal
# accumulators became one) would make the "peak" a latency measurement.
set -uo pipefail
BIN=${1:?usage: test_peak_loops.sh BINARY}
fail=0
check() { # SYMBOL INSTRUCTION [ALSO]: ALSO (a step's other instructions) 12 times too
  local asm n regs
  asm=$(objdump -d --no-show-raw-insn --disassemble="$1" "$BIN" 2>/dev/null)
  if [ -z "$(echo "$asm" | grep -F "<$1>:")" ]; then
    echo "FAIL $1: not in $BIN"; fail=1; return
  fi
  for also in ${3:-}; do
    n=$(echo "$asm" | grep -cE "\s$also\s")
    if [ "$n" -ne 12 ]; then echo "FAIL $1: $n x $also (want 12)"; fail=1; fi
  done
  n=$(echo "$asm" | grep -cE "\s$2\s")
  regs=$(echo "$asm" | grep -E "\s$2\s" | sed -E 's/.*,(%[a-z0-9]+)\s*$/\1/' | sort -u | wc -l)
  if [ "$n" -eq 12 ] && [ "$regs" -eq 12 ]; then
    echo "ok   $1: 12 x $2 into 12 registers"
  else
    echo "FAIL $1: $n x $2 into $regs distinct registers (want 12 and 12)"; fail=1
  fi
}
# vex_only SYMBOL INSTRUCTION: every INSTRUCTION in SYMBOL is the VEX form
# (objdump's "{vex}"), so an AVX-VNNI CPU without AVX-512 can run it.
vex_only() {
  local asm all vex
  asm=$(objdump -d --no-show-raw-insn --disassemble="$1" "$BIN" 2>/dev/null)
  all=$(echo "$asm" | grep -cE "\s$2\s")
  vex=$(echo "$asm" | grep -cE "\{vex\} $2\s")
  if [ "$all" -gt 0 ] && [ "$all" -eq "$vex" ]; then
    echo "ok   $1: $all x $2, every one VEX-encoded"
  else
    echo "FAIL $1: $vex of $all x $2 VEX-encoded (want all, and some)"; fail=1
  fi
}
case "$(uname -m)" in
  x86_64)
    check mnemo__fma_loop_avx2 vfmadd231ps
    check mnemo__maddubs_loop vpaddd "vpsignb vpmaddubsw vpmaddwd"
    check mnemo__fma_loop_avx512 vfmadd231ps
    check mnemo__dpwssd_loop vpdpwssd
    check mnemo__dpbusd_loop vpdpbusd
    check mnemo__dpbf16_loop vdpbf16ps
    check mnemo__dpwssd_loop_vex '\{vex\} vpdpwssd'
    check mnemo__dpbusd_loop_vex '\{vex\} vpdpbusd'
    vex_only mnemo__gemm_packed_i8_avxvnni vpdpwssd
    vex_only mnemo__gemm_packed_u8_avxvnni vpdpbusd ;;
  *) echo "no x86 peak loops on $(uname -m)" ;;
esac
exit $fail

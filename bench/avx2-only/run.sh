#!/usr/bin/env bash
# bench/avx2-only/run.sh COMMAND [ARGS...] — runs a command (a benchmark) with the CPU shown to it as AVX2-only: no
# AVX-512, no VNNI, no AMX in CPUID, so ONNX Runtime's MLAS and .NET choose the kernels an AVX2-only CPU runs. It needs
# the kernel's CPUID faulting (flag `cpuid_fault` in /proc/cpuinfo: Intel CPUs, and KVM guests that expose it). The
# cores are still this machine's: figures are "AVX2 code paths on <this CPU>", not a measurement of another CPU.
# Example: bench/avx2-only/run.sh bench/cpu-table.sh 3
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
grep -qw cpuid_fault /proc/cpuinfo || { echo "error: this CPU or hypervisor has no CPUID faulting (no cpuid_fault flag); AVX-512 cannot be hidden here" >&2; exit 1; }
command -v cc >/dev/null || { echo "error: a C compiler is needed (apt-get install gcc)" >&2; exit 1; }
mkdir -p "$root/bench/out/avx2-only"
shim=$root/bench/out/avx2-only/hide_avx512.so
cc -O2 -shared -fPIC -o "$shim" "$here/hide_avx512.c" -ldl
# Graphs optimized by ONNX Runtime under the full CPU may hold kernels chosen for it: a cache of this run's own.
export KEYEMBED_CACHE="$root/bench/out/avx2-only/graph-cache"
export KEYEMBED_BENCH_CPU_NOTE="CPUID shows this process AVX2 only (bench/avx2-only hides AVX-512, VNNI and AMX; the cores are this CPU's)"
LD_PRELOAD="$shim${LD_PRELOAD:+:$LD_PRELOAD}" exec "$@"

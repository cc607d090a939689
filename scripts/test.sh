#!/usr/bin/env bash
# test.sh — the whole test suite, from nothing on a fresh Debian 12 machine:
# installs what it needs, then builds and runs every test twice (plain, and
# under AddressSanitizer + UndefinedBehaviorSanitizer); builds the threaded
# tests (the store, the batcher and service, the server: TSAN_TESTS below)
# under ThreadSanitizer and runs them, any report failing them; runs gcc
# -fanalyzer, any warning failing that step, over the parts that read
# outside input (src/core, src/tokenizer, src/model, src/embed, src/service,
# src/store, src/server; not src/kernels, src/engine or src/cli: the analyzer takes
# many minutes on the SIMD kernels); then runs each libFuzzer target for a
# bounded time (among them fuzz_websocket_frame, the WebSocket frame reader,
# fuzz_redis_url, the --cache-redis URL parser, and fuzz_cache_file, the
# --cache-file reader). Ends with one line
# "N passed, N failed" and exits non-zero if anything failed. CI (.ci/run)
# runs exactly this.
#
# Environment: MNEMO_FUZZ_SECONDS (default 45) per fuzz target (ten of
# them: the whole run stays under an hour on 2 cores); JOBS (nproc).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${MNEMO_FUZZ_SECONDS:-45}
passed=0
failed=0
say() { echo "== test.sh: $*"; }

bash scripts/install-deps.sh --test || { echo "0 passed, 1 failed"; exit 1; }

# The real model (1.2 GB, ~90 s the first time; verified by checksums) for the
# conformance tests, and its tokenizer.json for the tokenizer tests.
say "getting the model"
MODEL=$(bash scripts/get-model.sh) || { echo "0 passed, 1 failed"; exit 1; }
say "converting the model to GGUF with llama.cpp's converter (for the GGUF tests)"
GGUF_DIR=$(bash scripts/make-gguf.sh "$MODEL") || { echo "0 passed, 1 failed"; exit 1; }
TOKENIZER=$MODEL/tokenizer.json

# build_and_test DIR CMAKE_ARGS... : configure, build, ctest; adds to the counts.
build_and_test() {
  local dir=$1; shift
  say "build $dir ($*)"
  if ! cmake -S . -B "$dir" -DMNEMO_TEST_TOKENIZER="$TOKENIZER" "$@" >"$dir.configure.log" 2>&1 ||
     ! cmake --build "$dir" -j"$JOBS" >"$dir.build.log" 2>&1; then
    tail -50 "$dir.configure.log" "$dir.build.log" 2>/dev/null
    say "build of $dir FAILED"
    failed=$((failed + 1))
    return
  fi
  say "ctest in $dir"
  ctest --test-dir "$dir" --output-on-failure -j1 2>&1 | tee "$dir.ctest.log"
  count_ctest "$dir.ctest.log"
}

# count_ctest LOG : adds ctest's "N tests failed out of M" to the counts.
count_ctest() {
  local line total nfail
  line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$1" | tail -1)
  if [ -z "$line" ]; then failed=$((failed + 1)); return; fi
  nfail=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
  total=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/')
  passed=$((passed + total - nfail))
  failed=$((failed + nfail))
}

# The plain build also runs the real model against sentence-transformers'
# goldens; the sanitized build uses the tiny random model (too slow otherwise).
build_and_test build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMNEMO_TEST_MODEL="$MODEL" \
  -DMNEMO_TEST_SAFETENSORS="$MODEL/model.safetensors" -DMNEMO_TEST_GGUF_DIR="$GGUF_DIR"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  build_and_test build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMNEMO_SANITIZE=ON \
  -DMNEMO_TEST_SAFETENSORS="$MODEL/model.safetensors" -DMNEMO_TEST_GGUF_DIR="$GGUF_DIR"

# ThreadSanitizer: only the targets of the tests with threads (the store's
# writer, sweeper and graph builder; the batcher's worker; the server's
# connection threads), at -O1. A report goes to build-tsan/tsan.PID and stops
# that process (halt_on_error), so a race fails its test even when a script
# only checks HTTP answers; any report file also counts as one failure.
TSAN_TESTS='^(embed_service|store|store_index|serve_tiny|serve_memory_tiny|serve_cache_file_tiny|serve_cache_store_tiny)$'
say "build build-tsan (ThreadSanitizer)"
if cmake -S . -B build-tsan -DMNEMO_TEST_TOKENIZER="$TOKENIZER" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
     -DMNEMO_TSAN=ON >build-tsan.configure.log 2>&1 &&
   cmake --build build-tsan -j"$JOBS" --target mnemo test_embed_service test_store test_store_index \
     >build-tsan.build.log 2>&1; then
  say "ctest in build-tsan ($TSAN_TESTS)"
  rm -f build-tsan/tsan.*
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 log_path=$ROOT/build-tsan/tsan" \
    ctest --test-dir build-tsan -R "$TSAN_TESTS" --output-on-failure -j1 2>&1 | tee build-tsan.ctest.log
  count_ctest build-tsan.ctest.log
  if compgen -G "build-tsan/tsan.*" >/dev/null; then
    cat build-tsan/tsan.*
    say "ThreadSanitizer reported (build-tsan/tsan.*)"
    failed=$((failed + 1))
  fi
else
  tail -50 build-tsan.configure.log build-tsan.build.log 2>/dev/null
  say "build of build-tsan FAILED"
  failed=$((failed + 1))
fi

# Static analysis: gcc -fanalyzer compiles those sources (nothing is linked
# or run; warnings are errors); one pass, or one failure, for all of it.
say "gcc -fanalyzer (build-analyzer)"
if cmake -S . -B build-analyzer -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug -DMNEMO_TESTS=OFF \
     -DMNEMO_ANALYZER=ON >build-analyzer.configure.log 2>&1 &&
   cmake --build build-analyzer -j"$JOBS" --target mnemo_analyze >build-analyzer.build.log 2>&1 &&
   ! grep -q "warning:" build-analyzer.build.log; then
  passed=$((passed + 1))
else
  grep -E -A12 "(warning|error):" build-analyzer.configure.log build-analyzer.build.log | head -200
  say "gcc -fanalyzer FAILED (build-analyzer.build.log)"
  failed=$((failed + 1))
fi

# Fuzzers: each runs for FUZZ_SECONDS on a copy of its seed corpus.
say "build fuzzers (clang, libFuzzer)"
if cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DMNEMO_FUZZ=ON -DMNEMO_TESTS=OFF \
     >build-fuzz.configure.log 2>&1 && cmake --build build-fuzz -j"$JOBS" >build-fuzz.build.log 2>&1; then
  run_fuzz() { # name corpus-folder extra-args...
    local name=$1 seeds=$2; shift 2
    local work; work=$(mktemp -d)
    cp -r "$seeds"/. "$work"/
    say "fuzz $name for ${FUZZ_SECONDS}s"
    if MNEMO_CACHE_DIR=$ROOT/build-fuzz/cache MNEMO_FUZZ_TOKENIZER=$TOKENIZER \
       MNEMO_FUZZ_MODEL=$ROOT/tests/fixtures/engine/tiny/model-f32 \
       "build-fuzz/fuzz/$name" -max_total_time="$FUZZ_SECONDS" -timeout=20 -rss_limit_mb=4096 \
       -artifact_prefix="build-fuzz/$name-" "$@" "$work" >"build-fuzz/$name.log" 2>&1; then
      tail -1 "build-fuzz/$name.log"
      passed=$((passed + 1))
    else
      tail -40 "build-fuzz/$name.log"
      say "fuzz $name FAILED (artifacts in build-fuzz/)"
      failed=$((failed + 1))
    fi
    rm -rf "$work"
  }
  run_fuzz fuzz_tokenizer_load fuzz/corpus/tokenizer_json -dict=fuzz/tokenizer_json.dict -max_len=4096
  run_fuzz fuzz_tokenizer_encode fuzz/corpus/encode -max_len=2048
  run_fuzz fuzz_safetensors fuzz/corpus/safetensors -dict=fuzz/safetensors.dict -max_len=4096
  run_fuzz fuzz_gguf fuzz/corpus/gguf -dict=fuzz/gguf.dict -max_len=4096
  run_fuzz fuzz_serve_request fuzz/corpus/serve -max_len=4096
  run_fuzz fuzz_store_filter fuzz/corpus/filter -max_len=2048
  run_fuzz fuzz_graph_file fuzz/corpus/graph -max_len=4096
  run_fuzz fuzz_websocket_frame fuzz/corpus/websocket -max_len=4096
  run_fuzz fuzz_redis_url fuzz/corpus/redis_url -max_len=512
  run_fuzz fuzz_cache_file fuzz/corpus/cache_file -max_len=4096
else
  tail -30 build-fuzz.build.log
  say "fuzz build FAILED"
  failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

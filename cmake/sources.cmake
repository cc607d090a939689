# The library's source lists, shared by the top CMakeLists.txt (libmnemo, the
# executable, the tests) and python/CMakeLists.txt (the Python extension,
# which builds the embedding engine only). Paths are relative to the
# repository root; a user outside it prefixes them (list(TRANSFORM ... PREPEND)).
#
# The engine: core, tokenizer, model, kernels, engine and the embedding API.
# It needs jansson, pthreads and libm and nothing else.
set(MNEMO_ENGINE_SOURCES
  src/core/status.c src/core/log.c src/core/alloc.c src/core/hash.c src/core/utf8.c
  src/core/file.c src/core/jsonw.c src/core/encode.c
  src/tokenizer/tokenizer.c src/tokenizer/tokenizer_json.c src/tokenizer/tokenizer_image.c
  src/tokenizer/tokenizer_encode.c src/tokenizer/tokenizer_decode.c
  src/model/safetensors.c src/model/gguf.c src/model/gguf_meta.c src/model/gguf_quant.c
  src/core/threadpool.c
  src/kernels/ref.c src/kernels/portable.c src/kernels/x86/avx2.c src/kernels/x86/avx_vnni.c src/kernels/x86/avx512.c src/kernels/x86/avx512_vnni.c src/kernels/x86/avx512_bf16.c src/kernels/x86/peak.c src/kernels/x86/avx512_vpopcnt.c src/kernels/dispatch.c
  src/kernels/ops.c src/kernels/pack.c
  src/model/model_config.c src/model/model_config_gguf.c src/engine/engine_load.c src/engine/engine_forward.c src/engine/engine_cache.c
  src/embed/embed.c)
# The memory store: SQLite and libpq on top of the engine. The core (the
# flows both backends share, the JSON and MCP layers), the vector index on
# its own, then one folder per backend (docs/store.md).
set(MNEMO_STORE_SOURCES
  src/store/store.c src/store/store_read.c src/store/store_write.c src/store/filter.c src/store/store_json.c src/store/store_mcp.c
  src/store/transfer.c
  src/store/index/index.c src/store/index/hnsw.c src/store/index/graph_file.c src/store/index/nearest.c
  src/store/sqlite/open.c src/store/sqlite/read.c src/store/sqlite/write.c src/store/sqlite/backup.c
  src/store/postgres/pg.c src/store/postgres/pg_filter.c src/store/postgres/pg_migrate.c)

# mnemo_kernel_flags(PREFIX): only the ISA files get -m flags (the code must
# run on any x86-64); dispatch.c picks a table at run time. PREFIX is what
# stands before "src/" in the caller's paths ("" at the root). Source file
# properties belong to the directory that calls this, so each CMakeLists.txt
# that compiles the kernels calls it.
function(mnemo_kernel_flags prefix)
  set_source_files_properties(${prefix}src/kernels/x86/avx2.c PROPERTIES
    COMPILE_OPTIONS "-mavx2;-mfma;-mpopcnt;-ffp-contract=fast")
  set_source_files_properties(${prefix}src/kernels/x86/avx_vnni.c PROPERTIES
    COMPILE_OPTIONS "-mavx2;-mfma;-mavxvnni")
  set_source_files_properties(${prefix}src/kernels/x86/avx512.c PROPERTIES
    COMPILE_OPTIONS "-mavx512f;-mavx512bw;-mavx512vl;-mavx2;-mfma;-ffp-contract=fast")
  set_source_files_properties(${prefix}src/kernels/x86/avx512_vnni.c PROPERTIES
    COMPILE_OPTIONS "-mavx512f;-mavx512bw;-mavx512vl;-mavx512vnni;-mavx2;-mfma")
  set_source_files_properties(${prefix}src/kernels/x86/avx512_bf16.c PROPERTIES
    COMPILE_OPTIONS "-mavx512f;-mavx512bw;-mavx512vl;-mavx512bf16;-mavx2;-mfma")
  set_source_files_properties(${prefix}src/kernels/x86/avx512_vpopcnt.c PROPERTIES
    COMPILE_OPTIONS "-mavx512f;-mavx512vpopcntdq;-mpopcnt")
  # The peak loops: AVX2 for the whole file, the AVX-512 loops add theirs by
  # target attribute (x86/peak.c says why).
  set_source_files_properties(${prefix}src/kernels/x86/peak.c PROPERTIES
    COMPILE_OPTIONS "-mavx2;-mfma")
endfunction()

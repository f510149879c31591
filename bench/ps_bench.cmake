# parameter_server/ benchmarks.
add_executable(ps_store_bench ${CMAKE_CURRENT_SOURCE_DIR}/ps_store_bench.cc)
target_link_libraries(ps_store_bench PRIVATE msrec_ps)
# The acceptance benchmark of issue 6 (in-process, remote over MPI, uncached vs
# raw RocksDB, scale); run under mpirun -np 2 or 3 (one worker, the rest serve).
add_executable(ps_remote_bench
  ${CMAKE_CURRENT_SOURCE_DIR}/ps_remote_bench.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/ps_remote_bench_local.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/ps_remote_bench_util.cc)
target_link_libraries(ps_remote_bench PRIVATE msrec_ps)
# The best hit rate any row-cache policy could reach on ps_remote_bench's
# scale batches, beside CLOCK's (a model of the cache alone; no MPI run).
add_executable(zipf_cache_bound
  ${CMAKE_CURRENT_SOURCE_DIR}/zipf_cache_bound.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/ps_remote_bench_util.cc)
target_link_libraries(zipf_cache_bound PRIVATE msrec_ps)

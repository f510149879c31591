# parameter_server/ benchmarks.
add_executable(ps_store_bench ${CMAKE_CURRENT_SOURCE_DIR}/ps_store_bench.cc)
target_link_libraries(ps_store_bench PRIVATE msrec_ps)

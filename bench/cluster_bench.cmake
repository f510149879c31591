# cluster/ benchmarks. Run under mpirun, e.g.
#   mpirun --allow-run-as-root --oversubscribe -np 2 build/bench/allreduce_bench
add_executable(allreduce_bench ${CMAKE_CURRENT_SOURCE_DIR}/allreduce_bench.cc)
target_link_libraries(allreduce_bench PRIVATE msrec_cluster)

# Checkpoint cost of a large table (issue 8); bench/fault_resume.sh runs it.
add_executable(checkpoint_bench ${CMAKE_CURRENT_SOURCE_DIR}/checkpoint_bench.cc)
target_link_libraries(checkpoint_bench PRIVATE msrec_trainer)

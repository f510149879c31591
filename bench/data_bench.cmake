# Benchmarks of trainer/data.
add_executable(data_reader_bench ${CMAKE_CURRENT_SOURCE_DIR}/data_reader_bench.cc)
target_link_libraries(data_reader_bench PRIVATE msrec_data)

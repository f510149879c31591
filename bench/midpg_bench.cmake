# MI-DPG step time vs DNN, MT-Backbone and the materialised reference.
add_executable(midpg_bench ${CMAKE_CURRENT_SOURCE_DIR}/midpg_bench.cc)
target_link_libraries(midpg_bench PRIVATE msrec_models)
target_precompile_headers(midpg_bench REUSE_FROM msrec_models)

# Per-step time of every registered model beside the DNN's (issue 3 acceptance).
add_executable(model_step_bench ${CMAKE_CURRENT_SOURCE_DIR}/model_step_bench.cc)
target_link_libraries(model_step_bench PRIVATE msrec_models)
target_precompile_headers(model_step_bench REUSE_FROM msrec_models)

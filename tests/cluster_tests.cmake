# cluster/: communicators and bucketed all-reduce.
# Threads with the in-process backend (unit).
msrec_add_test(NAME cluster_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/cluster_test.cc
  LIBS msrec_cluster LABELS unit TIMEOUT 120)

# Real processes under mpirun (mpi). These have their own main (MpiEnv::Init
# before the tests), so they do not use msrec_add_test.
set(MSREC_MPIRUN mpirun --allow-run-as-root --oversubscribe)
add_executable(cluster_mpi_test ${CMAKE_CURRENT_SOURCE_DIR}/cluster_mpi_test.cc)
target_link_libraries(cluster_mpi_test PRIVATE msrec_cluster GTest::gtest glog::glog)
add_test(NAME cluster_mpi_test COMMAND ${MSREC_MPIRUN} -np 3 $<TARGET_FILE:cluster_mpi_test>)
set_tests_properties(cluster_mpi_test PROPERTIES LABELS mpi TIMEOUT 120)

# A rank that skips a collective: the others must get Timeout, and all exit.
add_executable(cluster_mpi_timeout_test ${CMAKE_CURRENT_SOURCE_DIR}/cluster_mpi_timeout_test.cc)
target_link_libraries(cluster_mpi_timeout_test PRIVATE msrec_cluster glog::glog)
add_test(NAME cluster_mpi_timeout_test
  COMMAND ${MSREC_MPIRUN} -np 3 $<TARGET_FILE:cluster_mpi_timeout_test>)
set_tests_properties(cluster_mpi_timeout_test PROPERTIES LABELS mpi TIMEOUT 120
  PASS_REGULAR_EXPRESSION "cluster_mpi_timeout_test: PASS"
  FAIL_REGULAR_EXPRESSION "cluster_mpi_timeout_test: FAIL")

# The NCCL communicator on GPUs (MSREC_WITH_CUDA builds; skips without enough GPUs).
if(MSREC_WITH_CUDA)
  add_executable(nccl_test ${CMAKE_CURRENT_SOURCE_DIR}/nccl_test.cc)
  target_link_libraries(nccl_test PRIVATE msrec_cluster GTest::gtest glog::glog)
  add_test(NAME nccl_test COMMAND ${MSREC_MPIRUN} -np 1 $<TARGET_FILE:nccl_test>)
  set_tests_properties(nccl_test PROPERTIES LABELS gpu TIMEOUT 120)
  add_test(NAME nccl_test_2 COMMAND ${MSREC_MPIRUN} -np 2 $<TARGET_FILE:nccl_test>)
  set_tests_properties(nccl_test_2 PROPERTIES LABELS gpu TIMEOUT 120)
endif()

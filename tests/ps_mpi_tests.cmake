# The parameter server over real MPI processes (label mpi): 2 workers + 2
# servers. The binary has its own main (servers serve, workers run the tests).
set(MSREC_PS_MPIRUN mpirun --allow-run-as-root --oversubscribe -np 4)
add_executable(ps_mpi_test ${CMAKE_CURRENT_SOURCE_DIR}/ps_mpi_test.cc)
target_link_libraries(ps_mpi_test PRIVATE msrec_ps GTest::gtest glog::glog)
target_include_directories(ps_mpi_test PRIVATE ${PROJECT_SOURCE_DIR})
add_test(NAME ps_mpi_sync_test COMMAND ${MSREC_PS_MPIRUN} $<TARGET_FILE:ps_mpi_test>)
add_test(NAME ps_mpi_async_test COMMAND ${MSREC_PS_MPIRUN} $<TARGET_FILE:ps_mpi_test> --async)
set_tests_properties(ps_mpi_sync_test ps_mpi_async_test PROPERTIES LABELS mpi TIMEOUT 180)

# A server killed by SIGKILL: the job ends with an error naming the rank.
msrec_add_test(NAME ps_fault_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ps_fault_test.cc
  LIBS msrec_common LABELS mpi TIMEOUT 300)
target_compile_definitions(ps_fault_test PRIVATE
  MSREC_PS_MPI_TEST_BINARY="$<TARGET_FILE:ps_mpi_test>")
add_dependencies(ps_fault_test ps_mpi_test)

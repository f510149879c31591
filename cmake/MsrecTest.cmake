# msrec_add_test(NAME name SOURCES a.cc ... LIBS lib ... LABELS unit|mpi|e2e|gpu [TIMEOUT s])
# Builds one GoogleTest executable and registers it with CTest under the given labels.
function(msrec_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES} ${PROJECT_SOURCE_DIR}/tests/test_main.cc)
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest glog::glog)
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "MSREC_SHARED_DATA=${PROJECT_SOURCE_DIR}/../shared/data")
endfunction()

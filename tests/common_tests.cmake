msrec_add_test(NAME common_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/common_test.cc LIBS msrec_common LABELS unit)

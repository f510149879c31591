# parameter_server/ suites (label unit).
msrec_add_test(NAME ps_optimizer_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ps_optimizer_test.cc LIBS msrec_ps LABELS unit)
msrec_add_test(NAME ps_row_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ps_row_test.cc LIBS msrec_ps LABELS unit)
msrec_add_test(NAME ps_store_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ps_store_test.cc LIBS msrec_ps LABELS unit)
msrec_add_test(NAME ps_table_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ps_table_test.cc LIBS msrec_ps LABELS unit)
msrec_add_test(NAME ps_cache_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ps_cache_test.cc LIBS msrec_ps LABELS unit)
msrec_add_test(NAME ps_inprocess_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ps_inprocess_test.cc LIBS msrec_ps LABELS unit)

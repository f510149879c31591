# Suites of trainer/data (label unit). MSREC_SHARED_DATA is set by msrec_add_test.
msrec_add_test(NAME data_schema_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/data_schema_test.cc
  LIBS msrec_data LABELS unit)
msrec_add_test(NAME data_reader_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/data_reader_test.cc
  LIBS msrec_data LABELS unit)
msrec_add_test(NAME data_shard_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/data_shard_test.cc
  LIBS msrec_data LABELS unit)
msrec_add_test(NAME data_generator_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/data_generator_test.cc
  LIBS msrec_data LABELS unit)
msrec_add_test(NAME data_movielens_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/data_movielens_test.cc
  LIBS msrec_data LABELS unit)

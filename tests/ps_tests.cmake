# parameter_server/ suites (label unit).
msrec_add_test(NAME ps_optimizer_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ps_optimizer_test.cc LIBS msrec_ps LABELS unit)
msrec_add_test(NAME ps_row_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ps_row_test.cc LIBS msrec_ps LABELS unit)
msrec_add_test(NAME ps_store_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ps_store_test.cc LIBS msrec_ps LABELS unit)
msrec_add_test(NAME ps_table_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ps_table_test.cc LIBS msrec_ps LABELS unit)
msrec_add_test(NAME ps_cache_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ps_cache_test.cc LIBS msrec_ps LABELS unit)
msrec_add_test(NAME ps_inprocess_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ps_inprocess_test.cc LIBS msrec_ps LABELS unit)

# wire_fuzz_test: the wire format's decoders and a live in-process server under
# AddressSanitizer + UndefinedBehaviorSanitizer (issue 17). It compiles the
# sources of msrec_common, msrec_cluster and msrec_ps again with the
# sanitizers (the NCCL backend left out), so the rest of the build is untouched.
option(MSREC_WIRE_FUZZ "Build the sanitized wire-format fuzz test" ON)
if(MSREC_WIRE_FUZZ)
  find_package(MPI REQUIRED COMPONENTS CXX)
  set(_fuzz_sources)
  foreach(_lib msrec_common msrec_cluster msrec_ps)
    get_target_property(_dir ${_lib} SOURCE_DIR)
    get_target_property(_srcs ${_lib} SOURCES)
    foreach(_src ${_srcs})
      if(_src MATCHES "\\.cc$" AND NOT _src MATCHES "nccl_communicator")
        if(NOT IS_ABSOLUTE ${_src})
          set(_src ${_dir}/${_src})
        endif()
        list(APPEND _fuzz_sources ${_src})
      endif()
    endforeach()
  endforeach()
  set(_sanitize -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  msrec_add_test(NAME wire_fuzz_test TIMEOUT 600
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/wire_fuzz_test.cc ${_fuzz_sources}
    LIBS msrec_rocksdb MPI::MPI_CXX Threads::Threads LABELS unit)
  target_compile_options(wire_fuzz_test PRIVATE ${_sanitize} -O1)
  target_link_options(wire_fuzz_test PRIVATE ${_sanitize})
  set_property(TEST wire_fuzz_test APPEND PROPERTY ENVIRONMENT
    "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()

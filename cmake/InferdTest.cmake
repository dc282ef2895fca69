# inferd_add_unit_test(NAME SOURCES a.c b.c LIBS lib... [LABELS l...] [TIMEOUT s])
# A cmocka test executable registered with ctest. Labels used by `make test`:
#   tsan  - also run in the ThreadSanitizer build (lock-free / multi-threaded code)
#   slow  - skipped in the sanitizer builds
function(inferd_add_unit_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "unit;${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()

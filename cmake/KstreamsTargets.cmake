# Helpers shared by every module: warnings, sanitizers and the test registration function.

add_library(kstreams_build_flags INTERFACE)
target_compile_options(kstreams_build_flags INTERFACE -Wall -Wextra -Werror -Wno-missing-field-initializers)
if(KSTREAMS_SANITIZE)
  target_compile_options(kstreams_build_flags INTERFACE -fsanitize=${KSTREAMS_SANITIZE} -fno-omit-frame-pointer)
  target_link_options(kstreams_build_flags INTERFACE -fsanitize=${KSTREAMS_SANITIZE})
  # Undefined behaviour stops the program (the sanitizer's default is to print and go on, which a
  # test or a fuzzer would not notice).
  if(KSTREAMS_SANITIZE MATCHES "undefined")
    target_compile_options(kstreams_build_flags INTERFACE -fno-sanitize-recover=undefined)
  endif()
endif()
if(KSTREAMS_FAULT_POINTS)
  target_compile_definitions(kstreams_build_flags INTERFACE KSTREAMS_FAULT_POINTS=1)
endif()

# kstreams_module(NAME <name> SOURCES ... PUBLIC_DEPS ... PRIVATE_DEPS ...)
# Creates kstreams_<name> with alias kstreams::<name>; public headers in <name>/include.
function(kstreams_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(kstreams_${M_NAME} ${M_SOURCES})
  add_library(kstreams::${M_NAME} ALIAS kstreams_${M_NAME})
  target_include_directories(kstreams_${M_NAME} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                                PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(kstreams_${M_NAME} PUBLIC ${M_PUBLIC_DEPS} PRIVATE ${M_PRIVATE_DEPS} kstreams_build_flags)
endfunction()

# kstreams_test(NAME <name> LABEL unit|topology|integration|bench SOURCES ... DEPS ...
#               [BROKER] [SERIAL] [TIMEOUT s])
# One gtest executable; each TEST becomes a CTest test carrying the label. BROKER tests require the
# `kafka` fixture (tests/CMakeLists.txt starts and stops the broker). SERIAL tests never run in
# parallel with other SERIAL tests.
function(kstreams_test)
  cmake_parse_arguments(T "BROKER;SERIAL;NO_DISCOVER" "NAME;LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT T_SOURCES)
    return()  # a tier folder without tests yet
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gtest GTest::gmock GTest::gtest_main kstreams_build_flags)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set(props LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT})
  if(T_BROKER)
    list(APPEND props FIXTURES_REQUIRED kafka ENVIRONMENT "KSTREAMS_BOOTSTRAP=127.0.0.1:19092")
  endif()
  if(T_SERIAL)
    list(APPEND props RESOURCE_LOCK serial_broker)
  endif()
  if(T_LABEL STREQUAL "unit" OR T_LABEL STREQUAL "topology")
    set_property(GLOBAL APPEND PROPERTY KSTREAMS_UNIT_TOPOLOGY_TESTS ${T_NAME})
  endif()
  include(GoogleTest)
  gtest_discover_tests(${T_NAME} PROPERTIES ${props} DISCOVERY_TIMEOUT 60)
endfunction()

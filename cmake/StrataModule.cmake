# strata_module(NAME <lib> DIRS <dir...> [DEPS <targets...>])
#   A static library made of every .cpp in the given directories (not recursive), so that
#   adding a file to a module needs no CMake edit. Headers are included as "module/file.h"
#   from the source root.
function(strata_module)
  cmake_parse_arguments(M "" "NAME" "DIRS;DEPS" ${ARGN})
  set(srcs)
  foreach(d ${M_DIRS})
    file(GLOB s CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${d}/*.cpp)
    list(FILTER s EXCLUDE REGEX ".*_avx2\\.cpp$|.*_avx512\\.cpp$|.*_amx\\.cpp$")
    list(APPEND srcs ${s})
    file(GLOB avx2 CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${d}/*_avx2.cpp)
    set_source_files_properties(${avx2} PROPERTIES COMPILE_OPTIONS "${STRATA_AVX2_FLAGS}")
    file(GLOB avx512 CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${d}/*_avx512.cpp ${CMAKE_SOURCE_DIR}/${d}/*_amx.cpp)
    set_source_files_properties(${avx512} PROPERTIES COMPILE_OPTIONS "${STRATA_AVX512_FLAGS}")
    list(APPEND srcs ${avx2} ${avx512})
  endforeach()
  if(NOT srcs)
    # A layer with headers only so far.
    add_library(${M_NAME} INTERFACE)
    target_include_directories(${M_NAME} INTERFACE ${CMAKE_SOURCE_DIR})
    target_link_libraries(${M_NAME} INTERFACE ${M_DEPS})
    return()
  endif()
  add_library(${M_NAME} STATIC ${srcs})
  target_include_directories(${M_NAME} PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(${M_NAME} PUBLIC ${M_DEPS} PRIVATE strata_warnings)
endfunction()

# strata_tests(NAME <exe> DIR <tests/subdir> DEPS <targets...>)
#   One GoogleTest executable per module from every .cpp in DIR; tests are registered with
#   CTest and can find ../shared through STRATA_SHARED_DIR and the source tree through
#   STRATA_SOURCE_DIR.
function(strata_tests)
  cmake_parse_arguments(T "" "NAME;DIR" "DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${T_DIR}/*.cpp)
  if(NOT srcs)
    return()
  endif()
  add_executable(${T_NAME} ${srcs})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main strata_warnings)
  target_compile_definitions(${T_NAME} PRIVATE
    STRATA_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    STRATA_SHARED_DIR="${CMAKE_SOURCE_DIR}/../shared")
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600)
endfunction()

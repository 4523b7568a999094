# Build options and the warning / sanitizer policy shared by every target.
option(STRATA_BUILD_TESTS "Build the GoogleTest suites" ON)
option(STRATA_BUILD_BENCH "Build the benchmarks under bench/" ON)
option(STRATA_SANITIZE "Build with AddressSanitizer + UndefinedBehaviorSanitizer" OFF)
option(STRATA_FUZZ "Build libFuzzer targets (needs clang)" OFF)
option(STRATA_WERROR "Treat warnings as errors" ON)

add_library(strata_warnings INTERFACE)
target_compile_options(strata_warnings INTERFACE -Wall -Wextra -Wno-missing-field-initializers)
if(STRATA_WERROR)
  target_compile_options(strata_warnings INTERFACE -Werror)
endif()

if(STRATA_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(STRATA_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

set(CMAKE_CXX_FLAGS_RELEASE "-O2 -DNDEBUG")
set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O2 -g -DNDEBUG")

# Per-ISA kernel sources get their own flags; everything else targets baseline x86-64
# so that runtime dispatch decides what runs.
set(STRATA_AVX2_FLAGS -mavx2 -mfma -mf16c -mbmi2)
set(STRATA_AVX512_FLAGS -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16 -mfma -mf16c)

# Small wrappers so every target gets the same warnings, standard and sanitizer flags.

function(qcw_apply_common target)
  target_compile_features(${target} PUBLIC cxx_std_17)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
    if(QCW_WERROR OR QCW_FATAL_WARNINGS)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
    if(QCW_SANITIZE_ADDRESS)
      target_compile_options(${target} PRIVATE -fsanitize=address -fno-omit-frame-pointer)
      target_link_options(${target} PRIVATE -fsanitize=address)
    endif()
    # QCW_SANITIZE: "address,undefined" or "thread" (qcw.sh sanitize builds build-asan and
    # build-tsan with them); every finding stops the test (no recovery).
    if(QCW_SANITIZE)
      target_compile_options(${target} PRIVATE -fsanitize=${QCW_SANITIZE} -fno-sanitize-recover=all
                                               -fno-omit-frame-pointer)
      target_link_options(${target} PRIVATE -fsanitize=${QCW_SANITIZE})
    endif()
  endif()
endfunction()

# qcw_add_library(name SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...] [TORCH])
# TORCH: the library uses LibTorch and reuses the precompiled ATen header.
function(qcw_add_library name)
  cmake_parse_arguments(ARG "TORCH" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  qcw_apply_common(${name})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/core)
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  if(ARG_TORCH)
    target_link_libraries(${name} PRIVATE qcw_torch_pch)
    target_precompile_headers(${name} REUSE_FROM qcw_torch_pch)
  endif()
endfunction()

# qcw_add_test(name SOURCES ... [DEPS ...] [LABELS ...] [TIMEOUT s])
# Every test is a Qt Test executable registered with CTest; tests find their data
# through QCW_TEST_DATA and the built programs through QCW_BIN_DIR.
function(qcw_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  qcw_apply_common(${name})
  target_link_libraries(${name} PRIVATE Qt6::Test ${ARG_DEPS})
  target_compile_definitions(${name} PRIVATE
    QCW_TEST_DATA="${PROJECT_SOURCE_DIR}/tests/data"
    QCW_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    QCW_BIN_DIR="${PROJECT_BINARY_DIR}/bin")
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "QT_QPA_PLATFORM=offscreen;OMP_NUM_THREADS=2")
endfunction()

# Configures warmpool as a package manager does (tests and examples off), then installs
# it into PREFIX with `cmake --install --prefix` and checks the installed files.
#
# cmake -DSOURCE_DIR=<checkout> -DBUILD_DIR=<dir> -DPREFIX=<dir> -DGENERATOR=<gen>
#       [-DMAKE_PROGRAM=<path>] -DCXX_COMPILER=<path> -DCONFIG=<build type> -P install.cmake
cmake_minimum_required(VERSION 3.20)

foreach(_var SOURCE_DIR BUILD_DIR PREFIX GENERATOR CXX_COMPILER CONFIG)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "install.cmake: -D${_var}=... is required")
  endif()
endforeach()

file(REMOVE_RECURSE "${BUILD_DIR}" "${PREFIX}")
set(_make_program)
if(MAKE_PROGRAM)
  set(_make_program "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()

# CMAKE_INSTALL_PREFIX differs from PREFIX on purpose: the installed files must not
# depend on the prefix known at configure time.
execute_process(
  COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BUILD_DIR}" -G "${GENERATOR}"
          ${_make_program}
          "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
          "-DCMAKE_BUILD_TYPE=${CONFIG}"
          "-DCMAKE_INSTALL_PREFIX=${BUILD_DIR}/configure-time-prefix"
          -DWARMPOOL_BUILD_TESTS=OFF
          -DWARMPOOL_BUILD_EXAMPLES=OFF
          -DWARMPOOL_INSTALL=ON
  COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --config "${CONFIG}"
                COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --config "${CONFIG}"
                        --prefix "${PREFIX}"
                COMMAND_ERROR_IS_FATAL ANY)

# The layout users and package managers rely on (the library directory may be lib64 or
# lib/<multiarch>, so the .pc file is looked up by name).
foreach(_file
    include/warmpool/warmpool.hpp
    include/warmpool/version.hpp
    share/cmake/warmpool/warmpoolConfig.cmake
    share/cmake/warmpool/warmpoolConfigVersion.cmake
    share/cmake/warmpool/warmpoolTargets.cmake)
  if(NOT EXISTS "${PREFIX}/${_file}")
    message(FATAL_ERROR "install.cmake: ${PREFIX}/${_file} was not installed")
  endif()
endforeach()
file(GLOB_RECURSE _pc_files "${PREFIX}/*/warmpool.pc")
if(NOT _pc_files)
  message(FATAL_ERROR "install.cmake: no warmpool.pc under ${PREFIX}")
endif()
if(EXISTS "${BUILD_DIR}/configure-time-prefix")
  message(FATAL_ERROR "install.cmake: something was installed into the configure-time prefix")
endif()
message(STATUS "warmpool installed into ${PREFIX}")

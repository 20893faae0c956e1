# Builds and runs main.cpp with nothing but the compiler and `pkg-config --cflags --libs
# warmpool`, against the warmpool installed in PREFIX.
#
# cmake -DPKG_CONFIG=<path> -DPREFIX=<dir> -DCXX_COMPILER=<path> -DSOURCE=<main.cpp>
#       -DOUTPUT=<executable> -DEXPECTED_VERSION=<x.y.z> -P pkgconfig.cmake
cmake_minimum_required(VERSION 3.20)

file(GLOB_RECURSE _pc_files "${PREFIX}/*/warmpool.pc")
list(LENGTH _pc_files _count)
if(NOT _count EQUAL 1)
  message(FATAL_ERROR "pkgconfig.cmake: expected one warmpool.pc under ${PREFIX}: ${_pc_files}")
endif()
get_filename_component(_pc_dir "${_pc_files}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${_pc_dir}")

function(pkg_config out)
  execute_process(COMMAND "${PKG_CONFIG}" ${ARGN} warmpool
                  OUTPUT_VARIABLE _out OUTPUT_STRIP_TRAILING_WHITESPACE
                  COMMAND_ERROR_IS_FATAL ANY)
  message(STATUS "pkg-config ${ARGN} warmpool: ${_out}")
  set(${out} "${_out}" PARENT_SCOPE)
endfunction()

pkg_config(_version --modversion)
if(NOT _version STREQUAL EXPECTED_VERSION)
  message(FATAL_ERROR "pkgconfig.cmake: warmpool.pc says ${_version}, expected ${EXPECTED_VERSION}")
endif()
pkg_config(_cflags --cflags)
pkg_config(_libs --libs)
separate_arguments(_cflags UNIX_COMMAND "${_cflags}")
separate_arguments(_libs UNIX_COMMAND "${_libs}")

execute_process(
  COMMAND "${CXX_COMPILER}" -std=c++20 ${_cflags} "${SOURCE}" -o "${OUTPUT}" ${_libs}
  COMMAND_ECHO STDOUT
  COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND "${OUTPUT}" COMMAND_ERROR_IS_FATAL ANY)

# vcpkg port of warmpool, a header-only library: nothing is compiled, so only the
# release configuration is installed.
set(VCPKG_BUILD_TYPE release)

# Filled in at release time: REPO is the public repository, REF the release tag, and
# SHA512 the hash vcpkg prints for that tag's archive (`vcpkg install` with SHA512 0
# fails and shows the actual value).
vcpkg_from_github(
    OUT_SOURCE_PATH SOURCE_PATH
    REPO warmpool/warmpool
    REF "v${VERSION}"
    SHA512 0
    HEAD_REF main
)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DWARMPOOL_BUILD_TESTS=OFF
        -DWARMPOOL_BUILD_EXAMPLES=OFF
        -DWARMPOOL_BUILD_BENCHMARKS=OFF
        -DWARMPOOL_INSTALL=ON
)
vcpkg_cmake_install()

# warmpool installs its CMake package in share/cmake/warmpool; vcpkg wants share/warmpool.
vcpkg_cmake_config_fixup(CONFIG_PATH share/cmake/warmpool)
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug")

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")

"""Conan 2 recipe for warmpool, a header-only C++20 library.

From a checkout: `conan create .` builds and runs test_package/ against the package.
"""
import os
import re

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout

required_conan_version = ">=2.0"


class WarmpoolConan(ConanFile):
    name = "warmpool"
    description = (
        "Serverless-style warm worker pools for C++20: workers booted on demand, made warm "
        "by enter hooks, evicted after an idle timeout, with a runtime-adjustable keep_warm floor."
    )
    license = "MIT"
    # Placeholder until the public repository exists (same as ports/warmpool/portfile.cmake).
    url = "https://github.com/warmpool/warmpool"
    homepage = "https://github.com/warmpool/warmpool"
    topics = ("thread-pool", "worker-pool", "autoscaling", "serverless", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    exports_sources = "include/*", "LICENSE"
    no_copy_source = True

    def set_version(self):
        # One source of truth: project(warmpool VERSION x.y.z) in CMakeLists.txt.
        if self.version:
            return
        cmakelists = load(self, os.path.join(self.recipe_folder, "CMakeLists.txt"))
        match = re.search(r"project\(\s*warmpool\b[^)]*\bVERSION\s+(\d+\.\d+\.\d+)", cmakelists)
        self.version = match.group(1)

    def layout(self):
        basic_layout(self)

    def package_id(self):
        # Headers only: one package for every configuration.
        self.info.clear()

    def validate(self):
        check_min_cppstd(self, 20)

    def build(self):
        pass

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        copy(
            self,
            "*.hpp",
            os.path.join(self.source_folder, "include"),
            os.path.join(self.package_folder, "include"),
        )

    def package_info(self):
        # The same names as warmpool's own CMake package and pkg-config file.
        self.cpp_info.set_property("cmake_file_name", "warmpool")
        self.cpp_info.set_property("cmake_target_name", "warmpool::warmpool")
        self.cpp_info.set_property("pkg_config_name", "warmpool")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        if self.settings.os in ["Linux", "FreeBSD"]:
            self.cpp_info.system_libs = ["pthread"]

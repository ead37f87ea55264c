# Debian package (.deb) for IP Studio, built with CPack.
#
# include() this file from the top-level CMakeLists.txt after every install() rule:
#
#   include(packaging/cpack_deb.cmake)
#
# then, in the build folder:  cmake --build . --target package   (or: cpack)
#
# The package puts its files under CMAKE_INSTALL_PREFIX, the prefix the binaries were compiled with (they
# look for share/ipstudio/models there), so configure a packaging build with -DCMAKE_INSTALL_PREFIX=/usr.

set(_ips_pkg_dir "${CMAKE_CURRENT_LIST_DIR}")
set(_ips_app_id "io.github.ipstudio.IPStudio")

# --- Desktop integration -------------------------------------------------------------------------------
install(FILES "${_ips_pkg_dir}/${_ips_app_id}.desktop" DESTINATION share/applications)
install(FILES "${_ips_pkg_dir}/${_ips_app_id}.metainfo.xml" DESTINATION share/metainfo)
install(FILES "${_ips_pkg_dir}/ipstudio.svg"
        DESTINATION share/icons/hicolor/scalable/apps
        RENAME "${_ips_app_id}.svg")

# --- Model configuration ---------------------------------------------------------------------------------
# The SD 1.5 configuration (tokenizer vocabulary, component configs; no weights) that
# app/shared/config_root.cpp looks for in ${CMAKE_INSTALL_PREFIX}/share/ipstudio/models/sd15 once the source
# tree is gone. Without it the installed application has no tokenizer. Drop this rule if the project's own
# install rules already install models/.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/models/sd15" DESTINATION share/ipstudio/models)

# --- Package metadata ----------------------------------------------------------------------------------
set(IPS_DEB_MAINTAINER "IP Studio developers <maintainers@ipstudio.invalid>"
    CACHE STRING "Maintainer field of the .deb (Name <email>)")
option(IPS_DEB_SHLIBDEPS "Compute the library dependencies of the .deb with dpkg-shlibdeps (needs dpkg-dev)" OFF)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "ipstudio")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "IP Studio developers")
set(CPACK_PACKAGE_CONTACT "${IPS_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Stable Diffusion with IP-Adapter image prompts")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES ON)  # RelWithDebInfo executables: ~125 MB each with debug info, ~2 MB stripped

set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${IPS_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION "graphics")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_FILE_NAME "DEB-DEFAULT")  # ipstudio_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Control-file description: CPack puts CPACK_PACKAGE_DESCRIPTION_SUMMARY first (the synopsis), indents these
# lines by one space and turns the empty line into " ." (a paragraph break).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "IP Studio is a native desktop application for Stable Diffusion 1.5 driven by
image prompts (IP-Adapter), written in C++ on LibTorch, with no Python.
Drag reference images onto the window, type a prompt, set the image prompt
strength, add a ControlNet structure map, an init image or an inpainting
mask, and watch the picture form step by step. Everything runs locally on
the CPU.

The package contains the desktop application (ipstudio) and the
command-line front end (ipstudio-cli). Model weights are not included.")

# Runtime dependencies on Debian 12 (bookworm). The library packages are the ones that own the shared
# libraries the two executables link (objdump -p NEEDED + dpkg -S); the minimum versions are those
# dpkg-shlibdeps derives from the packages' symbols files.
set(_ips_lib_depends
    "libc6 (>= 2.34)"
    "libgcc-s1 (>= 3.0)"
    "libstdc++6 (>= 11)"
    "libgomp1 (>= 4.9)"
    "libqt6core6 (>= 6.4.0)"
    "libqt6gui6 (>= 6.1.2)"
    "libqt6widgets6 (>= 6.3.0)"
    "libqt6network6 (>= 6.1.2)"
    "libqt6sql6 (>= 6.1.2)"
    "libqt6keychain1 (>= 0.13.2)"
    "libtorch1.13 (>= 1.13.1+dfsg)"
    "libdnnl2 (>= 2.6)"
    "libopencv-core406 (>= 4.6.0+dfsg)"
    "libopencv-imgproc406 (>= 4.6.0+dfsg)"
    "libopencv-imgcodecs406 (>= 4.6.0+dfsg)")
# Not linked directly, needed at run time:
#  - libopenblas0-pthread: LibTorch's BLAS/LAPACK through the libblas.so.3 alternative; with the reference
#    BLAS (libblas3, all libtorch1.13 itself requires) the matmuls are ~34x slower.
#  - qt6-image-formats-plugins: the Qt WebP reader; the window loads pictures with QImageReader and the
#    .desktop file and file dialogs offer WebP (PNG and JPEG readers come with libqt6gui6).
#  - libqt6sql6-sqlite: Qt SQL's SQLite driver (a plugin), which the result library's index opens.
set(_ips_runtime_depends
    "libopenblas0-pthread"
    "qt6-image-formats-plugins"
    "libqt6sql6-sqlite")

if(IPS_DEB_SHLIBDEPS)
  # CPack adds what dpkg-shlibdeps finds (the library list above, same versions) to these.
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  list(JOIN _ips_runtime_depends ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
else()
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
  list(JOIN _ips_lib_depends ", " _ips_lib_depends_joined)
  list(JOIN _ips_runtime_depends ", " _ips_runtime_depends_joined)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_ips_lib_depends_joined}, ${_ips_runtime_depends_joined}")
endif()
# Native Wayland windows (without it Qt runs through XWayland).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "qt6-wayland")

if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "IP Studio .deb: CMAKE_INSTALL_PREFIX is ${CMAKE_INSTALL_PREFIX}; "
                 "configure with -DCMAKE_INSTALL_PREFIX=/usr for a package that installs under /usr")
endif()

unset(_ips_pkg_dir)
unset(_ips_app_id)
unset(_ips_lib_depends)
unset(_ips_runtime_depends)
unset(_ips_lib_depends_joined)
unset(_ips_runtime_depends_joined)

include(CPack)

# Installation layout and the Debian package (CPack DEB):
#   bin/biasscope, bin/biasscope-cli; share/applications (desktop entry), share/icons (scalable icon),
#   share/metainfo (AppStream), share/biasscope/studies (the shipped study files).
# `cmake --install build` installs the same tree; `cd build && cpack -G DEB` makes the package.
# Dependencies: dpkg-shlibdeps computes them from the binaries when it is available (dpkg-dev), plus
# the list below (libraries loaded that the ELF dependencies do not name, e.g. Qt's platform plugins).
install(FILES ${PROJECT_SOURCE_DIR}/resources/studies/ieat-gender.json ${PROJECT_SOURCE_DIR}/resources/studies/ieat-gender-relevance.json
        DESTINATION share/biasscope/studies)
if(BIASSCOPE_BUILD_GUI)
  install(FILES ${PROJECT_SOURCE_DIR}/resources/biasscope.desktop DESTINATION share/applications)
  install(FILES ${PROJECT_SOURCE_DIR}/resources/icons/biasscope.svg DESTINATION share/icons/hicolor/scalable/apps)
  install(FILES ${PROJECT_SOURCE_DIR}/resources/io.github.biasscope.BiasScope.metainfo.xml DESTINATION share/metainfo)
endif()

set(CPACK_PACKAGE_NAME "biasscope")
set(CPACK_PACKAGE_VENDOR "BiasScope")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Audit vision models for bias, neuron by neuron")
set(CPACK_PACKAGE_DESCRIPTION "Desktop application and command line that reproduce two published bias audits of vision models: neuron-level gender bias in a Vision Transformer (LRP relevance, consistency, similarity, t-tests with FDR) and Attention-IoU (GradCAM / relevance maps against masks), with an interactive explorer, worker-thread jobs and publication figure export.")
set(CPACK_PACKAGE_CONTACT "BiasScope developers <biasscope@example.org>")
set(CPACK_GENERATOR "DEB")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "BiasScope developers <biasscope@example.org>")
set(CPACK_DEBIAN_PACKAGE_SECTION "science")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/biasscope/biasscope")
find_program(BIASSCOPE_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(BIASSCOPE_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(BIASSCOPE_DEB_DEPENDS "")
else()  # package names differ between releases (libtorch1.13 / libtorch2.6, ...): only dpkg-shlibdeps knows them
  message(WARNING "dpkg-shlibdeps (dpkg-dev) not found: the .deb will not declare its library dependencies")
  set(BIASSCOPE_DEB_DEPENDS "")
endif()
if(BIASSCOPE_BUILD_GUI)
  # the Qt platform plugins (xcb / wayland) and the SVG icon engine are plugins, not ELF dependencies
  list(APPEND BIASSCOPE_DEB_DEPENDS "qt6-qpa-plugins" "libqt6svg6")
endif()
list(JOIN BIASSCOPE_DEB_DEPENDS ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
include(CPack)

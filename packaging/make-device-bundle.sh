#!/usr/bin/env bash
# Makes the bundle that bench/device-check.sh builds with on a GPU machine that has CUDA, Python and PyTorch
# but none of BiasScope's other dependencies (no Qt, OpenCV or Debian -dev packages). Everything comes from
# this machine's Debian packages, in the versions the main build uses:
#   - OpenCV core / imgproc / imgcodecs (PNG and JPEG only) as static libraries, built from Debian's source
#     package (apt-get source opencv) and linked with Debian's static libpng, libjpeg and zlib;
#   - Qt 6 Core + Test: headers, CMake packages, moc, and the shared libraries with what they load
#     (ICU, PCRE2, ...), copied from the installed binary packages;
#   - headers and CMake packages of Eigen 3, Boost (the headers the code includes, found by the compiler's own
#     dependency scan), nlohmann-json and CLI11;
#   - the shared test data (../shared/data), which the core tests read.
# Output: OUT/device-bundle.tar.xz and OUT/MANIFEST (package versions, SHA-256). Under 64 MiB: it travels with
# the working tree to the device (run's carry). Usage: packaging/make-device-bundle.sh [OUT=.device-bundle]
# Needs: packaging/install-build-deps.sh done, network to deb.debian.org (the OpenCV source, once).
set -euo pipefail
export PATH="/usr/bin:$PATH"  # Debian's cmake and compiler, as the main build
SRC="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$(mkdir -p "${1:-$SRC/.device-bundle}" && cd "${1:-$SRC/.device-bundle}" && pwd)"
WORK="${BIASSCOPE_BUNDLE_WORK:-$HOME/.cache/biasscope/device-bundle-work}"
ARCH="$(dpkg-architecture -qDEB_HOST_MULTIARCH)"
CODENAME="$(. /etc/os-release && echo "$VERSION_CODENAME")"
mkdir -p "$WORK"
STAGE="$WORK/stage/bundle"
rm -rf "$WORK/stage" && mkdir -p "$STAGE/usr"

# 1. OpenCV: static core + imgproc + imgcodecs from Debian's source package
OCV_VER="$(dpkg-query -W -f '${source:Version}' libopencv-core-dev)"
OCV_RECIPE=2  # raised when the OpenCV build below changes (2: WebP, which the shared ieat-gender images need)
OCV_PREFIX="$WORK/opencv-$OCV_VER-static-r$OCV_RECIPE"
if [ ! -f "$OCV_PREFIX/.done" ]; then
  mkdir -p "$WORK/apt/lists/partial" "$WORK/src"
  echo "deb-src http://deb.debian.org/debian $CODENAME main" > "$WORK/apt/sources.list"
  APT=(-o Dir::Etc::SourceList="$WORK/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$WORK/apt/lists")
  apt-get "${APT[@]}" update >/dev/null
  (cd "$WORK/src" && apt-get "${APT[@]}" source --download-only "opencv=$OCV_VER" >/dev/null)
  rm -rf "$WORK/src/opencv" && mkdir -p "$WORK/src/opencv"
  tar -xJf "$WORK"/src/opencv_*.orig.tar.xz -C "$WORK/src/opencv" --strip-components=1
  L=/usr/lib/$ARCH
  cmake -S "$WORK/src/opencv" -B "$WORK/src/opencv-build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$OCV_PREFIX" \
    -DBUILD_SHARED_LIBS=OFF -DBUILD_LIST=core,imgproc,imgcodecs -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DWITH_PNG=ON -DWITH_JPEG=ON -DBUILD_PNG=OFF -DBUILD_JPEG=OFF -DBUILD_ZLIB=OFF \
    -DPNG_LIBRARY_RELEASE=$L/libpng16.a -DPNG_PNG_INCLUDE_DIR=/usr/include -DJPEG_LIBRARY_RELEASE=$L/libjpeg.a -DJPEG_INCLUDE_DIR=/usr/include \
    -DZLIB_LIBRARY_RELEASE=$L/libz.a -DZLIB_INCLUDE_DIR=/usr/include \
    -DWITH_WEBP=ON -DBUILD_WEBP=OFF -DWEBP_LIBRARY=$L/libwebp.a -DWEBP_INCLUDE_DIR=/usr/include \
    -DWITH_TIFF=OFF -DWITH_OPENEXR=OFF -DWITH_OPENJPEG=OFF -DWITH_JASPER=OFF -DWITH_GDAL=OFF -DWITH_GDCM=OFF \
    -DWITH_IMGCODEC_HDR=OFF -DWITH_IMGCODEC_SUNRASTER=OFF -DWITH_IMGCODEC_PXM=OFF -DWITH_IMGCODEC_PFM=OFF \
    -DWITH_IPP=OFF -DWITH_ITT=OFF -DWITH_TBB=OFF -DWITH_OPENMP=OFF -DWITH_OPENCL=OFF -DWITH_LAPACK=OFF -DWITH_EIGEN=OFF -DWITH_PROTOBUF=OFF \
    -DWITH_QUIRC=OFF -DWITH_ADE=OFF -DWITH_VA=OFF -DWITH_GTK=OFF -DWITH_QT=OFF -DWITH_1394=OFF -DWITH_FFMPEG=OFF -DWITH_GSTREAMER=OFF -DWITH_V4L=OFF \
    -DBUILD_TESTS=OFF -DBUILD_PERF_TESTS=OFF -DBUILD_EXAMPLES=OFF -DBUILD_opencv_apps=OFF -DBUILD_JAVA=OFF -DBUILD_opencv_python3=OFF -DBUILD_DOCS=OFF \
    -DOPENCV_GENERATE_PKGCONFIG=OFF -DCV_TRACE=OFF >"$WORK/opencv-configure.log"
  cmake --build "$WORK/src/opencv-build" -j"$(nproc)" >"$WORK/opencv-build.log"
  rm -rf "$OCV_PREFIX" && cmake --install "$WORK/src/opencv-build" >/dev/null
  # the static libraries it needs, inside the prefix, and its CMake package pointing there (relocatable)
  mkdir -p "$OCV_PREFIX/lib/deps"
  cp $L/libpng16.a $L/libjpeg.a $L/libz.a $L/libwebp.a "$OCV_PREFIX/lib/deps/"
  grep -rl "$L/lib\(png16\|jpeg\|z\|webp\)\.a" "$OCV_PREFIX/lib/cmake" | xargs -r sed -i \
    -e "s|$L/libpng16.a|\${_IMPORT_PREFIX}/lib/deps/libpng16.a|g" -e "s|$L/libjpeg.a|\${_IMPORT_PREFIX}/lib/deps/libjpeg.a|g" \
    -e "s|$L/libz.a|\${_IMPORT_PREFIX}/lib/deps/libz.a|g" -e "s|$L/libwebp.a|\${_IMPORT_PREFIX}/lib/deps/libwebp.a|g"
  touch "$OCV_PREFIX/.done"
fi
cp -a "$OCV_PREFIX" "$STAGE/opencv" && rm -f "$STAGE/opencv/.done"
rm -rf "$STAGE/opencv/share" "$STAGE/opencv/bin"

# 2. Qt 6 Core + Test: the installed files of their packages (CMake packages of Core / CoreTools / Test and the
#    umbrella Qt6 ones, headers, moc), then the shared libraries they load
copy_path() { mkdir -p "$STAGE$(dirname "$1")"; cp -a "$1" "$STAGE$1"; }
QT_INC=/usr/include/$ARCH/qt6
for d in QtCore QtTest; do copy_path "$QT_INC/$d"; done
for f in "$QT_INC"/*.h; do [ -e "$f" ] && copy_path "$f"; done
for d in /usr/lib/$ARCH/cmake/Qt6 /usr/lib/$ARCH/cmake/Qt6Core /usr/lib/$ARCH/cmake/Qt6CoreTools /usr/lib/$ARCH/cmake/Qt6Test \
         /usr/lib/$ARCH/cmake/Qt6HostInfo /usr/lib/$ARCH/cmake/Qt6BuildInternals; do
  [ -d "$d" ] && copy_path "$d"
done
[ -d /usr/lib/$ARCH/qt6/mkspecs ] && copy_path /usr/lib/$ARCH/qt6/mkspecs/linux-g++ && copy_path /usr/lib/$ARCH/qt6/mkspecs/common
for f in /usr/lib/$ARCH/qt6/mkspecs/*.pri /usr/lib/$ARCH/qt6/metatypes/qt6core_*.json /usr/lib/$ARCH/qt6/metatypes/qt6test_*.json; do [ -e "$f" ] && copy_path "$f"; done
# every tool the CoreTools package imports (moc, rcc, tracegen, cmake_automoc_parser, qlalr, qtpaths, qmake): CMake checks
# that each imported file that exists here exists there too, so a missing one fails the configure
tools=""
for t in $(sed -n 's|.*"${_IMPORT_PREFIX}\(/[^"]*\)".*|/usr\1|p' /usr/lib/$ARCH/cmake/Qt6CoreTools/Qt6CoreToolsTargets-*.cmake | sort -u); do
  [ -e "$t" ] || continue
  copy_path "$t"
  [ -L "$t" ] && copy_path "$(readlink -f "$t")"
  tools="$tools $(readlink -f "$t")"
done
[ -n "$tools" ] || { echo "make-device-bundle: no Qt tools found in Qt6CoreToolsTargets" >&2; exit 1; }
# shared libraries: Qt Core / Test and everything they and the tools load, but the C and C++ runtimes every machine has
libs="$( (ldd /usr/lib/$ARCH/libQt6Core.so.6; ldd /usr/lib/$ARCH/libQt6Test.so.6; for t in $tools; do ldd "$t"; done) | awk '/=>/ {print $3}' | sort -u)"
for l in /usr/lib/$ARCH/libQt6Core.so.6 /usr/lib/$ARCH/libQt6Test.so.6 $libs; do
  case "$(basename "$l")" in libc.so*|libm.so*|libstdc++.so*|libgcc_s.so*|ld-linux*|libdl.so*|libpthread.so*|librt.so*) continue ;; esac
  real="$(readlink -f "$l")"
  mkdir -p "$STAGE/usr/lib/$ARCH"
  cp -a "$real" "$STAGE/usr/lib/$ARCH/"
  ln -sf "$(basename "$real")" "$STAGE/usr/lib/$ARCH/$(basename "$l")"
done
for n in Core Test; do ln -sf libQt6$n.so.6 "$STAGE/usr/lib/$ARCH/libQt6$n.so"; done

# 3. header-only libraries with their CMake packages
copy_path /usr/include/eigen3
copy_path /usr/share/eigen3/cmake
copy_path /usr/include/nlohmann
copy_path /usr/share/cmake/nlohmann_json
[ -d /usr/include/CLI ] && copy_path /usr/include/CLI
for d in /usr/share/cmake/CLI11 /usr/lib/$ARCH/cmake/CLI11; do [ -d "$d" ] && copy_path "$d"; done
BOOST_VER="$(dpkg-query -W -f '${Version}' libboost-dev 2>/dev/null || dpkg-query -W -f '${Version}' libboost-math-dev)"
for d in /usr/lib/$ARCH/cmake/Boost-* /usr/lib/$ARCH/cmake/boost_headers-* /usr/lib/$ARCH/cmake/BoostDetectToolset-*; do [ -d "$d" ] && copy_path "$d"; done
# the Boost headers BiasScope includes, transitively: the compiler lists them
boost_sources="$(grep -rl '#include <boost' "$SRC/core" "$SRC/app" "$SRC/ui" "$SRC/tests" "$SRC/bench" || true)"
for s in $boost_sources; do
  g++ -std=c++17 -M -I"$SRC/core" -I/usr/include/eigen3 "$s" | tr ' \\' '\n\n' | grep '^/usr/include/boost/' || true
done | sort -u | while read -r h; do copy_path "$h"; done

# 4. the shared test data beside the repository (it does not travel to the device by itself)
if [ -d "$SRC/../shared/data" ]; then
  mkdir -p "$STAGE/shared-data"
  for d in ieat-gender reference-study stats-golden.json; do [ -e "$SRC/../shared/data/$d" ] && cp -a "$SRC/../shared/data/$d" "$STAGE/shared-data/"; done
fi

# 5. pack, with a manifest
{
  echo "BiasScope device bundle, made $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release && echo "$PRETTY_NAME") ($ARCH)"
  echo "opencv (static, core imgproc imgcodecs; png jpeg) from source package $OCV_VER"
  dpkg-query -W -f '${Package} ${Version}\n' libqt6core6 qt6-base-dev libeigen3-dev nlohmann-json3-dev libcli11-dev libpng-dev libjpeg62-turbo-dev zlib1g-dev 2>/dev/null || true
  echo "boost headers $BOOST_VER: $(find "$STAGE/usr/include/boost" -type f | wc -l) files"
} > "$STAGE/MANIFEST"
tar -C "$WORK/stage" -cf - bundle | xz -6 -T"$(nproc)" > "$OUT/device-bundle.tar.xz.tmp"
mv "$OUT/device-bundle.tar.xz.tmp" "$OUT/device-bundle.tar.xz"
cp "$STAGE/MANIFEST" "$OUT/MANIFEST"
echo "sha256 $(sha256sum "$OUT/device-bundle.tar.xz" | cut -d' ' -f1)" >> "$OUT/MANIFEST"
size=$(stat -c %s "$OUT/device-bundle.tar.xz")
echo "device bundle: $OUT/device-bundle.tar.xz ($((size / 1024 / 1024)) MiB)"
[ "$size" -lt $((64 * 1024 * 1024)) ] || { echo "make-device-bundle: the bundle is over 64 MiB" >&2; exit 1; }

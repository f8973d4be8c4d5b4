#include "io/HashCache.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

#include "common/Error.h"
#include "io/AtomicFile.h"
#include "io/Sha256.h"

namespace biasscope::io {

namespace fs = std::filesystem;

std::string cacheDir() {
    if (const char* d = std::getenv("BIASSCOPE_CACHE_DIR"); d && *d) return d;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "biasscope").string();
    if (const char* h = std::getenv("HOME"); h && *h) return (fs::path(h) / ".cache" / "biasscope").string();
    return {};
}

std::string cachedSha256FileHex(const std::string& path) {
    const char* off = std::getenv("BIASSCOPE_HASH_CACHE");
    const std::string dir = cacheDir();
    struct stat st {};
    if ((off && std::string(off) == "0") || dir.empty() || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return sha256FileHex(path);
    std::error_code ec;
    const fs::path canonical = fs::canonical(path, ec);
    if (ec) return sha256FileHex(path);
    const std::string key = canonical.string() + "\n" + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
                            std::to_string(st.st_mtim.tv_nsec) + " " + std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec) + " " +
                            std::to_string(st.st_ino) + " " + std::to_string(st.st_dev) + "\n";
    const fs::path entry = fs::path(dir) / "sha256" / (sha256Hex(key).substr(0, 32) + ".txt");
    {
        std::ifstream in(entry, std::ios::binary);
        if (in) {
            std::string stored((std::istreambuf_iterator<char>(in)), {});
            if (stored.size() == key.size() + 65 && stored.compare(0, key.size(), key) == 0 && stored.back() == '\n') {
                const std::string hex = stored.substr(key.size(), 64);
                if (hex.find_first_not_of("0123456789abcdef") == std::string::npos) return hex;
            }
        }
    }
    const std::string hex = sha256FileHex(path);
    try {
        fs::create_directories(entry.parent_path());
        writeFileAtomically(entry.string(), key + hex + "\n");
    } catch (const std::exception&) {
        // read-only home, full disk: the hash is still right, only not remembered
    }
    return hex;
}

}  // namespace biasscope::io

#include "io/AtomicFile.h"

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <regex>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "common/Error.h"

namespace biasscope::io {

namespace {

std::string hostName() {
    char buf[256] = {0};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "host";
    std::string h(buf);
    for (auto& c : h)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return h.empty() ? "host" : h;
}

bool processAlive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

// Fault injection for the interruption tests (tests/cli/interruptions.py): BIASSCOPE_FAULT_INJECT="N:before-rename"
// ends the process as SIGKILL would (exit 137, no cleanup) when the Nth atomic write of this process has its
// temporary complete but not renamed; "N:after-rename" right after the Nth file is in place.
struct FaultPlan {
    int n = 0;
    bool beforeRename = false;
    FaultPlan() {
        const char* v = std::getenv("BIASSCOPE_FAULT_INJECT");
        if (!v) return;
        const std::string s(v);
        const auto colon = s.find(':');
        if (colon == std::string::npos) return;
        n = std::atoi(s.substr(0, colon).c_str());
        beforeRename = s.substr(colon + 1) == "before-rename";
    }
};

void maybeFault(bool beforeRename) {
    static const FaultPlan plan;
    static std::atomic<int> writes{0};
    if (plan.n <= 0) return;
    if (beforeRename) ++writes;
    if (writes.load() == plan.n && beforeRename == plan.beforeRename) ::_exit(137);
}

}  // namespace

std::string temporaryPathFor(const std::string& path) {
    static const std::string host = hostName();
    return path + ".tmp-" + host + "-" + std::to_string(::getpid());
}

int removeStaleTemporaries(const std::string& dir) {
    namespace fs = std::filesystem;
    static const std::string host = hostName();
    static const std::regex pattern(R"(.*\.tmp-(?:([A-Za-z0-9_]+)-)?([0-9]+)$)");
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return 0;
    int removed = 0;
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        std::smatch m;
        const std::string name = it->path().filename().string();
        if (!std::regex_match(name, m, pattern)) continue;
        const long pid = std::stol(m[2].str().substr(0, 9));
        bool stale = false;
        if (!m[1].matched || m[1].str() == host) {
            stale = !processAlive(pid);
        } else {
            const auto age = fs::file_time_type::clock::now() - fs::last_write_time(it->path(), ec);
            stale = !ec && age > std::chrono::hours(24);
        }
        if (stale && fs::remove(it->path(), ec)) ++removed;
    }
    return removed;
}

void writeFileAtomically(const std::string& path, std::string_view bytes) {
    namespace fs = std::filesystem;
    const fs::path target(path);
    if (target.has_parent_path()) {
        std::error_code ec;
        fs::create_directories(target.parent_path(), ec);
    }
    const std::string tmp = temporaryPathFor(path);
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw Error(path + ": cannot open for writing");
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        out.flush();
        if (!out) {
            std::remove(tmp.c_str());
            throw Error(path + ": write failed (disk full?)");
        }
    }
    maybeFault(true);
    std::error_code ec;
    fs::rename(tmp, target, ec);
    if (ec) {
        std::remove(tmp.c_str());
        throw Error(path + ": cannot move finished file into place: " + ec.message());
    }
    maybeFault(false);
}

}  // namespace biasscope::io

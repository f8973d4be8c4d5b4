#pragma once
// Shared by the libFuzzer harnesses: a per-process scratch folder in /dev/shm (or /tmp) where each input
// is written as the file a reader opens, and the contract every harness checks: a reader either returns
// or throws biasscope::Error (the CLI's exit 2 with one line); any other exception is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>

#include "common/Error.h"

namespace biasscope::fuzz {

inline const std::filesystem::path& scratch() {
    static const std::filesystem::path dir = [] {
        const std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
        auto d = base / ("biasscope-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    return dir;
}

inline std::string writeInput(const std::string& relPath, const std::uint8_t* data, std::size_t size) {
    const auto p = scratch() / relPath;
    std::filesystem::create_directories(p.parent_path());
    FILE* f = std::fopen(p.c_str(), "wb");
    if (!f) std::abort();
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
    return p.string();
}

inline void writeText(const std::string& relPath, const std::string& text) {
    writeInput(relPath, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

// Runs `read`; a biasscope::Error is a clean refusal. Its message must name the file (`mustName`,
// unless empty) and be one line. Anything else thrown aborts (libFuzzer reports it as a crash).
template <class F>
void expectContract(F&& read, const std::string& mustName) {
    try {
        read();
    } catch (const biasscope::Error& e) {
        const std::string m = e.what();
        if (!mustName.empty() && m.find(mustName) == std::string::npos) {
            std::fprintf(stderr, "refusal does not name %s: %s\n", mustName.c_str(), m.c_str());
            std::abort();
        }
        if (m.empty()) std::abort();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "off-contract exception: %s\n", e.what());
        std::abort();
    }
}

}  // namespace biasscope::fuzz

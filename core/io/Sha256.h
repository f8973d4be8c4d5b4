#pragma once
// SHA-256 (FIPS 180-4) of files and byte strings, used to fingerprint models and images in outputs.
#include <string>
#include <string_view>

namespace biasscope::io {

std::string sha256Hex(std::string_view bytes);
std::string sha256FileHex(const std::string& path);  // throws Error naming the file if unreadable

}  // namespace biasscope::io

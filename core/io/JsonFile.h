#pragma once
// Reading a JSON file with errors that name the file (used by every JSON input format).
#include <string>

#include <nlohmann/json.hpp>

namespace biasscope::io {

// Throws InputError "<path>: cannot open <what>" or "<path>: not valid JSON: ...".
nlohmann::json readJsonFile(const std::string& path, const std::string& what);

}  // namespace biasscope::io

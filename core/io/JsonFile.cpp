#include "io/JsonFile.h"

#include <fstream>

#include "common/Error.h"

namespace biasscope::io {

nlohmann::json readJsonFile(const std::string& path, const std::string& what) {
    std::ifstream in(path);
    if (!in) throw InputError(path + ": cannot open " + what);
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw InputError(path + ": not valid JSON: " + e.what());
    }
}

}  // namespace biasscope::io

#pragma once
// Reading JSON input with errors that name the file and the field (used by every JSON input format).
// Nesting deeper than kMaxJsonDepth is refused while parsing (deep input would overflow the stack of
// every later recursive walk, e.g. dump()).
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace biasscope::io {

constexpr int kMaxJsonDepth = 64;

// Throws InputError "<path>: cannot open <what>", "<path>: not valid JSON: ..." or
// "<path>: JSON nested deeper than 64 levels".
nlohmann::json readJsonFile(const std::string& path, const std::string& what);
// The same for JSON held in memory; `where` names its source in the messages (a file, a header).
nlohmann::json parseJsonText(const std::string& text, const std::string& where);

// Typed fields with messages that name the field: "<where>: '<key>' missing" or
// "<where>: '<key>' must be <type>, found <json>". `where` is e.g. "study.json: image_sets[2]".
const nlohmann::json& jsonField(const nlohmann::json& obj, const std::string& key, const std::string& where);
std::string jsonString(const nlohmann::json& obj, const std::string& key, const std::string& where);
std::string jsonString(const nlohmann::json& obj, const std::string& key, const std::string& where, const std::string& fallback);
// An integer in [lo, hi]: JSON numbers with a fraction (1.7) and out-of-range values (2^32 + 1) are refused.
std::int64_t jsonInt(const nlohmann::json& obj, const std::string& key, const std::string& where, std::int64_t lo, std::int64_t hi);
std::int64_t jsonInt(const nlohmann::json& obj, const std::string& key, const std::string& where, std::int64_t lo, std::int64_t hi, std::int64_t fallback);
// A finite number in [lo, hi].
double jsonNumber(const nlohmann::json& obj, const std::string& key, const std::string& where, double lo, double hi, double fallback);
// The text of a JSON library error for a user: without the "[json.exception.x.N] " tag and the input's bytes.
std::string jsonErrorText(const nlohmann::json::exception& e);
// A value's JSON text for messages, cut to 40 characters.
std::string jsonShort(const nlohmann::json& v);

}  // namespace biasscope::io

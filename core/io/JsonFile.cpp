#include "io/JsonFile.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "common/Error.h"

namespace biasscope::io {

namespace {

struct TooDeep {};

nlohmann::json parseBounded(std::istream& in, const std::string& where) {
    // the callback sees the depth of every value as it is parsed: refuse before anything deep is built
    auto bound = [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > kMaxJsonDepth) throw TooDeep{};
        return true;
    };
    try {
        return nlohmann::json::parse(in, bound);
    } catch (const TooDeep&) {
        throw InputError(where + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    } catch (const nlohmann::json::exception& e) {
        throw InputError(where + ": not valid JSON: " + jsonErrorText(e));
    }
}

}  // namespace

std::string jsonErrorText(const nlohmann::json::exception& e) {
    std::string what = e.what();
    if (const auto p = what.find("] "); what.rfind("[json.exception", 0) == 0 && p != std::string::npos) what = what.substr(p + 2);
    if (const auto p = what.find("; last read:"); p != std::string::npos) what = what.substr(0, p);  // never echo the input's bytes
    for (auto& c : what)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    if (what.size() > 200) what = what.substr(0, 200) + "...";
    return what;
}

nlohmann::json readJsonFile(const std::string& path, const std::string& what) {
    std::ifstream in(path);
    if (!in) throw InputError(path + ": cannot open " + what);
    return parseBounded(in, path);
}

nlohmann::json parseJsonText(const std::string& text, const std::string& where) {
    std::istringstream in(text);
    return parseBounded(in, where);
}

std::string jsonShort(const nlohmann::json& v) {
    std::string s = v.dump();
    if (s.size() > 40) s = s.substr(0, 37) + "...";
    return s;
}

const nlohmann::json& jsonField(const nlohmann::json& obj, const std::string& key, const std::string& where) {
    if (!obj.is_object()) throw InputError(where + ": expected an object with '" + key + "', found " + jsonShort(obj));
    const auto it = obj.find(key);
    if (it == obj.end()) throw InputError(where + ": '" + key + "' missing");
    return *it;
}

std::string jsonString(const nlohmann::json& obj, const std::string& key, const std::string& where) {
    const auto& v = jsonField(obj, key, where);
    if (!v.is_string()) throw InputError(where + ": '" + key + "' must be a string, found " + jsonShort(v));
    return v.get<std::string>();
}

std::string jsonString(const nlohmann::json& obj, const std::string& key, const std::string& where, const std::string& fallback) {
    if (!obj.is_object() || !obj.contains(key) || obj.at(key).is_null()) return fallback;
    return jsonString(obj, key, where);
}

std::int64_t jsonInt(const nlohmann::json& obj, const std::string& key, const std::string& where, std::int64_t lo, std::int64_t hi) {
    const auto& v = jsonField(obj, key, where);
    const std::string range = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    std::int64_t x = 0;
    if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(hi)) throw InputError(where + ": '" + key + "' must be " + range + ", found " + jsonShort(v));
        x = static_cast<std::int64_t>(u);
    } else if (v.is_number_integer()) {
        x = v.get<std::int64_t>();
    } else {
        throw InputError(where + ": '" + key + "' must be " + range + ", found " + jsonShort(v));
    }
    if (x < lo || x > hi) throw InputError(where + ": '" + key + "' must be " + range + ", found " + jsonShort(v));
    return x;
}

std::int64_t jsonInt(const nlohmann::json& obj, const std::string& key, const std::string& where, std::int64_t lo, std::int64_t hi, std::int64_t fallback) {
    if (!obj.is_object() || !obj.contains(key) || obj.at(key).is_null()) return fallback;
    return jsonInt(obj, key, where, lo, hi);
}

double jsonNumber(const nlohmann::json& obj, const std::string& key, const std::string& where, double lo, double hi, double fallback) {
    if (!obj.is_object() || !obj.contains(key) || obj.at(key).is_null()) return fallback;
    const auto& v = obj.at(key);
    std::ostringstream range;
    range << "a number in [" << lo << ", " << hi << "]";
    if (!v.is_number()) throw InputError(where + ": '" + key + "' must be " + range.str() + ", found " + jsonShort(v));
    const double x = v.get<double>();
    if (!std::isfinite(x) || x < lo || x > hi) throw InputError(where + ": '" + key + "' must be " + range.str() + ", found " + jsonShort(v));
    return x;
}

}  // namespace biasscope::io

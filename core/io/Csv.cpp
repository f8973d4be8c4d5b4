#include "io/Csv.h"

#include "common/Error.h"

namespace biasscope::io {

std::string csvField(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

std::vector<std::vector<std::string>> parseCsv(const std::string& text, const std::string& what) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false, any = false;
    int line = 1, recordLine = 1;
    auto endRecord = [&] {
        row.push_back(std::move(field));
        field.clear();
        if (!rows.empty() && row.size() != rows.front().size())
            throw InputError(what + ": line " + std::to_string(recordLine) + " has " + std::to_string(row.size()) + " fields, the header " +
                             std::to_string(rows.front().size()));
        rows.push_back(std::move(row));
        row.clear();
        any = false;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"') {
                if (i + 1 < text.size() && text[i + 1] == '"') {
                    field += '"';
                    ++i;
                } else {
                    quoted = false;
                }
            } else {
                if (c == '\n') ++line;
                field += c;
            }
            continue;
        }
        if (c == '"' && field.empty()) {
            quoted = any = true;
        } else if (c == ',') {
            row.push_back(std::move(field));
            field.clear();
            any = true;
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
            if (any || !field.empty() || !row.empty()) endRecord();
            recordLine = ++line;
        } else {
            field += c;
            any = true;
        }
    }
    if (quoted) throw InputError(what + ": unterminated quoted field starting on line " + std::to_string(recordLine));
    if (any || !field.empty() || !row.empty()) endRecord();
    return rows;
}

}  // namespace biasscope::io

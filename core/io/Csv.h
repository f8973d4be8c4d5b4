#pragma once
// CSV as BiasScope writes it (RFC 4180): a field is quoted when it holds a comma, a quote or a line
// break, quotes doubled inside. The reader accepts exactly that (quoted fields may span lines).
#include <string>
#include <vector>

namespace biasscope::io {

std::string csvField(const std::string& s);

// Every record of `text`; the first is the header. Throws InputError naming `what` and the line of an
// unterminated quote or a record whose field count differs from the header's.
std::vector<std::vector<std::string>> parseCsv(const std::string& text, const std::string& what);

}  // namespace biasscope::io

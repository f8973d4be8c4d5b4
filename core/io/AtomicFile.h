#pragma once
// Atomic file writes: data goes to "<path>.tmp-<pid>" and is renamed over `path` only when complete,
// so a cancelled or crashed job never leaves a half-written result behind.
#include <string>
#include <string_view>

namespace biasscope::io {

void writeFileAtomically(const std::string& path, std::string_view bytes);

}  // namespace biasscope::io

#pragma once
// Atomic file writes: data goes to "<path>.tmp-<host>-<pid>" and is renamed over `path` only when complete,
// so a cancelled or crashed job never leaves a half-written result behind. A process killed inside the write
// window leaves its temporary file: removeStaleTemporaries() clears those of dead processes.
#include <string>
#include <string_view>

namespace biasscope::io {

void writeFileAtomically(const std::string& path, std::string_view bytes);
// The temporary name writeFileAtomically uses for `path` in this process.
std::string temporaryPathFor(const std::string& path);
// Removes, under `dir` (recursively), temporaries left by killed writers: those of this host whose process is
// gone, the older "<path>.tmp-<pid>" ones likewise, and other hosts' ones older than a day (a shared store).
// Live writers (concurrent shards) are left alone. Returns how many were removed.
int removeStaleTemporaries(const std::string& dir);

}  // namespace biasscope::io

#pragma once
// SHA-256 of a file, remembered across runs: model provenance needs the weights' hash, and hashing a
// ViT-B/16 checkpoint (346 MB) costs about a second, more than the relevance of one image. An entry is keyed
// on the file's canonical path, size, modification and status-change times (nanoseconds), inode and device,
// so any rewrite of the file misses the cache. Entries are small files under cacheDir() written atomically,
// so concurrent processes (Slurm shards) share them safely; a damaged entry is ignored and rewritten.
#include <string>

namespace biasscope::io {

// $BIASSCOPE_CACHE_DIR, else $XDG_CACHE_HOME/biasscope, else $HOME/.cache/biasscope; "" when none is set.
std::string cacheDir();

// sha256FileHex(path), from the cache when the file is unchanged. BIASSCOPE_HASH_CACHE=0 turns the cache off.
// A cache that cannot be written is not an error (the hash is computed and returned).
std::string cachedSha256FileHex(const std::string& path);

}  // namespace biasscope::io

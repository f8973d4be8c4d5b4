#pragma once
// Parser and validator of the safetensors container header. Plain C++ (no LibTorch) so that it can
// be fuzzed on its own. Format: u64 little-endian header length N, N bytes of JSON, then the data
// buffer; each tensor names dtype, shape and [begin, end) offsets into the data buffer.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/Error.h"

namespace biasscope::io {

enum class SafetensorsDType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

std::size_t dtypeSize(SafetensorsDType dtype);
const char* dtypeName(SafetensorsDType dtype);

struct SafetensorsEntry {
    std::string name;
    SafetensorsDType dtype = SafetensorsDType::F32;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0;  // offsets relative to the data buffer
    std::uint64_t end = 0;
    std::uint64_t numel() const;
};

struct SafetensorsHeader {
    std::map<std::string, std::string> metadata;
    std::vector<SafetensorsEntry> entries;  // in file-offset order
    std::uint64_t dataOffset = 0;           // 8 + header length
    const SafetensorsEntry* find(const std::string& name) const;
};

class SafetensorsError : public Error {
public:
    enum class Kind {
        Truncated,          // shorter than 8 bytes, or header / data cut off
        HeaderTooLarge,     // header length absurd (> 100 MB) or beyond the file
        InvalidJson,        // header is not a JSON object
        InvalidEntry,       // entry lacks dtype/shape/data_offsets or has wrong JSON types
        UnknownDType,       // dtype string not in the safetensors set
        InvalidShape,       // negative or overflowing dimensions
        SizeMismatch,       // end - begin != numel * dtype size
        OutOfRange,         // data_offsets beyond the data buffer, or begin > end
        Overlap,            // two tensors share bytes
        InvalidMetadata,    // __metadata__ is not a string->string map
        Io                  // the file cannot be opened / mapped / written
    };
    SafetensorsError(Kind kind, const std::string& source, const std::string& detail);
    Kind kind() const { return kind_; }
    static const char* kindName(Kind kind);

private:
    Kind kind_;
};

inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100ull * 1024 * 1024;

// Parses and validates the header of a complete safetensors byte image of `size` bytes.
// `source` names the file in error messages.
SafetensorsHeader parseSafetensorsHeader(const std::uint8_t* data, std::size_t size, const std::string& source);

}  // namespace biasscope::io

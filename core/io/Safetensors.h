#pragma once
// Safetensors files as LibTorch tensors: memory-mapped, validated read and atomic write.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "io/SafetensorsHeader.h"

namespace biasscope::io {

struct SafetensorsContents {
    std::map<std::string, std::string> metadata;
    std::vector<std::pair<std::string, at::Tensor>> tensors;  // file-offset order, CPU, owned memory
};

// Reads every tensor (in its stored dtype) from a safetensors file; throws SafetensorsError naming
// the file and the problem.
SafetensorsContents readSafetensors(const std::string& path);

// Reads only the named tensors (and the metadata); a missing name throws SafetensorsError naming it.
// Touches only those tensors' pages of the mapped file.
SafetensorsContents readSafetensorsSelected(const std::string& path, const std::vector<std::string>& names);

// Reads only the header (names, dtypes, shapes, metadata) without touching tensor data.
SafetensorsHeader readSafetensorsHeader(const std::string& path);

// Writes tensors (any device/layout; stored contiguous, CPU) atomically: temp file + rename.
void writeSafetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace biasscope::io
